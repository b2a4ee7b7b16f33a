"""Graph-encoder training: store -> GNN encoder -> best checkpoint (weights + final embeddings).

``kgfm train --stage graph`` runs :func:`kgfm.index.build.main`, which calls :func:`main` here and
then indexes the checkpoint's embeddings (the index is a later stage, so it is built there).

Outputs under ``output_dir`` (default ``runs/graph``)::

    checkpoint/    best encoder (graph-encoder artifact, by validation MRR)
    last/          last epoch + optimizer state (what ``--resume`` continues from)
    index/         written by kgfm.index.build: EntityIndex over the checkpoint's embeddings
    metrics.json   per-epoch history, best validation and test metrics, split mapping stats
    curve.png      training loss and validation MRR per epoch
    config.yaml    the resolved config
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch

from kgfm.artifacts import ArtifactError
from kgfm.config import load_config, save_config
from kgfm.encoder.config import GraphTrainConfig
from kgfm.encoder.data import LinkPredData, build_data, read_triple_file
from kgfm.encoder.loop import Trainer, TrainState, pick_device
from kgfm.encoder.model import KGEncoder
from kgfm.store.base import GraphTensors


def load_graph(cfg: GraphTrainConfig) -> GraphTensors:
    """Export the whole graph from the configured store."""
    from kgfm.store.factory import open_store

    store = open_store(cfg.store, read_only=True)
    try:
        graph = store.export_tensors(with_text=cfg.data.text_init)
    finally:
        store.close()
    if graph.num_triples == 0:
        raise ArtifactError(f"store {cfg.store.path}: holds no triples; run `kgfm build-graph` first")
    return graph


def prepare_data(cfg: GraphTrainConfig, graph: GraphTensors) -> LinkPredData:
    """Explicit valid/test files mapped through the store vocabulary, or a seeded hold-out."""
    d = cfg.data
    if d.valid is None and d.test is None:
        return build_data(graph, valid_fraction=d.valid_fraction, test_fraction=d.test_fraction, seed=d.split_seed)
    valid = read_triple_file(d.valid) if d.valid is not None else []
    test = read_triple_file(d.test) if d.test is not None else []
    return build_data(graph, valid, test)


def text_features(cfg: GraphTrainConfig, graph: GraphTensors, device: torch.device) -> Optional[torch.Tensor]:
    if not cfg.data.text_init:
        return None
    from kgfm.encoder.text_features import encode_texts, entity_texts

    texts = entity_texts(graph.entity_ids, graph.entity_names, graph.entity_descriptions)
    cache = cfg.data.text_cache or (cfg.output_dir / "text_features.safetensors")
    return encode_texts(texts, cfg.data.text_model, device=device, cache=cache)


def write_curve(history: list, path: Path) -> None:
    """Loss and validation MRR per epoch as a PNG (matplotlib Agg backend)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [h.epoch for h in history]
    fig, ax1 = plt.subplots(figsize=(7, 4))
    ax1.plot(epochs, [h.loss for h in history], color="tab:blue", label="train loss")
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("loss", color="tab:blue")
    val = [(h.epoch, h.val["mrr"]) for h in history if h.val]
    if val:
        ax2 = ax1.twinx()
        ax2.plot(*zip(*val), color="tab:red", marker="o", markersize=3, label="val MRR")
        ax2.set_ylabel("filtered val MRR", color="tab:red")
    fig.tight_layout()
    tmp = path.with_name(path.name + ".tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    os.replace(tmp, path)


def _write_json(path: Path, doc: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(doc, indent=2, default=str), encoding="utf-8")
    os.replace(tmp, path)


def _vocab(graph: GraphTensors) -> dict[str, Any]:
    return {
        "entity_ids": graph.entity_ids,
        "entity_names": graph.entity_names,
        "relation_types": graph.relation_types,
        "relation_predicates": graph.relation_predicates,
    }


def _resume(cfg: GraphTrainConfig, trainer: Trainer, graph: GraphTensors) -> None:
    from kgfm.encoder.checkpoint import load_checkpoint

    last_dir = cfg.output_dir / "last"
    if not (last_dir / "manifest.json").is_file():
        raise ArtifactError(f"{last_dir}: no checkpoint to resume from (train without --resume first)")
    last = load_checkpoint(last_dir)
    if last.vocab.get("entity_ids") != graph.entity_ids or last.vocab.get("relation_types") != graph.relation_types:
        raise ArtifactError(f"{last_dir}: the graph in the store changed since this checkpoint; train afresh")
    if last.manifest.get("config", {}).get("model") != cfg.model.model_dump(mode="json"):
        raise ArtifactError(f"{last_dir}: model config differs from the checkpoint's; cannot resume")
    trainer.model.load_state_dict(last.weights, strict=False)
    opt = last.optimizer_state()
    if opt is not None:
        trainer.optimizer.load_state_dict(opt)
    trainer.state = last.state
    trainer.state.stopped = ""
    trainer.state.bad_evals = 0
    best_dir = cfg.output_dir / "checkpoint"
    if (best_dir / "manifest.json").is_file():
        trainer.best_weights = load_checkpoint(best_dir).weights
    print(f"resuming from {last_dir} at epoch {trainer.state.epoch} (best val MRR {trainer.state.best_mrr:.4f})")


@torch.no_grad()
def final_embeddings(trainer: Trainer) -> dict[str, torch.Tensor]:
    """Entity (``[N, d]``) and decoder relation (``[2R, d]``) embeddings of the current weights."""
    trainer.model.eval()
    return {"entities": trainer.model.encode().float().cpu(), "relations": trainer.model.relation_embeddings().float().cpu()}


def main(config_path: Optional[Path], overrides: dict[str, Any], resume: bool) -> dict:
    """Train the graph encoder, keep the best checkpoint (with final embeddings); returns the metrics document."""
    from kgfm.encoder.checkpoint import save_checkpoint

    cfg = load_config(GraphTrainConfig, config_path, overrides)
    t = cfg.train
    torch.set_num_threads(t.num_threads)
    random.seed(t.seed)
    np.random.seed(t.seed)
    torch.manual_seed(t.seed)
    device = pick_device(t.device)
    out = cfg.output_dir
    out.mkdir(parents=True, exist_ok=True)
    save_config(cfg, out / "config.yaml")

    graph = load_graph(cfg)
    data = prepare_data(cfg, graph)
    print(
        f"graph: {graph.num_entities} entities, {graph.num_relations} relations, {len(data.train)} train / "
        f"{len(data.valid)} valid / {len(data.test)} test triples "
        f"({data.valid_missing} valid, {data.test_missing} test unmapped) on {device}"
    )
    feats = text_features(cfg, graph, device)
    model = KGEncoder(graph.num_entities, graph.num_relations, cfg.model, feats)
    trainer = Trainer(model, data, t, device, max_valid_triples=cfg.data.max_valid_triples)
    if resume:
        _resume(cfg, trainer, graph)
    vocab = _vocab(graph)
    config_doc = cfg.model_dump(mode="json")
    best_dir, last_dir = out / "checkpoint", out / "last"

    def metrics_doc(extra: dict | None = None) -> dict:
        st = trainer.state
        return {
            "epochs": st.epoch, "best_epoch": st.best_epoch, "best_val_mrr": st.best_mrr,
            "stopped": st.stopped, "train_seconds": st.elapsed, "device": str(device),
            "data": data.stats, "history": [h.__dict__ for h in st.history], **(extra or {}),
        }

    def on_best(tr: Trainer) -> None:
        save_checkpoint(best_dir, tr.model, vocab, tr.state, config_doc)

    def on_epoch(tr: Trainer) -> None:
        st = tr.state
        if st.epoch % t.eval_every and not st.stopped and st.epoch < t.epochs:
            return  # checkpoint + plot at evaluation epochs only (cheap resumes, little I/O)
        save_checkpoint(last_dir, tr.model, vocab, tr.state, config_doc, optimizer=tr.optimizer)
        _write_json(out / "metrics.json", metrics_doc())
        write_curve(tr.state.history, out / "curve.png")

    state: TrainState = trainer.fit(on_best=on_best, on_epoch=on_epoch)
    trainer.restore_best()
    if not (best_dir / "manifest.json").is_file():
        on_best(trainer)
    test = trainer.evaluate("test") if len(data.test) or data.test_missing else {}
    valid = trainer.evaluate("valid_full") if len(data.valid) or data.valid_missing else {}
    doc = metrics_doc({"valid": valid, "test": test})
    save_checkpoint(
        best_dir, trainer.model, vocab, state, config_doc,
        extra={"metrics": {"valid": valid, "test": test}, "index_metric": cfg.index_metric()},
        embeddings=final_embeddings(trainer),
    )
    _write_json(out / "metrics.json", doc)
    write_curve(state.history, out / "curve.png")
    if test:
        print(
            f"test: MRR {test['mrr']:.4f}  H@1 {test['hits@1']:.4f}  H@3 {test['hits@3']:.4f}  "
            f"H@10 {test['hits@10']:.4f}  ({test['queries']} queries, {test['missing_queries']} unmapped)"
        )
    print(f"checkpoint: {best_dir}\nmetrics: {out / 'metrics.json'}")
    return doc
