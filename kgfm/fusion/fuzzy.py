"""Fuzzy alias lookup: cosine similarity of character-trigram TF-IDF vectors (scipy sparse).

Used by :mod:`kgfm.fusion.linking` only when nothing matches exactly (misspellings). A text's
score is its best cosine times ``sqrt(known trigrams / all trigrams)``, so trigrams that no
alias contains count against it.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np


class TrigramIndex:
    """Character-trigram TF-IDF over the alias keys (cosine similarity via sparse matmul)."""

    def __init__(self, keys: Sequence[str]):
        from scipy import sparse

        self.vocab: dict[str, int] = {}
        rows, cols = [], []
        for r, key in enumerate(keys):
            for g in self._grams(key):
                c = self.vocab.setdefault(g, len(self.vocab))
                rows.append(r)
                cols.append(c)
        data = np.ones(len(rows), dtype=np.float32)
        mat = sparse.csr_matrix((data, (rows, cols)), shape=(len(keys), max(len(self.vocab), 1)))
        mat.sum_duplicates()
        df = np.bincount(mat.indices, minlength=mat.shape[1]).astype(np.float32)
        self.idf = np.log((1 + len(keys)) / (1 + df)).astype(np.float32) + 1.0
        self.matrix = self._normalise(mat.multiply(self.idf[None, :]).tocsr())
        self.matrix_t = self.matrix.T.tocsr()

    @staticmethod
    def _grams(key: str) -> list[str]:
        padded = f"  {key} "
        return [padded[i : i + 3] for i in range(len(padded) - 2)]

    @staticmethod
    def _normalise(mat):  # row L2 normalisation of a CSR matrix
        from scipy import sparse

        norms = np.sqrt(np.asarray(mat.multiply(mat).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        return sparse.diags(1.0 / norms) @ mat

    def query(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Best alias row and cosine for each text."""
        from scipy import sparse

        rows, cols = [], []
        for r, text in enumerate(texts):
            for g in self._grams(text):
                c = self.vocab.get(g)
                if c is not None:
                    rows.append(r)
                    cols.append(c)
        if not rows:
            return np.full(len(texts), -1), np.zeros(len(texts), dtype=np.float32)
        q = sparse.csr_matrix(
            (np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(len(texts), self.matrix.shape[1])
        )
        q.sum_duplicates()
        q = self._normalise(q.multiply(self.idf[None, :]).tocsr())
        n_grams = np.array([len(self._grams(t)) for t in texts], dtype=np.float32)
        sims = (q @ self.matrix_t).tocsr()  # [Q, A]
        best = np.full(len(texts), -1, dtype=np.int64)
        best_sim = np.zeros(len(texts), dtype=np.float32)
        for r in range(len(texts)):
            lo, hi = sims.indptr[r], sims.indptr[r + 1]
            if hi > lo:
                j = lo + int(np.argmax(sims.data[lo:hi]))
                best[r] = sims.indices[j]
                best_sim[r] = sims.data[j]
        # penalise texts with trigrams outside the alias vocabulary (they carry no weight above)
        n_known = np.bincount(np.asarray(rows), minlength=len(texts)).astype(np.float32)
        coverage = np.sqrt(n_known / np.maximum(n_grams, 1.0))
        return best, best_sim * coverage
