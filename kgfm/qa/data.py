"""Questions -> what the model reads: linked topic entities, mentions, gold answer idxs.

The topic entity is whatever :class:`kgfm.fusion.linking.EntityLinker` links (a bracketed
span always wins, as in MetaQA); the gold answers are looked up by exact name/id. The
:class:`EntityAlignment` maps graph entity idxs onto the rows of the FAISS entity index, so
the fusion layers and the scorer's embedding term see the right vectors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator, Sequence

import numpy as np
import torch

from kgfm.qa.metaqa import EntityLookup, QAExample
from kgfm.store.base import GraphTensors


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
        if found:
            best = max(found, key=lambda m: (m.bracketed, m.score, m.end - m.start))
            topics.append(best.entity_idx)
        else:
            topics.append(-1)
    return texts, mentions, np.array(topics, dtype=np.int64)


def prepare_examples(examples: Sequence[QAExample], linker: Any, lookup: EntityLookup) -> PreparedQuestions:
    """Link the questions of QA examples and look up their gold answers."""
    texts, mentions, topics = link_questions([e.question for e in examples], linker)
    answers = [np.array(sorted({i for i in map(lookup.get, e.answers) if i >= 0}), dtype=np.int64) for e in examples]
    return PreparedQuestions(texts, mentions, topics, answers, list(examples))


def target_matrix(answers: Sequence[np.ndarray], num_entities: int) -> torch.Tensor:
    """``[B, N]`` bool gold matrix."""
    out = torch.zeros(len(answers), num_entities, dtype=torch.bool)
    for b, gold in enumerate(answers):
        if gold.size:
            out[b, torch.from_numpy(gold)] = True
    return out


def batch_indices(n: int, batch_size: int, rng: np.random.Generator | None = None) -> Iterator[np.ndarray]:
    """Index batches over ``range(n)``, shuffled when ``rng`` is given."""
    order = rng.permutation(n) if rng is not None else np.arange(n)
    for start in range(0, n, batch_size):
        yield order[start : start + batch_size]


class EntityAlignment:
    """Graph entity idx <-> entity index row.

    Args:
        graph: The exported graph.
        index: An :class:`~kgfm.index.entity_index.EntityIndex` (or ``None``: nothing aligned).
    """

    def __init__(self, graph: GraphTensors, index: Any | None) -> None:
        n = graph.num_entities
        self.graph_to_index = np.full(n, -1, dtype=np.int64)
        self.index = index
        if index is not None:
            lookup = {eid: i for i, eid in enumerate(index.entity_ids)}
            for g, eid in enumerate(graph.entity_ids):
                self.graph_to_index[g] = lookup.get(eid, -1)
        self.coverage = float((self.graph_to_index >= 0).mean()) if n else 0.0

    def embeddings(self) -> torch.Tensor | None:
        """``[N_graph, d]`` index embeddings in graph order (zeros where the index lacks the entity)."""
        if self.index is None:
            return None
        emb = np.asarray(self.index.embeddings, dtype=np.float32)
        out = np.zeros((self.graph_to_index.size, emb.shape[1]), dtype=np.float32)
        ok = self.graph_to_index >= 0
        out[ok] = emb[self.graph_to_index[ok]]
        return torch.from_numpy(out)

    def mentions_for_index(self, mentions: Sequence[Sequence[Any]]) -> list[list[tuple[int, int, int]]]:
        """Mentions as ``(start, end, index row)`` for the fusion layers (``-1`` when not indexed)."""
        out = []
        for ms in mentions:
            row = []
            for m in ms:
                g = int(m.entity_idx)
                row.append((int(m.start), int(m.end), int(self.graph_to_index[g]) if 0 <= g < self.graph_to_index.size else -1))
            out.append(row)
        return out
