"""Evidence paths from the graph held in memory: what ``GraphStore.paths`` returns, without a query.

``kgfm qa`` reads each answer's paths from the store (one Cypher query per answer, ~5-15 ms of
LadybugDB each on this box); the server already holds the whole graph as arrays, so it looks
the same paths up in a dict of entity pairs instead (microseconds). Same contract as
``GraphStore.paths``: every *shortest* undirected path of 1..``max_hops`` relationships from
``source`` to ``target``, each relationship with its direction, sorted by (length, relations,
nodes). Where that contract cannot be met cheaply or exactly -- more than ``limit`` shortest
paths (the store then keeps an arbitrary ``limit`` of them), a 3-hop search between two hubs,
``source == target`` -- :meth:`PairPaths.paths` returns ``None`` and the caller asks the store.

This module works on plain arrays and tuples; :mod:`kgfm.serve.engine` wraps the results.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Optional, Sequence

import numpy as np

#: ``(nodes, names, rels, directions)`` as in ``kgfm.store.base.PathResult``.
PathTuple = tuple[tuple[str, ...], tuple[Optional[str], ...], tuple[str, ...], tuple[int, ...]]

MAX_3HOP_PAIRS = 200_000  # deg(source) * deg(target) above this: ask the store


class PairPaths:
    """All relationships between each pair of entities, for shortest-path look-ups.

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
        # edges[(a, b)]: every (rel idx, direction) joining a to b, direction +1 when the triple is a -> b
        self.edges: dict[tuple[int, int], list[tuple[int, int]]] = defaultdict(list)
        neighbours: dict[int, set[int]] = defaultdict(set)
        for h, r, t in zip(heads.tolist(), rels.tolist(), tails.tolist()):
            if h == t:
                continue  # a self-loop is never on a shortest path
            self.edges[(h, t)].append((r, 1))
            self.edges[(t, h)].append((r, -1))
            neighbours[h].add(t)
            neighbours[t].add(h)
        self.neighbours = {k: sorted(v) for k, v in neighbours.items()}

    def paths(self, source_id: str, target_id: str, max_hops: int = 3, limit: int = 10) -> Optional[list[PathTuple]]:
        """The shortest paths, or ``None`` when the store must be asked (see the module docstring)."""
        s, t = self.row.get(source_id), self.row.get(target_id)
        if s is None or t is None:
            return []
        if s == t or max_hops > 3:
            return None
        found: list[list[int]] = []  # node rows of each shortest route (edges expanded below)
        if (s, t) in self.edges:
            found = [[s, t]]
        elif max_hops >= 2:
            found = [[s, m, t] for m in self.neighbours.get(s, ()) if (m, t) in self.edges]
            if not found and max_hops >= 3:
                ns, nt = self.neighbours.get(s, ()), self.neighbours.get(t, ())
                if len(ns) * len(nt) > MAX_3HOP_PAIRS:
                    return None
                found = [[s, a, b, t] for a in ns for b in nt if a != t and b != s and a != b and (a, b) in self.edges]
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
            combos = [c + [e] for c in combos for e in self.edges[(a, b)]]
        return combos
