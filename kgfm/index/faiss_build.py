"""Validating an embedding matrix and building the FAISS index over it (flat or HNSW)."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np


def _unit(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12), dtype=np.float32)


def checked_inputs(embeddings: np.ndarray, entity_ids: Sequence[str], entity_names: Sequence[str | None] | None,
                    metric: str) -> tuple[np.ndarray, list[str], list[str | None]]:
    emb = np.ascontiguousarray(np.asarray(embeddings, dtype=np.float32))
    if emb.ndim != 2 or emb.shape[0] == 0:
        raise ValueError(f"embeddings must be a non-empty [N, d] matrix, got shape {emb.shape}")
    ids = [str(e) for e in entity_ids]
    if len(ids) != emb.shape[0]:
        raise ValueError(f"{len(ids)} entity ids for {emb.shape[0]} embedding rows")
    if len(set(ids)) != len(ids):
        raise ValueError("entity ids are not unique")
    names = list(entity_names) if entity_names is not None else [None] * len(ids)
    if len(names) != len(ids):
        raise ValueError(f"{len(names)} entity names for {len(ids)} entity ids")
    if metric not in ("ip", "l2", "cosine"):
        raise ValueError(f"metric must be 'ip', 'cosine' or 'l2', got {metric!r}")
    if not np.isfinite(emb).all():
        raise ValueError("embeddings contain NaN or inf")
    return emb, ids, names


def faiss_index(emb: np.ndarray, metric: str, exact: bool, hnsw_m: int, ef_construction: int,
                 ef_search: int) -> tuple[Any, str]:
    """A FAISS index holding ``emb`` (unit rows for cosine): flat when ``exact``, else HNSW."""
    import faiss

    dim = emb.shape[1]
    if exact:
        index, kind = (faiss.IndexFlatL2(dim) if metric == "l2" else faiss.IndexFlatIP(dim)), "flat"
    else:
        index = faiss.IndexHNSWFlat(dim, hnsw_m, faiss.METRIC_L2 if metric == "l2" else faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = ef_construction
        index.hnsw.efSearch = ef_search
        kind = "hnsw"
    index.add(_unit(emb) if metric == "cosine" else emb)
    return index, kind
