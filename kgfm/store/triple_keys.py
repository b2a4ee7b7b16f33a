"""The loader's set of stored triples: one sorted int64 array ``head << 32 | tail`` per
``(relation idx, graph idx)``, 8 bytes a triple.

Batches are only *checked* against it (binary search, no insertion), so a batch costs
``O(batch * log n)``; the triples a run writes are deduplicated when their relationship's queue
is written (:func:`unique_rows`) and only then added (:meth:`TripleKeys.add`): once per table,
not once per batch, which would make a load quadratic.
"""

from __future__ import annotations

import numpy as np

from kgfm.store.base import StoreError

LIMIT = 1 << 31


def pack(heads: np.ndarray, tails: np.ndarray) -> np.ndarray:
    """The int64 key of each ``(head idx, tail idx)``."""
    if len(heads) and max(int(heads.max()), int(tails.max())) >= LIMIT:
        raise StoreError("more than 2^31 entities: beyond what the loader's triple keys hold")
    return (heads.astype(np.int64) << 32) | tails.astype(np.int64)


class TripleKeys:
    """Stored ``(head, relation, tail, graph)`` keys (entity idx values below 2^31)."""

    def __init__(self) -> None:
        self.groups: dict[tuple[int, int], np.ndarray] = {}

    def __len__(self) -> int:
        return sum(len(a) for a in self.groups.values())

    def add(self, rel: int, graph: int, heads: np.ndarray, tails: np.ndarray) -> None:
        """Add keys (stored or just written; repeats are fine)."""
        keys = np.unique(pack(heads, tails))
        old = self.groups.get((rel, graph))
        self.groups[(rel, graph)] = keys if old is None else np.union1d(old, keys)

    def unseen(self, rels: np.ndarray, graphs: np.ndarray, heads: np.ndarray, tails: np.ndarray) -> np.ndarray:
        """Boolean mask of the rows whose key is not stored (duplicates inside the batch all pass)."""
        mask = np.ones(len(heads), dtype=bool)
        if not self.groups or not len(heads):
            return mask
        keys = pack(heads, tails)
        group = (rels.astype(np.int64) << 32) | graphs.astype(np.int64)
        for g in np.unique(group).tolist():
            stored = self.groups.get((g >> 32, g & 0xFFFFFFFF))
            if stored is None or not len(stored):
                continue
            rows = np.flatnonzero(group == g)
            pos = np.searchsorted(stored, keys[rows])
            mask[rows] = stored[np.minimum(pos, len(stored) - 1)] != keys[rows]
        return mask


def unique_rows(cols: np.ndarray) -> np.ndarray:
    """The distinct ``(head, tail, graph)`` columns of a ``[3, n]`` array, in first-seen order."""
    if cols.shape[1] < 2:
        return cols
    order = np.lexsort((cols[1], cols[0], cols[2]))
    s = cols[:, order]
    first = np.r_[True, np.any(s[:, 1:] != s[:, :-1], axis=0)]
    return cols[:, np.sort(order[first])]


def split_by_graph(heads: np.ndarray, tails: np.ndarray, graphs: list[str] | None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    if graphs is None:
        return {"": (heads, tails)}
    names = np.asarray(graphs, dtype=object)
    return {g: (heads[names == g], tails[names == g]) for g in dict.fromkeys(graphs)}
