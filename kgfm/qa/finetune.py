"""``kgfm train --stage finetune``: fine-tune the question encoder + answer scorer on QA pairs.

Outputs under ``config.output``:

* ``model/``  -- the best checkpoint by valid Hits@1 (atomic artifact, see :mod:`kgfm.qa.checkpoint`);
* ``last/``   -- the latest epoch with optimizer state, for ``--resume``;
* ``config.yaml`` (resolved), ``metrics.json`` (per epoch + summary), ``curve.png``.

With ``encoder.freeze: true`` the questions are encoded once (fusion on) and only the scorer
trains on the cached vectors -- minutes instead of tens of minutes on a small CPU.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from kgfm.config import load_config, save_config
from kgfm.qa.candidates import RelationAdjacency, UndirectedAdjacency, candidate_masks, candidate_stats
from kgfm.qa.config import QAConfig
from kgfm.qa.data import EntityAlignment, PreparedQuestions, batch_indices, prepare_examples, target_matrix
from kgfm.qa.evaluate import encode_questions, hits_at_1, rank_answers, summarize
from kgfm.qa.metaqa import EntityLookup, QAExample, metaqa_files, read_qa_file, split_train_valid
from kgfm.qa.model import AnswerScorer, KGQAModel, ScorerShape, multi_positive_loss
from kgfm.store.base import GraphTensors


def load_questions(cfg: QAConfig) -> tuple[list[QAExample], list[QAExample]]:
    """Training and validation questions as the config says (never a test split)."""
    data = cfg.data
    if data.dataset == "metaqa":
        examples = read_qa_file(*metaqa_files(data.root, data.hops, "dev"))
        train, valid = split_train_valid(examples, data.valid_fraction, data.split_seed)
    else:
        examples = read_qa_file(data.train)
        if data.valid is not None:
            train, valid = examples, read_qa_file(data.valid)
        else:
            train, valid = split_train_valid(examples, data.valid_fraction, data.split_seed)
    if data.limit_train:
        train = train[: data.limit_train]
    return train, valid


def export_graph(cfg: QAConfig) -> GraphTensors:
    from kgfm.store.factory import open_store

    with open_store(cfg.store, read_only=True) as store:
        return store.export_tensors()


def load_index(cfg: QAConfig) -> Any | None:
    if cfg.index is None:
        return None
    from kgfm.index.entity_index import EntityIndex

    return EntityIndex.load(cfg.index)


def main(config_path: Path | None, overrides: dict[str, Any] | None = None, resume: bool = False) -> dict[str, Any]:
    """Entry point of ``kgfm train --stage finetune``."""
    cfg = load_config(QAConfig, config_path, overrides)
    torch.set_num_threads(cfg.train.threads)
    graph = export_graph(cfg)
    index = load_index(cfg)
    summary = finetune(cfg, graph, index, resume=resume)
    print(json.dumps({k: v for k, v in summary.items() if k != "history"}, indent=2))
    return summary


def _optimizer(model: KGQAModel, cfg: QAConfig) -> torch.optim.Optimizer:
    enc = [p for p in model.encoder.parameters() if p.requires_grad]
    head = [p for p in model.scorer.parameters() if p.requires_grad]
    groups = [{"params": head, "lr": cfg.train.lr_head}]
    if enc:
        groups.insert(0, {"params": enc, "lr": cfg.train.lr_encoder})
    return torch.optim.AdamW(groups, weight_decay=cfg.train.weight_decay)


def _lr_factor(step: int, total: int, warmup_fraction: float) -> float:
    warm = max(1, int(total * warmup_fraction))
    if step < warm:
        return (step + 1) / warm
    return max(0.05, 0.5 * (1 + math.cos(math.pi * (step - warm) / max(1, total - warm))))


def _plot(history: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [h["epoch"] for h in history]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(epochs, [h["train_loss"] for h in history], "o-", label="train loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax2 = ax.twinx()
    ax2.plot(epochs, [h["valid_hits1"] for h in history], "s-", color="tab:green", label="valid Hits@1")
    if all("valid_hits1_no_fusion" in h for h in history):
        ax2.plot(epochs, [h["valid_hits1_no_fusion"] for h in history], "^--", color="tab:red",
                 label="valid Hits@1, fusion off")
    ax2.set_ylabel("Hits@1")
    fig.legend(loc="lower center", ncol=3, fontsize=8)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    fig.savefig(path, dpi=120)
    plt.close(fig)


def finetune(cfg: QAConfig, graph: GraphTensors, index: Any | None, resume: bool = False,
             progress: bool = True) -> dict[str, Any]:
    """Train and keep the best model by valid Hits@1.

    Args:
        cfg: The resolved config.
        graph: The store's exported graph (``export_tensors()``).
        index: The entity index (``None`` for ``encoder.kind: plain`` without the embedding term).
        resume: Continue from ``{output}/last`` when it exists.
        progress: Show progress bars.

    Returns:
        Summary dict (also written to ``{output}/metrics.json``).
    """
    from tqdm.auto import tqdm

    from kgfm.fusion.linking import EntityLinker
    from kgfm.qa.checkpoint import load_qa_model, restore_optimizer, save_qa_model
    from kgfm.qa.encoding import build_encoder, freeze_lower_layers

    torch.manual_seed(cfg.train.seed)
    out = Path(cfg.output)
    out.mkdir(parents=True, exist_ok=True)
    save_config(cfg, out / "config.yaml")
    t0 = time.perf_counter()
    hops = cfg.data.hops
    train_ex, valid_ex = load_questions(cfg)
    linker = EntityLinker.from_tensors(graph)
    lookup = EntityLookup(graph)
    train = prepare_examples(train_ex, linker, lookup)
    valid = prepare_examples(valid_ex, linker, lookup)
    adjacency = UndirectedAdjacency.from_graph(graph)
    relations = RelationAdjacency.from_graph(graph)
    alignment = EntityAlignment(graph, index)
    cand = candidate_stats(adjacency, valid.topics, valid.answers, hops)
    keep = np.nonzero(train.topics >= 0)[0]
    train = train.subset(keep)
    use_emb = cfg.scorer.use_entity_embeddings and index is not None
    if progress:
        print(f"finetune: {len(train)} train / {len(valid)} valid questions, {hops}-hop candidates "
              f"(valid recall {cand.recall:.3f}, mean size {cand.mean_candidates:.0f})")

    last_dir = out / "last"
    start_epoch, history, best, bad = 1, [], -1.0, 0
    if resume and last_dir.is_dir():
        model, manifest = load_qa_model(last_dir, graph, index)
        model.train()
        start_epoch = int(manifest["epoch"]) + 1
        history, best, bad = manifest["history"], float(manifest["best_valid_hits1"]), int(manifest["bad_epochs"])
    else:
        manifest = None
        encoder = build_encoder(cfg.encoder, index)
        shape = ScorerShape(
            hidden_size=encoder.hidden_size,
            num_directed_relations=relations.num_relations,
            max_hops=cfg.scorer.max_hops,
            entity_dim=int(index.dim) if use_emb else 0,
            proj_dim=cfg.scorer.entity_dim,
            dropout=cfg.scorer.dropout,
        )
        scorer = AnswerScorer(shape)
        scorer.attach_graph(relations, alignment.embeddings() if use_emb else None)
        model = KGQAModel(encoder, scorer)
    if cfg.encoder.freeze:
        for p in model.encoder.parameters():
            p.requires_grad_(False)
    elif cfg.encoder.train_layers is not None:
        freeze_lower_layers(model.encoder, cfg.encoder.train_layers)
    optimizer = _optimizer(model, cfg)
    if manifest is not None and "optimizer" in manifest:
        restore_optimizer(optimizer, last_dir, manifest)

    cached_train = cached_valid = None
    if cfg.encoder.freeze:
        cached_train = encode_questions(model.encoder, train, alignment, cfg.train.eval_batch_size, None, progress)
        cached_valid = encode_questions(model.encoder, valid, alignment, cfg.train.eval_batch_size, None, progress)

    steps_per_epoch = math.ceil(len(train) / cfg.train.batch_size)
    total_steps = steps_per_epoch * cfg.train.epochs
    deadline = t0 + cfg.train.max_minutes * 60 if cfg.train.max_minutes else None
    index_fp = index.fingerprint if index is not None else None
    stopped = "epochs"
    for epoch in range(start_epoch, cfg.train.epochs + 1):
        model.train()
        if cfg.encoder.freeze:
            model.encoder.eval()
        rng = np.random.default_rng(cfg.train.seed + epoch)
        losses = []
        bar = tqdm(list(batch_indices(len(train), cfg.train.batch_size, rng)), desc=f"epoch {epoch}",
                   disable=not progress, leave=False)
        for step, idx in enumerate(bar, start=(epoch - 1) * steps_per_epoch):
            for group, base in zip(optimizer.param_groups, _base_lrs(cfg, optimizer)):
                group["lr"] = base * _lr_factor(step, total_steps, cfg.train.warmup_fraction)
            topics = train.topics[idx]
            cands = candidate_masks(adjacency, topics, hops)
            targets = target_matrix([train.answers[i] for i in idx], graph.num_entities)
            if cached_train is not None:
                q = cached_train[idx]
            else:
                mentions = alignment.mentions_for_index([train.mentions[i] for i in idx])
                q = model.encoder(model.encoder.tokenize([train.texts[i] for i in idx], mentions))
            logits = model.scorer(q, torch.from_numpy(topics), cands)
            loss = multi_positive_loss(logits, targets, cands)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            losses.append(float(loss.detach()))
            bar.set_postfix(loss=f"{np.mean(losses[-50:]):.4f}")
            if deadline is not None and time.perf_counter() > deadline:
                stopped = "time budget"
                break
        record: dict[str, Any] = {"epoch": epoch, "train_loss": float(np.mean(losses)) if losses else float("nan"),
                                  "steps": len(losses)}
        record["valid_hits1"] = _valid_hits(model, valid, alignment, adjacency, hops, cfg, cached_valid, None)
        if model.encoder.kind == "fusion" and cfg.train.eval_fusion_off and cached_valid is None:
            record["valid_hits1_no_fusion"] = _valid_hits(model, valid, alignment, adjacency, hops, cfg, None, False)
        record["elapsed_s"] = round(time.perf_counter() - t0, 1)
        history.append(record)
        if progress:
            print(json.dumps(record))
        improved = record["valid_hits1"] > best
        if improved:
            best, bad = record["valid_hits1"], 0
            save_qa_model(out / "model", model, cfg.model_dump(mode="json"), graph, index_fp,
                          {"epoch": epoch, "valid_hits1": best, "trained_questions": len(train)})
        else:
            bad += 1
        save_qa_model(last_dir, model, cfg.model_dump(mode="json"), graph, index_fp,
                      {"epoch": epoch, "history": history, "best_valid_hits1": best, "bad_epochs": bad},
                      optimizer=optimizer)
        if stopped == "time budget":
            break
        if bad >= cfg.train.patience:
            stopped = "early stopping"
            break

    _plot(history, out / "curve.png")
    summary = {
        "output": str(out),
        "best_valid_hits1": best,
        "epochs_run": len(history),
        "stopped_by": stopped,
        "train_questions": len(train),
        "valid_questions": len(valid),
        "valid_candidates": cand.as_dict(),
        "encoder_kind": cfg.encoder.kind,
        "encoder_init": cfg.encoder.init,
        "frozen_encoder": cfg.encoder.freeze,
        "wall_s": round(time.perf_counter() - t0, 1),
        "history": history,
    }
    (out / "metrics.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    return summary


def _base_lrs(cfg: QAConfig, optimizer: torch.optim.Optimizer) -> list[float]:
    if len(optimizer.param_groups) == 2:
        return [cfg.train.lr_encoder, cfg.train.lr_head]
    return [cfg.train.lr_head]


def _valid_hits(model: KGQAModel, valid: PreparedQuestions, alignment: EntityAlignment,
                adjacency: UndirectedAdjacency, hops: int, cfg: QAConfig, cached: torch.Tensor | None,
                use_fusion: bool | None) -> float:
    vectors = cached if cached is not None else encode_questions(
        model.encoder, valid, alignment, cfg.train.eval_batch_size, use_fusion)
    top, _, _ = rank_answers(model.scorer, vectors, valid.topics, adjacency, hops, 1, cfg.train.eval_batch_size)
    return summarize(hits_at_1(top, valid.answers), valid)["hits@1"]
