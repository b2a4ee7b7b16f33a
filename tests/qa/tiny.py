"""One builder for the tiny QA models the QA, CLI and serve tests train: a real LadybugDB store built
from a KB file, a real FAISS index over seeded random embeddings, and a tiny random BERT with
fusion layers fine-tuned on a questions file. Each test module states only what it changes."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np


def tiny_bert(layers: int = 1, hidden: int = 32) -> dict[str, Any]:
    return dict(model_type="bert", hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=2,
                intermediate_size=2 * hidden, vocab_size=30522, max_position_embeddings=64)


def _merge(base: dict[str, Any], extra: dict[str, Any] | None) -> dict[str, Any]:
    out = dict(base)
    for key, value in (extra or {}).items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def train_tiny_qa(
    root: Path,
    kb: Path,
    train: Path,
    *,
    valid: Path | None = None,
    hops: int = 1,
    layers: int = 1,
    hidden: int = 32,
    fusion_layers: tuple[int, ...] = (0,),
    overrides: dict[str, Any] | None = None,
    relative: bool = False,
) -> dict[str, Any]:
    """Build store + index + a fine-tuned tiny model under ``root``.

    Args:
        root: Folder for the store (``graph.lbug``), the index (``index``) and the run (``run``).
        kb: Triples file for ``kgfm build-graph``.
        train: Training questions (MetaQA text).
        valid: Validation questions (default: ``train``, unless ``overrides`` sets ``data.valid_fraction``).
        hops: Hop setting (data and scorer).
        layers: Backbone layers; ``hidden``: backbone width.
        fusion_layers: Encoder layers followed by a fusion layer.
        overrides: Nested QA config keys replacing the defaults (``{"train": {"epochs": 8}}``).
        relative: Write cwd-relative paths into the config (``.kgfm/...``, ``runs/...``) and run from
            ``root``, as a user would; the model then lives in ``root/runs/qa/sample/model``.

    Returns:
        ``{"model": model dir, "summary", "graph", "index", "store": StoreConfig, "cfg": QAConfig}``.
    """
    import torch

    from kgfm.config import StoreConfig
    from kgfm.index.entity_index import EntityIndex
    from kgfm.qa.config import QAConfig
    from kgfm.qa.finetune import finetune
    from kgfm.store.build import BuildGraphConfig, SourceSpec, run_build
    from kgfm.store.factory import open_store

    store_path, index_path, run_path = ((Path(".kgfm/movies.lbug"), Path("runs/graph/index"), Path("runs/qa/sample"))
                                        if relative else (root / "graph.lbug", root / "index", root / "run"))
    here = os.getcwd()
    if relative:
        os.chdir(root)
    try:
        store_cfg = StoreConfig(path=store_path)
        run_build(BuildGraphConfig(store=store_cfg, sources=[SourceSpec(path=kb)]), show_progress=False)
        with open_store(store_cfg) as store:
            graph = store.export_tensors()
        emb = np.random.default_rng(0).normal(size=(graph.num_entities, 16)).astype(np.float32)
        EntityIndex.build(emb, graph.entity_ids, graph.entity_names, metric="ip", use_gpu=False).save(index_path)
        data: dict[str, Any] = {"dataset": "files", "train": str(train), "hops": hops}
        if valid is not None or "valid_fraction" not in (overrides or {}).get("data", {}):
            data["valid"] = str(valid or train)
        cfg = QAConfig.model_validate(_merge({
            "store": {"path": str(store_path)},
            "index": str(index_path),
            "data": data,
            "encoder": {"kind": "fusion", "init": "base", "backbone_config": tiny_bert(layers, hidden),
                        "fusion_layers": list(fusion_layers), "max_length": 24},
            "scorer": {"max_hops": hops, "proj_dim": 16, "dropout": 0.0},
            "train": {"epochs": 1, "batch_size": 10},
            "optim": {"warmup": 0.0},
            "run": {"threads": 1, "output_dir": str(run_path)},
        }, overrides))
        index = EntityIndex.load(index_path)
        torch.manual_seed(0)
        summary = finetune(cfg, graph, index, progress=False)
    finally:
        os.chdir(here)
    model = (root / run_path if relative else run_path) / "model"
    return {"model": model, "summary": summary, "graph": graph, "index": index,
            "store": StoreConfig(path=root / store_path if relative else store_path), "cfg": cfg}
