"""A user's own evaluation questions for ``kgfm eval --file``.

Two formats, chosen by the file name:

- ``*.jsonl``: one JSON object a line, ``{"question": str, "answers": [str, ...], "topic": str?}``;
  without ``topic`` the topic entity is linked from the question text (``[brackets]`` optional).
- anything else: the MetaQA text format, ``question with [topic]<TAB>answer1|answer2``; a
  ``{stem}_qtype.txt`` beside it (one question type a line, as MetaQA ships) adds per-type Hits@1,
  or an explicit ``qtype`` file (MetaQA's paraphrased ``1-hop/ntm/qa_dev.txt`` is aligned line by
  line with ``1-hop/qa_dev_qtype.txt``, one folder up).

Blank lines are skipped; any other bad line is a :class:`~kgfm.qa.metaqa.QADataError` naming the
file and line. Answers and topics are entity names or ids of the graph.
"""

from __future__ import annotations

import json
from pathlib import Path

from kgfm.qa.metaqa import _BRACKET, QADataError, QAExample, read_qa_file

JSONL_KEYS = {"question", "answers", "topic"}


def read_eval_file(path: Path, qtype: Path | None = None) -> list[QAExample]:
    """The questions of ``path`` (JSONL or MetaQA text, see the module docstring).

    Args:
        path: The questions.
        qtype: Question types, one a line, aligned with a MetaQA text file (default: the
            ``{stem}_qtype.txt`` beside it, when there is one).

    Raises:
        QADataError: missing file, not UTF-8, a bad line (``file:line``), no questions at all, or
            a ``qtype`` file that is missing, given for JSONL, or of another line count.
    """
    path = Path(path)
    if not path.is_file():
        raise QADataError(str(path), "evaluation file not found")
    if path.suffix.lower() == ".jsonl":
        if qtype is not None:
            raise QADataError(str(qtype), "a question-type file goes with a MetaQA text file, not JSONL")
        examples = _read_jsonl(path)
    else:
        beside = path.with_name(f"{path.stem}_qtype.txt")
        examples = read_qa_file(path, qtype if qtype is not None else (beside if beside.is_file() else None))
    if not examples:
        raise QADataError(str(path), "no questions in it")
    return examples


def _read_jsonl(path: Path) -> list[QAExample]:
    out: list[QAExample] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise QADataError(str(path), f"not UTF-8 ({exc.reason})") from None
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise QADataError(str(path), f"not JSON ({exc.msg}, column {exc.colno})", n) from None
        out.append(_example(obj, str(path), n))
    return out


def _example(obj: object, source: str, n: int) -> QAExample:
    if not isinstance(obj, dict):
        raise QADataError(source, 'expected an object {"question": ..., "answers": [...], "topic"?: ...}', n)
    extra = sorted(set(obj) - JSONL_KEYS)
    if extra:
        raise QADataError(source, f"unknown field(s) {extra}; expected question, answers, topic", n)
    question, answers, topic = obj.get("question"), obj.get("answers"), obj.get("topic")
    if not isinstance(question, str) or not question.strip():
        raise QADataError(source, "field 'question': expected a non-empty string", n)
    if not isinstance(answers, list) or not answers or not all(isinstance(a, str) and a.strip() for a in answers):
        raise QADataError(source, "field 'answers': expected a non-empty list of non-empty strings", n)
    if topic is not None and (not isinstance(topic, str) or not topic.strip()):
        raise QADataError(source, "field 'topic': expected a non-empty string when given", n)
    if topic is None:
        match = _BRACKET.search(question)
        topic = match.group(1).strip() if match else ""
    elif f"[{topic}]" not in question and topic in question:
        question = question.replace(topic, f"[{topic}]", 1)  # the linker prefers a bracketed mention
    return QAExample(question.strip(), topic.strip(), tuple(a.strip() for a in answers), None, source, n)
