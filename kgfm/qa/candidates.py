"""Answer candidates: the topic entity's k-hop neighbourhood, from the exported graph.

Both structures here are built once from :class:`~kgfm.store.base.GraphTensors` (the store's
``export_tensors()``), as torch sparse CSR matrices, so expanding a whole batch of topic
entities is one sparse x dense product per hop (no per-question Cypher):

* :class:`UndirectedAdjacency` -- ``A[u, v] = 1`` when any triple links ``u`` and ``v``;
  :func:`khop_reach` gives the bool ``[B, N]`` neighbourhoods (the candidate sets, and the
  answerable ceiling of :mod:`kgfm.qa.metaqa`).
* :class:`RelationAdjacency` -- the edge list with *directed* relation ids (``2R``: each
  relation and its inverse) for the relation-following scorer of :mod:`kgfm.qa.model`;
* :func:`candidate_sets` -- the padded ``[B, C]`` candidate idx the scorer ranks (no dense
  ``[B, N]`` masks leave this module).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from kgfm.store.base import GraphTensors


def _csr(rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int]) -> torch.Tensor:
    """Binary CSR matrix from coordinates (duplicates collapsed to 1)."""
    key = np.unique(rows.astype(np.int64) * shape[1] + cols.astype(np.int64))
    r, c = np.divmod(key, shape[1])
    index = torch.from_numpy(np.stack([r, c]).reshape(2, -1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "sparse CSR support is in beta"
        coo = torch.sparse_coo_tensor(index, torch.ones(key.size, dtype=torch.float32), shape,
                                      check_invariants=True).coalesce()
        return coo.to_sparse_csr()


@dataclass
class UndirectedAdjacency:
    """``[N, N]`` symmetric 0/1 adjacency (self loops dropped)."""

    matrix: torch.Tensor
    num_entities: int

    @classmethod
    def from_graph(cls, graph: GraphTensors) -> "UndirectedAdjacency":
        h = np.asarray(graph.head_index, dtype=np.int64)
        t = np.asarray(graph.tail_index, dtype=np.int64)
        keep = h != t
        h, t = h[keep], t[keep]
        n = graph.num_entities
        return cls(_csr(np.concatenate([h, t]), np.concatenate([t, h]), (n, n)), n)


def khop_reach(
    adj: UndirectedAdjacency, seeds: np.ndarray, hops: int, exclude_seed: bool = True
) -> np.ndarray:
    """Entities within ``hops`` undirected hops of each seed.

    Args:
        adj: The undirected adjacency.
        seeds: ``[B]`` entity idxs; ``-1`` gives an all-false row.
        hops: Radius (>= 1).
        exclude_seed: Drop the seed itself from its row (it is never an answer here).

    Returns:
        ``[B, N]`` bool array.
    """
    seeds = np.asarray(seeds, dtype=np.int64)
    b, n = seeds.shape[0], adj.num_entities
    valid = seeds >= 0
    frontier = torch.zeros(n, b)
    cols = np.nonzero(valid)[0]
    frontier[torch.from_numpy(seeds[valid]), torch.from_numpy(cols)] = 1.0
    reach = frontier > 0
    for _ in range(hops):
        frontier = (adj.matrix @ frontier) > 0
        frontier = frontier & ~reach
        reach |= frontier
        frontier = frontier.float()
    out = reach.T.contiguous().numpy()
    if exclude_seed and cols.size:
        out[cols, seeds[valid]] = False
    return out


@dataclass
class RelationAdjacency:
    """The graph's ``2E`` directed edges (each triple forwards and inverted) for relation following.

    Edge ``e`` goes ``src[e] -> dst[e]`` with directed relation ``rel[e]``: ``r`` for a triple
    ``(h, r, t)`` read head to tail, ``r + R`` for the same triple read tail to head.
    """

    src: torch.Tensor
    dst: torch.Tensor
    rel: torch.Tensor
    num_entities: int
    num_relations: int  # directed: 2 * graph relations

    @classmethod
    def from_graph(cls, graph: GraphTensors) -> "RelationAdjacency":
        r = graph.num_relations
        h = torch.as_tensor(np.asarray(graph.head_index, dtype=np.int64))
        t = torch.as_tensor(np.asarray(graph.tail_index, dtype=np.int64))
        rel = torch.as_tensor(np.asarray(graph.rel_type, dtype=np.int64))
        return cls(torch.cat([h, t]), torch.cat([t, h]), torch.cat([rel, rel + r]), graph.num_entities, 2 * r)

    def step(self, scores: torch.Tensor, rel_weights: torch.Tensor) -> torch.Tensor:
        """:func:`follow_relations` over this graph's edges."""
        return follow_relations(self.src, self.dst, self.rel, scores, rel_weights)


