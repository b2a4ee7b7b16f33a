"""Questions -> what the model reads: linked topic entities, mentions, gold answer idxs.

The topic entity is :func:`kgfm.fusion.linking.topic_mention` of what the linker finds (a
bracketed span always wins, as in MetaQA); the gold answers are looked up by exact name/id.
Entity idx are the store's ``idx`` everywhere: the entity index rows are in the same order
(:meth:`kgfm.index.entity_index.EntityIndex.check_rows`), so no alignment table exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator, Sequence

import numpy as np
from kgfm.fusion.linking import topic_mention
from kgfm.qa.metaqa import EntityLookup, QAExample


@dataclass
class PreparedQuestions:
    """Linked questions.

    Args:
        texts: Clean question texts (brackets removed) -- what the encoder reads.
        mentions: Per question, the linked mentions (offsets into ``texts``; entity idx = graph idx).
        topics: ``[Q]`` topic entity idx (``-1``: nothing linkable).
        answers: Per question, gold answer idxs (empty when unknown, e.g. user questions).
        examples: The source examples (``None`` for free-text questions).
    """

    texts: list[str]
    mentions: list[list[Any]]
    topics: np.ndarray
    answers: list[np.ndarray]
    examples: list[QAExample] | None = None

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, idx: Sequence[int]) -> "PreparedQuestions":
        idx = list(idx)
        return PreparedQuestions(
            [self.texts[i] for i in idx],
            [self.mentions[i] for i in idx],
            self.topics[idx],
            [self.answers[i] for i in idx],
            None if self.examples is None else [self.examples[i] for i in idx],
        )


def link_questions(questions: Sequence[str], linker: Any) -> tuple[list[str], list[list[Any]], np.ndarray]:
    """Link free-text questions: ``(clean texts, mentions, topic idx or -1)``."""
    texts, mentions, topics = [], [], []
    for q in questions:
        clean, found = linker.link_text(q)
        found = [m for m in found if m.entity_idx >= 0]
        texts.append(clean)
        mentions.append(found)
        best = topic_mention(found)
        topics.append(best.entity_idx if best is not None else -1)
    return texts, mentions, np.array(topics, dtype=np.int64)


def prepare_examples(examples: Sequence[QAExample], linker: Any, lookup: EntityLookup) -> PreparedQuestions:
    """Link the questions of QA examples and look up their gold answers."""
    texts, mentions, topics = link_questions([e.question for e in examples], linker)
    answers = [np.array(sorted({i for i in map(lookup.get, e.answers) if i >= 0}), dtype=np.int64) for e in examples]
    return PreparedQuestions(texts, mentions, topics, answers, list(examples))


def batch_indices(n: int, batch_size: int, rng: np.random.Generator | None = None) -> Iterator[np.ndarray]:
    """Index batches over ``range(n)``, shuffled when ``rng`` is given."""
    order = rng.permutation(n) if rng is not None else np.arange(n)
    for start in range(0, n, batch_size):
        yield order[start : start + batch_size]


def mention_triples(mentions: Sequence[Sequence[Any]]) -> list[list[tuple[int, int, int]]]:
    """Linked mentions as ``(start, end, entity idx)`` for the fusion layers (idx = index row)."""
    return [[(int(m.start), int(m.end), int(m.entity_idx)) for m in ms] for ms in mentions]
