"""Training questions synthesized from the graph (``kgfm questions``); sits after the store.

Python API::

    from kgfm.questions import QuestionsConfig, build_questions, generate_questions
    build_questions(StoreConfig(path=".kgfm/graph.lbug"), Path("runs/questions"), QuestionsConfig(topics=2000))
"""

from kgfm.questions.build import build_questions
from kgfm.questions.generate import QuestionsConfig, generate_questions

__all__ = ["QuestionsConfig", "build_questions", "generate_questions"]
