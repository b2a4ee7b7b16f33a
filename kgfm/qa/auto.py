"""``kgfm auto``: a store to a QA model with no hand-written question.

Generated questions (:mod:`kgfm.questions`) first (cheap, so a graph they cannot be made from fails
before any training), then the graph encoder and its FAISS index, then the QA fine-tune on the
generated questions with one of two recipes:

* ``frozen``: cached MiniLM question vectors, the answer scorer trained alone (minutes on a CPU);
* ``fusion``: MiniLM fine-tuned end to end with its fusion layers.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, Mapping, Optional

from kgfm.config import ConfigError, StoreConfig
from kgfm.questions.build import build_questions
from kgfm.questions.generate import QuestionsConfig

ENCODERS = ("frozen", "fusion")
# stage name ("questions", "graph", "finetune"), output folder, what it returned, seconds it took
StageHook = Callable[[str, Path, dict[str, Any], float], None]


def store_overrides(store: StoreConfig) -> dict[str, Any]:
    """The store every stage reads, as config values."""
    return {"store.backend": store.backend, "store.path": str(store.path)}


def finetune_overrides(store: StoreConfig, out: Path, hops: int, encoder: str, qa_minutes: float) -> dict[str, Any]:
    """The fine-tune config values of the ``encoder`` recipe (module docstring) on ``out``'s questions and index."""
    if encoder not in ENCODERS:
        raise ConfigError(f"encoder {encoder!r}: expected frozen or fusion")
    frozen = encoder == "frozen"
    return {
        **store_overrides(store), "index": str(out / "graph" / "index"), "run.output_dir": str(out / "qa"),
        "data.dataset": "files", "data.train": str(out / "questions" / "train.txt"),
        "data.valid": str(out / "questions" / "valid.txt"), "data.hops": hops, "scorer.max_hops": hops,
        "encoder.kind": "plain" if frozen else "fusion", "encoder.freeze": frozen,
        "train.epochs": 40 if frozen else 4, "train.patience": 6 if frozen else 1,
        "run.max_minutes": qa_minutes, "optim.head_lr": 3e-3,
    }


def run_auto(store: StoreConfig, out: Path, questions: QuestionsConfig, relation_text: Optional[Path] = None,
             encoder: str = "frozen", graph_minutes: float = 10.0, qa_minutes: float = 20.0,
             overrides: Optional[Mapping[str, Any]] = None, on_stage: Optional[StageHook] = None) -> dict[str, Any]:
    """Questions -> graph encoder + index -> QA fine-tune, into ``out/questions``, ``out/graph``, ``out/qa``.

    Args:
        store: The graph store to read (opened read-only by each stage).
        out: Output folder.
        questions: Generation settings; the model answers up to ``max(questions.hops)`` hops.
        relation_text: Optional ``id<TAB>text`` file with relation wording.
        encoder: ``frozen`` or ``fusion`` (module docstring).
        graph_minutes: Time budget of the graph encoder stage.
        qa_minutes: Time budget of the QA fine-tune.
        overrides: Fine-tune config values (dotted keys, as ``--set``) over the recipe's.
        on_stage: Called after each stage (the CLI prints its summary table).

    Returns:
        ``{"questions": summary, "graph": metrics, "finetune": metrics, "model": path of the QA model}``.
    """
    out = Path(out)
    qa = finetune_overrides(store, out, max(questions.hops), encoder, qa_minutes)  # a bad encoder fails first
    done: dict[str, Any] = {}

    def stage(name: str, folder: Path, run: Callable[[], dict[str, Any]]) -> None:
        started = time.perf_counter()
        done[name] = run()
        if on_stage is not None:
            on_stage(name, folder, done[name], time.perf_counter() - started)

    from kgfm.index.build import main as graph_stage
    from kgfm.qa.finetune import main as finetune

    stage("questions", out / "questions", lambda: build_questions(store, out / "questions", questions, relation_text))
    stage("graph", out / "graph", lambda: graph_stage(
        None, {**store_overrides(store), "run.output_dir": str(out / "graph"), "run.max_minutes": graph_minutes}, False))
    stage("finetune", out / "qa", lambda: finetune(None, {**qa, **dict(overrides or {})}, False))
    return {**done, "model": str(out / "qa" / "model")}
