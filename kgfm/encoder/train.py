"""Graph-encoder training: store -> GNN encoder -> best checkpoint (weights + final embeddings).

``kgfm train --stage graph`` runs :func:`kgfm.index.build.main`, which calls :func:`main` here and
then indexes the checkpoint's embeddings (the index is a later stage, so it is built there).

Outputs under ``run.output_dir`` (default ``runs/graph``)::

    checkpoint/    best encoder (graph-encoder artifact, by validation MRR)
    last/          last epoch + optimizer state (what ``--resume`` continues from)
    index/         written by kgfm.index.build: EntityIndex over the checkpoint's embeddings
    metrics.json   per-epoch history, best validation and test metrics, split mapping stats
    curve.png      training loss and validation MRR per epoch
    config.yaml    the resolved config
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import torch

from kgfm.artifacts import ArtifactError
from kgfm.config import load_config, save_config
from kgfm.encoder.config import GraphTrainConfig
from kgfm.encoder.data import LinkPredData, build_data, read_triple_file
from kgfm.encoder.loop import Trainer
from kgfm.encoder.model import KGEncoder
from kgfm.store.base import GraphTensors
from kgfm.training.loop import setup_run
from kgfm.training.report import ScalarLog, plot_curves, summary, write_json_atomic


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
    cache = cfg.data.text_cache or (cfg.run.output_dir / "text_features.safetensors")
    return encode_texts(texts, cfg.data.text_model, device=device, cache=cache)


def _vocab(graph: GraphTensors) -> dict[str, Any]:
    return {
        "entity_ids": graph.entity_ids,
        "entity_names": graph.entity_names,
        "relation_types": graph.relation_types,
        "relation_predicates": graph.relation_predicates,
    }


def _resume(cfg: GraphTrainConfig, trainer: Trainer, graph: GraphTensors) -> None:
    from kgfm.encoder.checkpoint import load_checkpoint

    last_dir = cfg.run.output_dir / "last"
    if not (last_dir / "manifest.json").is_file():
        raise ArtifactError(f"{last_dir}: no checkpoint to resume from (train without --resume first)")
    last = load_checkpoint(last_dir)
    if last.vocab.get("entity_ids") != graph.entity_ids or last.vocab.get("relation_types") != graph.relation_types:
        raise ArtifactError(f"{last_dir}: the graph in the store changed since this checkpoint; train afresh")
    if last.manifest.get("config", {}).get("model") != cfg.model.model_dump(mode="json"):
        raise ArtifactError(f"{last_dir}: model config differs from the checkpoint's; cannot resume")
    last.training.restore(trainer.model, trainer.optimizer)
    trainer.state = last.state
    trainer.state.stopped = ""
    trainer.state.bad_evals = 0
    best_dir = cfg.run.output_dir / "checkpoint"
    if (best_dir / "manifest.json").is_file():
        trainer.best_weights = load_checkpoint(best_dir).weights
    best = trainer.state.best if trainer.state.best is not None else float("nan")
    print(f"resuming from {last_dir} at epoch {trainer.state.epoch} (best val {cfg.train.monitor} {best:.4f})")


@torch.no_grad()
def final_embeddings(trainer: Trainer) -> dict[str, torch.Tensor]:
    """Entity (``[N, d]``) and decoder relation (``[2R, d]``) embeddings of the current weights."""
    trainer.model.eval()
    return {"entities": trainer.model.encode().float().cpu(), "relations": trainer.model.relation_embeddings().float().cpu()}


def _metrics_doc(trainer: Trainer, data: LinkPredData, device: torch.device, extra: dict | None = None) -> dict:
    st = trainer.state
    return {
        "epochs": st.epoch, "best_epoch": st.best_step, "best_val_" + trainer.settings.monitor: st.best,
        "stopped": st.stopped, "train_seconds": st.elapsed_s, "device": str(device),
        "data": data.stats, "history": st.history, **(extra or {}),
    }


def _write_outputs(trainer: Trainer, data: LinkPredData, device: torch.device, out: Path, extra: dict | None = None) -> dict:
    doc = _metrics_doc(trainer, data, device, extra)
    write_json_atomic(out / "metrics.json", doc)
    monitor = "val_" + trainer.settings.monitor
    plot_curves(trainer.state.history, "epoch", ["loss"], [monitor], out / "curve.png")
    return doc


def main(config_path: Optional[Path], overrides: dict[str, Any], resume: bool) -> dict:
    """Train the graph encoder, keep the best checkpoint (with final embeddings); returns the metrics document."""
    from kgfm.encoder.checkpoint import save_checkpoint

    cfg = load_config(GraphTrainConfig, config_path, overrides)
    device = setup_run(cfg.run)
    out = cfg.run.output_dir
    save_config(cfg, out / "config.yaml")
    graph = load_graph(cfg)
    data = prepare_data(cfg, graph)
    print(
        f"graph: {graph.num_entities} entities, {graph.num_relations} relations, {len(data.train)} train / "
        f"{len(data.valid)} valid / {len(data.test)} test triples "
        f"({data.valid_missing} valid, {data.test_missing} test unmapped) on {device}"
    )
    model = KGEncoder(graph.num_entities, graph.num_relations, cfg.model, text_features(cfg, graph, device))
    trainer = Trainer(model, data, cfg, device, max_valid_triples=cfg.data.max_valid_triples)
    if resume:
        _resume(cfg, trainer, graph)
    vocab, config_doc = _vocab(graph), cfg.model_dump(mode="json")
    best_dir, last_dir = out / "checkpoint", out / "last"
    scalars = ScalarLog(out / "tensorboard", cfg.run.tensorboard)

    def on_best(tr: Trainer) -> None:
        save_checkpoint(best_dir, tr.model, vocab, tr.state, config_doc)

    def on_epoch(tr: Trainer) -> None:
        st = tr.state
        scalars.log(st.epoch, {k: v for k, v in st.history[-1].items() if k != "val"})
        if st.epoch % cfg.train.eval_every and not st.stopped and st.epoch < cfg.train.epochs:
            return  # checkpoint + plot at evaluation epochs only (cheap resumes, little I/O)
        save_checkpoint(last_dir, tr.model, vocab, tr.state, config_doc, optimizer=tr.optimizer)
        _write_outputs(tr, data, device, out)

    state = trainer.fit(on_best=on_best, on_epoch=on_epoch)
    scalars.close()
    trainer.restore_best()
    test = trainer.evaluate("test") if len(data.test) or data.test_missing else {}
    valid = trainer.evaluate("valid_full") if len(data.valid) or data.valid_missing else {}
    save_checkpoint(
        best_dir, trainer.model, vocab, state, config_doc,
        extra={"metrics": {"valid": valid, "test": test}, "index_metric": cfg.index_metric()},
        embeddings=final_embeddings(trainer),
    )
    doc = _write_outputs(trainer, data, device, out, {"valid": valid, "test": test})
    fields: dict[str, Any] = {"epochs": state.epoch, "stopped": state.stopped}
    if test:
        fields.update({"test MRR": test["mrr"], "H@1": test["hits@1"], "H@10": test["hits@10"],
                       "queries": test["queries"], "unmapped": test["missing_queries"]})
    summary("graph", fields)
    print(f"checkpoint: {best_dir}\nmetrics: {out / 'metrics.json'}")
    return doc
