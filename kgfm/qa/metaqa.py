"""MetaQA question files: reading, question types, the dev -> train/valid split, and the
answerable ceiling of a KB.

File format (``{1,2,3}-hop/vanilla/qa_{dev,test}.txt``)::

    what movies did [Temuera Morrison] act in<TAB>Once Were Warriors|Barb Wire

``qa_*_qtype.txt`` holds one question type per line, aligned with the QA file of the same split.
A malformed line raises :class:`QADataError` naming the file and the line.
"""

from __future__ import annotations

import gzip
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from kgfm.sources.records import SourceError
from kgfm.store.base import GraphTensors

_BRACKET = re.compile(r"\[([^\[\]]+)\]")


class QADataError(SourceError):
    """A QA file that cannot be read; the message names the file and line."""


@dataclass(frozen=True)
class QAExample:
    """One question.

    Args:
        question: The question text as written (brackets kept).
        topic: The bracketed topic entity name.
        answers: Gold answer names.
        qtype: Question type (``actor_to_movie``...) when a qtype file was given.
        source: File it came from.
        line: 1-based line number.
    """

    question: str
    topic: str
    answers: tuple[str, ...]
    qtype: str | None = None
    source: str = ""
    line: int = 0

    @property
    def plain_text(self) -> str:
        """The question with the brackets removed (what a user would type)."""
        return _BRACKET.sub(lambda m: m.group(1), self.question)


def _open_text(path: Path):
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


def read_qa_file(path: Path, qtype_path: Path | None = None) -> list[QAExample]:
    """Read a MetaQA-format QA file (optionally with its aligned qtype file).

    Raises:
        QADataError: missing file, or a line without a TAB, a bracketed topic or an answer;
            a qtype file whose line count differs.
    """
    path = Path(path)
    if not path.is_file():
        raise QADataError(str(path), "QA file not found")
    examples: list[QAExample] = []
    try:
        with _open_text(path) as handle:
            for lineno, raw in enumerate(handle, start=1):
                line = raw.rstrip("\r\n")
                if not line.strip():
                    continue
                if "\t" not in line:
                    raise QADataError(str(path), "expected 'question<TAB>answer1|answer2', found no TAB", lineno)
                question, answer_field = line.split("\t", 1)
                match = _BRACKET.search(question)
                if match is None:
                    raise QADataError(str(path), f"no [bracketed] topic entity in {question[:80]!r}", lineno)
                answers = tuple(a.strip() for a in answer_field.split("|") if a.strip())
                if not answers:
                    raise QADataError(str(path), "no answers after the TAB", lineno)
                examples.append(QAExample(question.strip(), match.group(1).strip(), answers, None, str(path), lineno))
    except UnicodeDecodeError as exc:
        raise QADataError(str(path), f"not UTF-8 ({exc.reason})") from None
    if qtype_path is not None:
        examples = attach_qtypes(examples, Path(qtype_path))
    return examples


def sample_indices(total: int, limit: int | None) -> np.ndarray:
    """The seeded question sample ``kgfm eval --limit`` scores: sorted indices into ``total`` questions.

    ``limit`` of ``None``, 0 or at least ``total`` keeps every question. The benches that report
    figures beside ``kgfm eval``'s (bench/qa_headroom.py, bench/qa_path_probe.py...) call this so that
    they score the same questions.
    """
    if not limit or limit >= total:
        return np.arange(total)
    return np.sort(np.random.default_rng(0).choice(total, size=limit, replace=False))


def attach_qtypes(examples: list[QAExample], qtype_path: Path) -> list[QAExample]:
    """Align a ``qa_*_qtype.txt`` file line by line with ``examples`` (read from a full file)."""
    if not qtype_path.is_file():
        raise QADataError(str(qtype_path), "question-type file not found")
    qtypes = [t.strip() for t in qtype_path.read_text(encoding="utf-8").splitlines()]
    last = max((e.line for e in examples), default=0)
    if len(qtypes) < last:
        raise QADataError(str(qtype_path), f"has {len(qtypes)} lines, the QA file has {last}", len(qtypes))
    return [
        QAExample(e.question, e.topic, e.answers, qtypes[e.line - 1] or None, e.source, e.line) for e in examples
    ]


def metaqa_files(root: Path, hops: int, split: str) -> tuple[Path, Path | None]:
    """``(qa file, qtype file or None)`` for a MetaQA hop setting and split (``dev`` or ``test``)."""
    root = Path(root)
    qa = root / f"{hops}-hop" / "vanilla" / f"qa_{split}.txt"
    if not qa.is_file():
        hint = " (3-hop test is withheld on purpose: evaluate 3-hop on the held-out dev slice, --split valid)" if (
            hops == 3 and split == "test") else ""
        hint = hint or (" (point at the MetaQA folder with --data-root DIR, --set data.root=DIR, or the environment "
                        "variable KGFM_DATA_ROOT=DIR-holding-MetaQA)")
        raise QADataError(str(qa), f"MetaQA {hops}-hop {split} file not found{hint}")
    qtype = root / f"{hops}-hop" / f"qa_{split}_qtype.txt"
    return qa, (qtype if qtype.is_file() else None)