def follow_relations(src: torch.Tensor, dst: torch.Tensor, rel: torch.Tensor, scores: torch.Tensor,
                     rel_weights: torch.Tensor) -> torch.Tensor:
    """One relation-following step: ``out[b, v] = sum_{e: u -r-> v} w[b, r] * scores[b, u]``.

    Only edges leaving an entity with a non-zero score in the batch are touched, so the first
    steps from a handful of topic entities cost next to nothing.

    Args:
        src: ``[E]`` edge sources; dst: ``[E]`` edge targets; rel: ``[E]`` directed relation ids.
        scores: ``[B, N]`` current entity scores.
        rel_weights: ``[B, 2R]`` attention over directed relations.
    """
    active = (scores.detach() != 0).any(dim=0)
    keep = active[src]
    src, dst, rel = src[keep], dst[keep], rel[keep]
    return torch.zeros_like(scores).index_add(1, dst, scores[:, src] * rel_weights[:, rel])


def candidate_sets(adj: UndirectedAdjacency, topics: np.ndarray, hops: int) -> torch.Tensor:
    """``[B, C]`` candidate entity idx per question (the ``hops``-neighbourhood of the topic, topic
    excluded), ascending, ``-1`` padded to the largest set in the batch (``C >= 1``)."""
    reach = khop_reach(adj, topics, hops, exclude_seed=True)
    rows, cols = np.nonzero(reach)
    sizes = reach.sum(axis=1)
    out = np.full((reach.shape[0], max(1, int(sizes.max()) if sizes.size else 1)), -1, dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]) if sizes.size else np.zeros(0, dtype=np.int64)
    out[rows, np.arange(rows.size) - np.repeat(starts, sizes)] = cols
    return torch.from_numpy(out)


def gold_mask(candidates: torch.Tensor, answers: Sequence[np.ndarray]) -> torch.Tensor:
    """``[B, C]`` bool: candidate ``c`` of question ``b`` is one of its gold answers."""
    out = torch.zeros(candidates.shape, dtype=torch.bool)
    cand = candidates.cpu().numpy()
    for b, gold in enumerate(answers):
        if gold.size:
            out[b] = torch.from_numpy(np.isin(cand[b], gold) & (cand[b] >= 0))
    return out


@dataclass(frozen=True)
class CandidateStats:
    """How good a candidate generator is on a question set."""

    questions: int
    recall: float  # fraction of questions with at least one gold answer among the candidates
    answer_recall: float  # fraction of gold answers (in the graph) among the candidates
    mean_candidates: float
    median_candidates: float

    def as_dict(self) -> dict[str, float]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def candidate_stats(
    adj: UndirectedAdjacency, topics: np.ndarray, answers: Sequence[np.ndarray], hops: int, chunk: int = 512
) -> CandidateStats:
    """Measure the k-hop candidate sets on questions with known gold answers."""
    hit = 0
    gold_total = gold_in = 0
    sizes: list[int] = []
    for start in range(0, len(topics), chunk):
        reach = khop_reach(adj, topics[start : start + chunk], hops)
        for row, gold in zip(reach, answers[start : start + chunk]):
            sizes.append(int(row.sum()))
            inside = int(row[gold].sum()) if gold.size else 0
            hit += inside > 0
            gold_in += inside
            gold_total += int(gold.size)
    q = max(len(topics), 1)
    return CandidateStats(
        questions=len(topics),
        recall=hit / q,
        answer_recall=gold_in / max(gold_total, 1),
        mean_candidates=float(np.mean(sizes)) if sizes else 0.0,
        median_candidates=float(np.median(sizes)) if sizes else 0.0,
    )
