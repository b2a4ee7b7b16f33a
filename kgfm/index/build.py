"""Building the entity index from an encoder checkpoint, and ``kgfm train --stage graph`` end to end.

The index is a later stage than the encoder, so the full command lives here: :func:`main` trains
the encoder (:func:`kgfm.encoder.train.main`) and then indexes the best checkpoint's final
entity embeddings with :func:`build_index_from_checkpoint`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from kgfm.artifacts import ArtifactError, sha256_file
from kgfm.index.entity_index import EntityIndex, Metric


def build_index_from_checkpoint(
    checkpoint_dir: Path,
    dest: Path,
    metric: Optional[Metric] = None,
    exact_threshold: int = 50_000,
    hnsw_m: int = 32,
    ef_construction: int = 200,
    ef_search: int = 128,
    use_gpu: bool | str = "auto",
) -> EntityIndex:
    """Index the entity embeddings stored in a ``graph-encoder`` checkpoint and save it to ``dest``.

    Args:
        checkpoint_dir: Best-checkpoint directory written by ``kgfm train --stage graph``.
        dest: Index directory (replaced atomically).
        metric: ``ip``/``cosine``/``l2``; default: what the checkpoint recorded for its decoder.
        exact_threshold: Flat index up to this many entities, HNSW above.
        hnsw_m: HNSW degree.
        ef_construction: HNSW build beam.
        ef_search: HNSW query beam.
        use_gpu: ``"auto"``: exact index on the GPU when faiss has one.

    Raises:
        ArtifactError: the checkpoint is tampered or holds no embeddings.
    """
    from kgfm.encoder.checkpoint import load_checkpoint

    ck = load_checkpoint(Path(checkpoint_dir))
    if ck.embeddings is None or "entities" not in ck.embeddings:
        raise ArtifactError(f"{checkpoint_dir}: checkpoint holds no embeddings.safetensors (not a finished run?)")
    vocab = ck.vocab
    rel_types = list(vocab.get("relation_types", []))
    cfg = ck.manifest.get("config", {})
    index = EntityIndex.build(
        ck.embeddings["entities"].numpy(), vocab["entity_ids"], vocab.get("entity_names"),
        metric=metric or ck.manifest.get("index_metric", "ip"), exact_threshold=exact_threshold,
        hnsw_m=hnsw_m, ef_construction=ef_construction, ef_search=ef_search, use_gpu=use_gpu,  # type: ignore[arg-type]
        relation_types=rel_types + [f"{r}__inverse" for r in rel_types],
        relation_embeddings=ck.embeddings["relations"].numpy() if "relations" in ck.embeddings else None,
    )
    model_cfg = cfg.get("model", {})
    index.save(
        Path(dest),
        {
            "encoder": {
                "path": str(checkpoint_dir),
                "manifest_sha256": sha256_file(Path(checkpoint_dir) / "manifest.json"),
                "decoder": model_cfg.get("decoder"),
                "conv": model_cfg.get("conv"),
                "epoch": ck.manifest.get("epoch"),
                "trained_on": ck.manifest.get("trained_on"),
            },
            "store": cfg.get("store"),
            "test_metrics": {k: v for k, v in ck.manifest.get("metrics", {}).get("test", {}).items()
                             if not isinstance(v, dict)},
        },
    )
    return index


def main(config_path: Optional[Path], overrides: dict[str, Any], resume: bool) -> dict:
    """``kgfm train --stage graph``: train the encoder, then write ``run.output_dir/index``."""
    from kgfm.config import load_config
    from kgfm.encoder.config import GraphTrainConfig
    from kgfm.encoder.train import main as train_encoder

    doc = train_encoder(config_path, overrides, resume)
    cfg = load_config(GraphTrainConfig, config_path, overrides)
    s, out = cfg.index, cfg.run.output_dir
    index = build_index_from_checkpoint(
        out / "checkpoint", out / "index", metric=cfg.index_metric(),
        exact_threshold=s.exact_threshold, hnsw_m=s.hnsw_m, ef_construction=s.ef_construction, ef_search=s.ef_search,
    )
    print(f"index: {out / 'index'} ({index})")
    doc["index"] = {"path": str(out / "index"), "fingerprint": index.fingerprint,
                    "type": index.config["index_type"], "metric": index.metric}
    return doc
