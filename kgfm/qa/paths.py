"""Evidence paths from the graph held in memory: what ``GraphStore.paths`` returns, without a query.

A single ``kgfm qa`` question reads each answer's paths from the store (one Cypher query per
answer, ~3-15 ms of LadybugDB each on this box). ``kgfm serve``, ``kgfm qa --file`` and a batch of
questions from Python hold the graph in memory (:meth:`kgfm.qa.answer.QAEngine.hold_paths_in_memory`)
and look the same paths up in sorted arrays of entity pairs instead (microseconds). Same contract as
``GraphStore.paths``: every *shortest* undirected path of 1..``max_hops`` relationships from
``source`` to ``target``, each relationship with its direction, sorted by (length, relations,
nodes). Where that contract cannot be met cheaply or exactly -- more than ``limit`` shortest
paths (the store then keeps an arbitrary ``limit`` of them), a 3-hop search between two hubs,
``source == target`` -- :meth:`PairPaths.paths` returns ``None`` and the caller asks the store.

:class:`PairPaths` works on plain arrays and tuples; :class:`MemoryPathStore` puts it in front of a store.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np

#: ``(nodes, names, rels, directions)`` as in ``kgfm.store.base.PathResult``.
PathTuple = tuple[tuple[str, ...], tuple[Optional[str], ...], tuple[str, ...], tuple[int, ...]]

MAX_3HOP_PAIRS = 200_000  # deg(source) * deg(target) above this: ask the store
MEMORY_PATHS_MAX_TRIPLES = 5_000_000  # above this, paths come from the store (235 MB of arrays at 5M)


class PairPaths:
    """All relationships between each pair of entities, for shortest-path look-ups.

    Held as sorted numpy arrays, not Python containers: every triple twice (each direction) keyed by
    ``a * N + b`` and found by binary search, and each entity's neighbours as CSR. On MetaQA's
    128,185 triples that is 8 MB built in 0.03 s, where a dict of pairs and lists of neighbours
    took 72 MB, 0.7 s and 779,009 objects that every full garbage collection walks (a reload makes
    one); at 5 million triples 235 MB and 1.7 s against 2.0 GB, 29 s and a 3.3 s collection
    (``bench/bench_paths_memory.py``). A look-up takes 6-43 microseconds at the median (the dict:
    5-37), a few per answer beside ~20 ms per question.

    Args:
        entity_ids: Entity ids by idx.
        entity_names: Display names by idx (``None`` where unknown).
        relation_types: Relationship type by relation idx.
        heads, rels, tails: The triples as aligned integer arrays.
    """

    def __init__(self, entity_ids: Sequence[str], entity_names: Sequence[Optional[str]],
                 relation_types: Sequence[str], heads: np.ndarray, rels: np.ndarray, tails: np.ndarray) -> None:
        self.ids = list(entity_ids)
        self.names = list(entity_names) if entity_names is not None else [None] * len(self.ids)
        self.rel_names = list(relation_types)
        self.row = {eid: i for i, eid in enumerate(self.ids)}
        n = self.n = max(len(self.ids), 1)
        h, r, t = (np.asarray(x, dtype=np.int64) for x in (heads, rels, tails))
        keep = h != t  # a self-loop is never on a shortest path
        h, r, t = h[keep], r[keep], t[keep]
        # every triple from each end: (a, b, rel, +1 when the triple is a -> b), sorted by (a, b), input order kept
        a, b = np.concatenate([h, t]), np.concatenate([t, h])
        keys = a * n + b
        order = np.argsort(keys, kind="stable")
        self.keys = keys[order]
        self.edge_rel = np.concatenate([r, r])[order].astype(np.int32)
        self.edge_dir = np.concatenate([np.ones(len(h), np.int8), -np.ones(len(h), np.int8)])[order]
        first = np.ones(len(self.keys), dtype=bool)
        first[1:] = self.keys[1:] != self.keys[:-1]
        pairs = self.keys[first]  # the neighbour pairs, sorted by a then b (np.unique would sort again)
        self.nbr = pairs % n
        self.nbr_ptr = np.searchsorted(pairs // n, np.arange(n + 1))

    def neighbours(self, row: int) -> np.ndarray:
        """The entity rows joined to ``row`` by any relationship, either direction, ascending."""
        return self.nbr[self.nbr_ptr[row] : self.nbr_ptr[row + 1]]

    def _joined(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Which of the pairs ``(a[i], b[i])`` share at least one relationship."""
        want = a * self.n + b
        at = np.searchsorted(self.keys, want)
        return (at < len(self.keys)) & (self.keys[np.minimum(at, len(self.keys) - 1)] == want)

    def _edges(self, a: int, b: int) -> list[tuple[int, int]]:
        """Every (rel idx, direction) joining ``a`` to ``b``, in the triples' order."""
        key = a * self.n + b
        lo = int(self.keys.searchsorted(key))
        hi = lo
        while hi < len(self.keys) and self.keys[hi] == key:  # a pair has a handful of relationships at most
            hi += 1
        return list(zip(self.edge_rel[lo:hi].tolist(), self.edge_dir[lo:hi].tolist()))

    def paths(self, source_id: str, target_id: str, max_hops: int = 3, limit: int = 10) -> Optional[list[PathTuple]]:
        """The shortest paths, or ``None`` when the store must be asked (see the module docstring)."""
        s, t = self.row.get(source_id), self.row.get(target_id)
        if s is None or t is None:
            return []
        if s == t or max_hops > 3:
            return None
        found: list[list[int]] = []  # node rows of each shortest route (edges expanded below)
        at = int(self.keys.searchsorted(s * self.n + t))
        if at < len(self.keys) and self.keys[at] == s * self.n + t:
            found = [[s, t]]
        elif max_hops >= 2:
            ns = self.neighbours(s)
            middle = ns[self._joined(ns, np.full(len(ns), t))]
            if len(middle) > limit:
                return None  # each route is at least one path: more than the store returns
            found = [[s, m, t] for m in middle.tolist()]
            if not found and max_hops >= 3:
                nt = self.neighbours(t)
                if len(ns) * len(nt) > MAX_3HOP_PAIRS:
                    return None
                a, b = np.repeat(ns, len(nt)), np.tile(nt, len(ns))  # for a in ns for b in nt
                ok = (a != t) & (b != s) & (a != b)
                a, b = a[ok], b[ok]
                hit = self._joined(a, b)
                if hit.sum() > limit:
                    return None
                found = [[s, x, y, t] for x, y in zip(a[hit].tolist(), b[hit].tolist())]
        out: list[PathTuple] = []
        for route in found:
            for steps in self._expand(route):
                if len(out) >= limit:
                    return None  # more than the store would return: let it choose, as kgfm qa does
                out.append((tuple(self.ids[n] for n in route), tuple(self.names[n] for n in route),
                            tuple(self.rel_names[r] for r, _ in steps), tuple(d for _, d in steps)))
        out.sort(key=lambda p: (len(p[2]), p[2], p[0], p[3]))
        return out

    def _expand(self, route: list[int]) -> list[list[tuple[int, int]]]:
        combos: list[list[tuple[int, int]]] = [[]]
        for a, b in zip(route, route[1:]):
            combos = [c + [e] for c in combos for e in self._edges(a, b)]
        return combos


class MemoryPathStore:
    """The store, with ``paths`` answered from the graph in memory (:class:`PairPaths`) where that
    gives the store's exact answer; every other call goes to the store.

    Args:
        store: The graph store.
        graph: Its exported :class:`~kgfm.store.base.GraphTensors`.
    """

    def __init__(self, store: Any, graph: Any) -> None:
        self._store = store
        self.memory = PairPaths(graph.entity_ids, graph.entity_names, graph.relation_types,
                                graph.head_index, graph.rel_type, graph.tail_index)
        self.asked_store = 0

    def paths(self, source_id: str, target_id: str, max_hops: int = 3, limit: int = 10) -> list[Any]:
        from kgfm.store.base import PathResult

        found = self.memory.paths(source_id, target_id, max_hops, limit)
        if found is None:
            self.asked_store += 1
            return self._store.paths(source_id, target_id, max_hops=max_hops, limit=limit)
        return [PathResult(*p) for p in found]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)
