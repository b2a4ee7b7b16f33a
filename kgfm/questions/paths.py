"""Relation paths over the exported graph and their answer sets.

A *step* is a relation followed in one direction: step ``2*r`` goes head -> tail of relation
``r`` (``forward``), step ``2*r+1`` goes tail -> head (``inverse``). A *path type* is a tuple of
steps; its answer set from a topic entity is the set of entities reached by following every
step in turn (the topic itself removed), computed exactly from the graph.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from kgfm.store.base import GraphTensors


def step_relation(step: int) -> int:
    return step // 2


def step_inverse(step: int) -> bool:
    return bool(step % 2)


@dataclass
class StepAdjacency:
    """CSR neighbour lists per step: ``targets[indptr[s, e]:indptr[s, e+1]]``.

    Args:
        num_entities: Entity count.
        indptr: ``[S, N+1]`` offsets per step.
        targets: ``[S]`` list of target arrays (sorted, unique per source).
    """

    num_entities: int
    indptr: np.ndarray
    targets: list[np.ndarray]

    @classmethod
    def from_graph(cls, graph: GraphTensors) -> "StepAdjacency":
        n, steps = graph.num_entities, 2 * graph.num_relations
        indptr = np.zeros((steps, n + 1), dtype=np.int64)
        targets: list[np.ndarray] = []
        for s in range(steps):
            mask = graph.rel_type == step_relation(s)
            src, dst = graph.head_index[mask], graph.tail_index[mask]
            if step_inverse(s):
                src, dst = dst, src
            pairs = np.unique(np.stack([src, dst], axis=1), axis=0) if src.size else np.zeros((0, 2), np.int64)
            indptr[s, 1:] = np.cumsum(np.bincount(pairs[:, 0], minlength=n))
            targets.append(pairs[:, 1].astype(np.int64))
        return cls(n, indptr, targets)

    @property
    def num_steps(self) -> int:
        return len(self.targets)

    def sources(self, step: int) -> np.ndarray:
        """Entities with at least one edge along ``step`` (the step's domain)."""
        return np.flatnonzero(np.diff(self.indptr[step]) > 0)

    def follow(self, step: int, frontier: np.ndarray, limit: int) -> np.ndarray | None:
        """Targets of ``frontier`` along ``step`` (unique, sorted), ``None`` past ``limit``."""
        ptr, tgt = self.indptr[step], self.targets[step]
        parts = [tgt[ptr[e] : ptr[e + 1]] for e in frontier.tolist()]
        if not parts:
            return np.zeros(0, dtype=np.int64)
        out = np.unique(np.concatenate(parts))
        return None if out.size > limit else out

    def answers(self, topic: int, path: tuple[int, ...], frontier_cap: int) -> np.ndarray | None:
        """The answer set of ``path`` from ``topic`` without the topic, ``None`` when a frontier
        grows past ``frontier_cap`` on the way."""
        frontier = np.array([topic], dtype=np.int64)
        for step in path:
            frontier = self.follow(step, frontier, frontier_cap)
            if frontier is None or frontier.size == 0:
                return frontier
        return frontier[frontier != topic]


def compatibility(adj: StepAdjacency) -> sp.csr_matrix:
    """``[S, S]`` count of entities where step ``a`` can end and step ``b`` can start."""
    n, steps = adj.num_entities, adj.num_steps
    start_rows, end_rows = [], []
    for s in range(steps):
        start_rows.append(adj.sources(s))
        end_rows.append(np.unique(adj.targets[s]))
    def incidence(rows: list[np.ndarray]) -> sp.csr_matrix:
        cols = np.concatenate([np.full(r.size, s) for s, r in enumerate(rows)]) if rows else np.zeros(0, int)
        ents = np.concatenate(rows) if rows else np.zeros(0, int)
        return sp.csr_matrix((np.ones(ents.size, np.int32), (ents, cols)), shape=(n, steps))
    return (incidence(end_rows).T @ incidence(start_rows)).tocsr()


def chainable(adj: StepAdjacency, min_shared: int = 5, min_fraction: float = 0.2) -> dict[int, list[int]]:
    """Step ``a`` -> the steps ``b`` that may follow it: at least ``min_shared`` entities where
    ``a`` ends and ``b`` starts, and they make up ``min_fraction`` of ``a``'s ends or of ``b``'s
    starts. This keeps type-consistent compositions (a film's director's other films) and drops
    those that exist only because two different things share a name (a genre that is also a
    film title)."""
    compat = compatibility(adj)
    ends = np.array([np.unique(t).size for t in adj.targets])
    starts = np.array([adj.sources(s).size for s in range(adj.num_steps)])
    out: dict[int, list[int]] = {}
    for a in range(adj.num_steps):
        row = compat[a]
        keep = []
        for b, shared in zip(row.indices.tolist(), row.data.tolist()):
            frac = max(shared / max(ends[a], 1), shared / max(starts[b], 1))
            if shared >= min_shared and frac >= min_fraction:
                keep.append(int(b))
        out[a] = sorted(keep)
    return out


def path_types(adj: StepAdjacency, max_hops: int, per_hop: int, rng: np.random.Generator,
               min_shared: int = 5, min_fraction: float = 0.2) -> dict[int, list[tuple[int, ...]]]:
    """Path types per hop count, at most ``per_hop`` each (a seeded sample when there are more);
    consecutive steps must be :func:`chainable`. ``r`` then ``r^-1`` is kept (co-members: the
    topic itself is removed from every answer set)."""
    steps = [s for s in range(adj.num_steps) if adj.targets[s].size]
    out: dict[int, list[tuple[int, ...]]] = {1: [(s,) for s in steps]}
    if max_hops < 2 or not steps:
        return {h: v for h, v in out.items() if h <= max_hops}
    nxt = chainable(adj, min_shared, min_fraction)
    for hops in range(2, max_hops + 1):
        prev = out[hops - 1]
        extended = [p + (b,) for p in prev for b in nxt[p[-1]]]
        if len(extended) > per_hop:
            pick = np.sort(rng.choice(len(extended), size=per_hop, replace=False))
            extended = [extended[i] for i in pick]
        out[hops] = extended
    return out
