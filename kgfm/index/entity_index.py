"""FAISS index over entity embeddings: the retrieval surface every later stage uses.

An :class:`EntityIndex` holds the embedding matrix, the entity id/name vocabulary and a FAISS
index over the rows. Small graphs get an exact flat index; above ``exact_threshold`` rows an
HNSW graph index is built (approximate, sub-linear). When faiss was built with GPU support and
a GPU is visible, the exact index is moved onto the GPU instead (brute force on a GPU is faster
than HNSW on a CPU up to millions of rows).

Scores are always "higher is better": inner product for ``metric="ip"``, cosine similarity for
``metric="cosine"`` (FAISS holds L2-normalised rows; ``embeddings`` stay raw), negative squared
L2 distance for ``metric="l2"``.

Saved layout (an ``entity-index`` artifact, see :mod:`kgfm.artifacts`)::

    index.faiss              faiss.write_index of the CPU index
    embeddings.safetensors   "entities" [N, d] float32 (+ "relations" [R, d] when given)
    vocab.json               entity_ids, entity_names, relation_types
    manifest.json            config, counts, fingerprint, encoder checkpoint, checksums
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal, Sequence

import numpy as np

from kgfm.artifacts import ArtifactError, check_safetensors, read_manifest, write_artifact
from kgfm.index.faiss_build import _unit, checked_inputs, faiss_index

KIND = "entity-index"
Metric = Literal["ip", "l2", "cosine"]


class UnknownEntityError(LookupError):
    """An entity id or name that the index does not contain."""


def _fingerprint(embeddings: np.ndarray, entity_ids: Sequence[str]) -> str:
    digest = hashlib.sha256()
    digest.update(np.ascontiguousarray(embeddings, dtype=np.float32).tobytes())
    digest.update("\n".join(entity_ids).encode("utf-8"))
    return digest.hexdigest()[:16]


def entity_ids_digest(entity_ids: Sequence[str]) -> str:
    """Short sha256 of an entity id list in row order: the store's idx order, recorded by the index
    and the corpus so that "index row == store idx" is checked, never bridged by a table."""
    return hashlib.sha256("\n".join(entity_ids).encode("utf-8")).hexdigest()[:16]


def _gpu_count() -> int:
    import faiss

    try:
        return int(faiss.get_num_gpus())
    except AttributeError:  # very old faiss-cpu builds
        return 0


class EntityIndex:
    """Nearest-neighbour search over entity embeddings with an id/name vocabulary.

    Build with :meth:`build`, persist with :meth:`save`, reload with :meth:`load`.

    Args:
        embeddings: ``[N, d]`` float32 matrix; row ``i`` is entity ``entity_ids[i]``.
        entity_ids: Entity ids aligned with the rows.
        entity_names: Display names aligned with the rows (``None`` where unknown).
        metric: ``"ip"`` (inner product) or ``"l2"``.
        index: A FAISS index already holding ``embeddings``.
        config: How the index was built (recorded in the manifest).
        relation_types: Optional relation vocabulary of the encoder.
        relation_embeddings: Optional ``[R, d']`` relation embeddings of the encoder.
        manifest: The manifest the index was loaded from (empty for a fresh build).
    """

    def __init__(
        self,
        embeddings: np.ndarray,
        entity_ids: list[str],
        entity_names: list[str | None],
        metric: Metric,
        index: Any,
        config: dict[str, Any],
        relation_types: list[str] | None = None,
        relation_embeddings: np.ndarray | None = None,
        manifest: dict[str, Any] | None = None,
    ) -> None:
        self.embeddings = embeddings
        self.entity_ids = entity_ids
        self.entity_names = entity_names
        self.metric: Metric = metric
        self.index = index
        self.config = config
        self.relation_types = relation_types or []
        self.relation_embeddings = relation_embeddings
        self.manifest = manifest or {}
        self._id_to_idx = {eid: i for i, eid in enumerate(entity_ids)}
        self._name_to_idx: dict[str, int] | None = None
        self._fingerprints: dict[int, str] = {}  # n -> fingerprint of the first n rows (fingerprint, extends)

    # ---- construction ------------------------------------------------------------------
    @classmethod
    def build(
        cls,
        embeddings: np.ndarray,
        entity_ids: Sequence[str],
        entity_names: Sequence[str | None] | None = None,
        metric: Metric = "ip",
        exact_threshold: int = 50_000,
        hnsw_m: int = 32,
        ef_construction: int = 200,
        ef_search: int = 128,
        use_gpu: bool | Literal["auto"] = "auto",
        relation_types: Sequence[str] | None = None,
        relation_embeddings: np.ndarray | None = None,
    ) -> "EntityIndex":
        """Index ``embeddings``.

        Args:
            embeddings: ``[N, d]`` float array (converted to contiguous float32).
            entity_ids: ``N`` unique ids.
            entity_names: ``N`` display names (or ``None`` for all unknown).
            metric: ``"ip"``, ``"cosine"`` or ``"l2"``; ``ip``/``l2`` match the decoder
                (DistMult/ComplEx: ip, RotatE: l2); ``cosine`` ignores vector norms (entity popularity).
            exact_threshold: Up to this many rows the index is exact (``IndexFlat``);
                above it, ``IndexHNSWFlat``.
            hnsw_m: HNSW graph degree.
            ef_construction: HNSW build-time beam width.
            ef_search: HNSW query-time beam width (recall/latency trade-off).
            use_gpu: ``"auto"`` puts an exact index on the GPU when faiss sees one.
            relation_types: Relation vocabulary to keep with the index.
            relation_embeddings: Relation embeddings to keep with the index.
        """
        emb, ids, names = checked_inputs(embeddings, entity_ids, entity_names, metric)
        index, kind = faiss_index(emb, metric, emb.shape[0] <= exact_threshold, hnsw_m, ef_construction, ef_search)
        config = {
            "metric": metric,
            "index_type": kind,
            "exact_threshold": exact_threshold,
            "hnsw_m": hnsw_m,
            "ef_construction": ef_construction,
            "ef_search": ef_search,
        }
        out = cls(
            emb,
            ids,
            names,
            metric,
            index,
            config,
            relation_types=list(relation_types) if relation_types is not None else None,
            relation_embeddings=None
            if relation_embeddings is None
            else np.ascontiguousarray(np.asarray(relation_embeddings, dtype=np.float32)),
        )
        out._maybe_to_gpu(use_gpu)
        return out

    def _maybe_to_gpu(self, use_gpu: bool | Literal["auto"]) -> None:
        """Move an exact index onto GPU 0 when asked for (or ``"auto"``) and available."""
        if use_gpu is False or self.config["index_type"] != "flat":
            return
        if _gpu_count() == 0:
            if use_gpu is True:
                raise RuntimeError("use_gpu=True but faiss sees no GPU (install faiss-gpu and check CUDA)")
            return
        import faiss

        self._gpu_resources = faiss.StandardGpuResources()
        self.index = faiss.index_cpu_to_gpu(self._gpu_resources, 0, self.index)
        self.config = {**self.config, "on_gpu": True}

    # ---- properties --------------------------------------------------------------------
    @property
    def dim(self) -> int:
        return int(self.embeddings.shape[1])

    def __len__(self) -> int:
        return int(self.embeddings.shape[0])

    @property
    def on_gpu(self) -> bool:
        return bool(self.config.get("on_gpu", False))

    @property
    def fingerprint(self) -> str:
        """Short sha256 of the embedding matrix and id order; a fusion model stores it to refuse
        a different index later."""
        return self._prefix_fingerprint(len(self))

    def _prefix_fingerprint(self, n: int) -> str:
        if n not in self._fingerprints:  # computed once per n: a model load checks an extended index twice
            self._fingerprints[n] = _fingerprint(self.embeddings[:n], self.entity_ids[:n])
        return self._fingerprints[n]

    @property
    def ids_digest(self) -> str:
        """:func:`entity_ids_digest` of the rows: equal to the store's when row ``i`` is store idx ``i``."""
        return entity_ids_digest(self.entity_ids)

    def extends(self, fingerprint: str | None, num_entities: int | None) -> bool:
        """Whether this index is the one of ``fingerprint`` (``num_entities`` rows), or begins with exactly
        its rows and ids and has more: what ``kgfm extend-index`` writes (checked on content)."""
        if fingerprint == self.fingerprint or num_entities is None or not 0 < num_entities < len(self):
            return fingerprint == self.fingerprint
        return self._prefix_fingerprint(num_entities) == fingerprint

    def check_rows(self, entity_ids: Sequence[str], where: str, extend_cmd: str = "kgfm extend-index") -> None:
        """Require that row ``i`` of this index is entity ``entity_ids[i]`` (the store's idx order);
        the error names ``extend_cmd`` when the store only has entities appended.

        Raises:
            ArtifactError: the index was built from another graph or order; rebuild it from this store.
        """
        if len(entity_ids) == len(self) and entity_ids_digest(entity_ids) == self.ids_digest:
            return
        counts = f"index {len(self):,} entities, store {len(entity_ids):,}"
        if len(entity_ids) > len(self) and list(entity_ids[:len(self)]) == self.entity_ids:
            added = len(entity_ids) - len(self)
            raise ArtifactError(f"{where}: the store has {added:,} {'entity' if added == 1 else 'entities'} added after the "
                                f"entity index was built ({counts}); `{extend_cmd}` embeds {'it' if added == 1 else 'them'} with the trained graph "
                                "encoder, no retraining")
        raise ArtifactError(f"{where}: the entity index rows are not the store's entities in idx order ({counts}; "
                            f"digests {self.ids_digest} and {entity_ids_digest(entity_ids)}); rebuild the index with "
                            "`kgfm train --stage graph` on this store")

    # ---- lookups -----------------------------------------------------------------------
    def idx_of(self, entity_id: str) -> int:
        """Row of ``entity_id``; raises :class:`UnknownEntityError`."""
        try:
            return self._id_to_idx[entity_id]
        except KeyError:
            raise UnknownEntityError(f"entity {entity_id!r} is not in the index ({len(self)} entities)") from None

    def has(self, entity_id: str) -> bool:
        return entity_id in self._id_to_idx

    def resolve(self, key: str) -> int:
        """Row of an entity given its id, or else its exact display name (first match)."""
        if key in self._id_to_idx:
            return self._id_to_idx[key]
        if self._name_to_idx is None:
            self._name_to_idx = {}
            for i, name in enumerate(self.entity_names):
                if name is not None and name not in self._name_to_idx:
                    self._name_to_idx[name] = i
        if key in self._name_to_idx:
            return self._name_to_idx[key]
        raise UnknownEntityError(f"no entity with id or exact name {key!r} in the index ({len(self)} entities)")

    # ---- search ------------------------------------------------------------------------
    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` entities for each query row.

        Args:
            queries: ``[n, d]`` (or ``[d]``) float array.
            k: Results per query; when the index holds fewer entities the tail is padded with
                score ``-inf`` and idx ``-1``.

        Returns:
            ``(scores [n, k] float32, idx [n, k] int64)``, best first, higher score = closer.
        """
        q = np.asarray(queries, dtype=np.float32)
        if q.ndim == 1:
            q = q[None, :]
        if q.ndim != 2 or q.shape[1] != self.dim:
            raise ValueError(f"queries must be [n, {self.dim}], got shape {q.shape}")
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        q = np.ascontiguousarray(_unit(q) if self.metric == "cosine" else q)
        kk = min(k, len(self))
        dist, idx = self.index.search(q, kk)
        scores = -dist if self.metric == "l2" else dist
        scores = scores.astype(np.float32, copy=False)
        idx = idx.astype(np.int64, copy=False)
        if kk < k:
            pad = k - kk
            scores = np.concatenate([scores, np.full((q.shape[0], pad), -np.inf, np.float32)], axis=1)
            idx = np.concatenate([idx, np.full((q.shape[0], pad), -1, np.int64)], axis=1)
        scores[idx < 0] = -np.inf
        return scores, idx

    def neighbors(self, entity_id: str, k: int = 10) -> list[tuple[str, str | None, float]]:
        """The ``k`` entities nearest to ``entity_id`` (itself excluded), best first."""
        row = self.resolve(entity_id)
        scores, idx = self.search(self.embeddings[row][None, :], min(k + 1, len(self)))
        out: list[tuple[str, str | None, float]] = []
        for score, i in zip(scores[0], idx[0]):
            if i < 0 or i == row:
                continue
            out.append((self.entity_ids[i], self.entity_names[i], float(score)))
        return out[:k]

    # ---- persistence -------------------------------------------------------------------
    def _cpu_index(self) -> Any:
        if not self.on_gpu:
            return self.index
        import faiss

        return faiss.index_gpu_to_cpu(self.index)

    def save(self, dest: Path, manifest_extra: dict[str, Any] | None = None) -> dict[str, Any]:
        """Write the index atomically as an ``entity-index`` artifact.

        Args:
            dest: Directory (replaced if it exists).
            manifest_extra: More manifest fields, e.g. ``{"encoder": {"path": ..., "manifest_sha256": ...}}``.

        Returns:
            The manifest written.
        """
        import faiss
        from safetensors.numpy import save_file

        cpu_index = self._cpu_index()
        tensors = {"entities": self.embeddings}
        if self.relation_embeddings is not None:
            tensors["relations"] = self.relation_embeddings
        vocab = {
            "entity_ids": self.entity_ids,
            "entity_names": self.entity_names,
            "relation_types": self.relation_types,
        }
        config = {k: v for k, v in self.config.items() if k != "on_gpu"}
        manifest = {
            **dict(manifest_extra or {}),
            "config": config,
            "counts": {"entities": len(self), "dim": self.dim, "relations": len(self.relation_types)},
            "fingerprint": self.fingerprint,
            "entity_ids_digest": self.ids_digest,
        }
        return write_artifact(
            Path(dest),
            KIND,
            {
                "index.faiss": lambda p: faiss.write_index(cpu_index, str(p)),
                "embeddings.safetensors": lambda p: save_file(tensors, str(p)),
                "vocab.json": lambda p: p.write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8"),
            },
            manifest,
        )

    @classmethod
    def load(cls, dest: Path, use_gpu: bool | Literal["auto"] = "auto") -> "EntityIndex":
        """Load and verify an index written by :meth:`save`.

        Raises:
            ArtifactError: missing files, checksum mismatch, or inconsistent contents.
        """
        import faiss
        from safetensors.numpy import load_file

        dest = Path(dest)
        manifest = read_manifest(dest, KIND, required=("index.faiss", "embeddings.safetensors", "vocab.json"))
        check_safetensors(dest / "embeddings.safetensors")
        try:
            tensors = load_file(str(dest / "embeddings.safetensors"))
            vocab = json.loads((dest / "vocab.json").read_text(encoding="utf-8"))
            index = faiss.read_index(str(dest / "index.faiss"))
        except (OSError, ValueError, RuntimeError) as exc:
            raise ArtifactError(f"{dest}: unreadable entity index ({exc})") from None
        emb = np.ascontiguousarray(tensors["entities"], dtype=np.float32)
        ids = list(vocab["entity_ids"])
        if index.ntotal != emb.shape[0] or len(ids) != emb.shape[0] or index.d != emb.shape[1]:
            raise ArtifactError(
                f"{dest}: inconsistent index (faiss {index.ntotal}x{index.d}, "
                f"embeddings {emb.shape}, {len(ids)} ids)"
            )
        config = dict(manifest.get("config", {}))
        out = cls(
            emb,
            ids,
            list(vocab.get("entity_names") or [None] * len(ids)),
            config.get("metric", "ip"),
            index,
            config,
            relation_types=list(vocab.get("relation_types") or []),
            relation_embeddings=tensors.get("relations"),
            manifest=manifest,
        )
        expected = manifest.get("fingerprint")
        if expected is not None and expected != out.fingerprint:
            raise ArtifactError(f"{dest}: fingerprint mismatch (manifest {expected}, contents {out.fingerprint})")
        if isinstance(index, faiss.IndexHNSW) and "ef_search" in config:
            index.hnsw.efSearch = int(config["ef_search"])
        out._maybe_to_gpu(use_gpu)
        return out

    def __repr__(self) -> str:
        return (
            f"EntityIndex({len(self)} entities, dim={self.dim}, metric={self.metric!r}, "
            f"{self.config.get('index_type')}{' gpu' if self.on_gpu else ''}, fingerprint={self.fingerprint})"
        )