def split_train_valid(
    examples: Sequence[QAExample], valid_fraction: float = 0.1, seed: int = 13
) -> tuple[list[QAExample], list[QAExample]]:
    """Seeded random split; the same inputs, fraction and seed always give the same split.

    Stratified by question type when every example has one, so rare types appear in both parts.
    """
    rng = np.random.default_rng(seed)
    groups: dict[str | None, list[int]] = {}
    stratify = all(e.qtype for e in examples)
    for i, e in enumerate(examples):
        groups.setdefault(e.qtype if stratify else None, []).append(i)
    valid_idx: list[int] = []
    for key in sorted(groups, key=lambda k: (k is None, k or "")):
        members = np.array(groups[key])
        rng.shuffle(members)
        n_valid = int(round(len(members) * valid_fraction))
        valid_idx.extend(members[:n_valid].tolist())
    in_valid = np.zeros(len(examples), dtype=bool)
    in_valid[valid_idx] = True
    train = [e for e, v in zip(examples, in_valid) if not v]
    valid = [e for e, v in zip(examples, in_valid) if v]
    return train, valid


class EntityLookup:
    """Entity name or id -> graph ``idx`` (exact first, then case-insensitive)."""

    def __init__(self, graph: GraphTensors) -> None:
        self.exact: dict[str, int] = {}
        self.folded: dict[str, int] = {}
        names = graph.entity_names or [None] * graph.num_entities
        for idx, (eid, name) in enumerate(zip(graph.entity_ids, names)):
            for key in (eid, name):
                if key:
                    self.exact.setdefault(key, idx)
                    self.folded.setdefault(key.casefold(), idx)

    def get(self, name: str) -> int:
        """The entity idx, or ``-1`` when no entity has that id or name."""
        idx = self.exact.get(name)
        if idx is None:
            idx = self.folded.get(name.casefold(), -1)
        return idx


@dataclass
class ResolvedQuestions:
    """Examples mapped onto the graph's integer ids.

    Args:
        topic_idx: ``[Q]`` topic entity idx (``-1`` when the name is not in the graph).
        answer_idx: per question, the gold answer idxs present in the graph.
        missing_answers: answers whose name is not in the graph at all.
    """

    examples: list[QAExample]
    topic_idx: np.ndarray
    answer_idx: list[np.ndarray]
    missing_answers: int

    def __len__(self) -> int:
        return len(self.examples)


def resolve(examples: Sequence[QAExample], lookup: EntityLookup) -> ResolvedQuestions:
    topics = np.array([lookup.get(e.topic) for e in examples], dtype=np.int64)
    answers: list[np.ndarray] = []
    missing = 0
    for e in examples:
        ids = [lookup.get(a) for a in e.answers]
        missing += sum(1 for i in ids if i < 0)
        answers.append(np.array(sorted({i for i in ids if i >= 0}), dtype=np.int64))
    return ResolvedQuestions(list(examples), topics, answers, missing)


def answerable(reach_rows: Iterable[np.ndarray], answer_idx: Sequence[np.ndarray]) -> np.ndarray:
    """``[Q]`` bool: at least one gold answer lies in the question's reachable set.

    Args:
        reach_rows: per question, a bool ``[num_entities]`` reachability row (or ``None`` rows
            for questions without a topic entity).
        answer_idx: per question, gold answer idxs.
    """
    out = []
    for row, gold in zip(reach_rows, answer_idx):
        out.append(bool(row is not None and gold.size and row[gold].any()))
    return np.array(out, dtype=bool)


def answerable_ceiling(graph: GraphTensors, resolved: ResolvedQuestions, hops: int, chunk: int = 512) -> np.ndarray:
    """Which questions have a gold answer within ``hops`` of the topic, ignoring edge direction.

    Vectorised: the topics of a chunk of questions are expanded together by sparse-matrix
    products over the undirected adjacency (:func:`kgfm.qa.candidates.khop_reach`).

    Returns:
        ``[Q]`` bool; its mean is the Hits@1 ceiling of this KB for these questions.
    """
    from kgfm.qa.candidates import UndirectedAdjacency, khop_reach

    adj = UndirectedAdjacency.from_graph(graph)
    result = np.zeros(len(resolved), dtype=bool)
    for start in range(0, len(resolved), chunk):
        stop = min(start + chunk, len(resolved))
        topics = resolved.topic_idx[start:stop]
        reach = khop_reach(adj, topics, hops, exclude_seed=True)
        rows = [reach[i] if topics[i] >= 0 else None for i in range(stop - start)]
        result[start:stop] = answerable(rows, resolved.answer_idx[start:stop])
    return result
