"""``kgfm train --stage finetune``: fine-tune the question encoder + answer scorer on QA pairs.

Outputs under ``run.output_dir``:

* ``model/``  -- the best checkpoint by valid Hits@1 (atomic artifact, see :mod:`kgfm.qa.checkpoint`);
* ``last/``   -- the latest epoch with optimizer state and progress, for ``--resume``;
* ``config.yaml`` (resolved), ``metrics.json`` (per epoch + summary, atomic), ``curve.png``.

The loop plumbing (parameter groups, LR schedule, time budget, early stopping on
``train.monitor``, checkpoint format, metrics/curve/summary) is :mod:`kgfm.training`; this
module keeps the QA batch, step and evaluation functions.

With ``encoder.freeze: true`` the questions are encoded once (fusion on) and only the scorer
trains on the cached vectors -- minutes instead of tens of minutes on a small CPU.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from kgfm.config import load_config, save_config
from kgfm.qa.candidates import (CandidateStats, RelationAdjacency, UndirectedAdjacency, candidate_sets,
                                candidate_stats, gold_mask)
from kgfm.qa.config import QAConfig
from kgfm.qa.data import PreparedQuestions, batch_indices, mention_triples, prepare_examples
from kgfm.qa.metaqa import EntityLookup, QAExample, metaqa_files, read_qa_file, split_train_valid
from kgfm.qa.model import AnswerScorer, KGQAModel, ScorerShape, multi_positive_loss
from kgfm.qa.ranking import encode_questions, question_hits
from kgfm.store.base import GraphTensors
from kgfm.training.checkpoint import Progress, load_checkpoint
from kgfm.training.loop import Budget, EarlyStopping, setup_run
from kgfm.training.optim import make_optimizer, set_lr
from kgfm.training.report import ScalarLog, plot_curves, summary, write_json_atomic


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
    if data.limit_train and data.limit_train < len(train):  # seeded sample: the files are grouped by type
        keep = np.sort(np.random.default_rng(data.split_seed).choice(len(train), data.limit_train, replace=False))
        train = [train[i] for i in keep]
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
    device = setup_run(cfg.run)
    graph = export_graph(cfg)
    index = load_index(cfg)
    result = finetune(cfg, graph, index, resume=resume, device=device)
    return result


@dataclass
class QAData:
    """Linked training/validation questions and the graph structures the scorer needs."""

    train: PreparedQuestions
    valid: PreparedQuestions
    adjacency: UndirectedAdjacency
    relations: RelationAdjacency
    candidates: CandidateStats


def prepare_data(cfg: QAConfig, graph: GraphTensors) -> QAData:
    """Link the questions, look up gold answers, build the adjacency structures."""
    from kgfm.fusion.linking import EntityLinker

    train_ex, valid_ex = load_questions(cfg)
    linker, lookup = EntityLinker.from_tensors(graph), EntityLookup(graph)
    train, valid = prepare_examples(train_ex, linker, lookup), prepare_examples(valid_ex, linker, lookup)
    adjacency = UndirectedAdjacency.from_graph(graph)
    cand = candidate_stats(adjacency, valid.topics, valid.answers, cfg.data.hops)
    train = train.subset(np.nonzero(train.topics >= 0)[0])
    return QAData(train, valid, adjacency, RelationAdjacency.from_graph(graph), cand)


def build_model(cfg: QAConfig, index: Any | None, relations: RelationAdjacency) -> KGQAModel:
    """A fresh question encoder + scorer (index embeddings as they are: index row == store idx)."""
    from kgfm.qa.encoding import build_encoder

    use_emb = cfg.scorer.use_entity_embeddings and index is not None
    encoder = build_encoder(cfg.encoder, index)
    scorer = AnswerScorer(ScorerShape(
        hidden_size=encoder.hidden_size, num_directed_relations=relations.num_relations,
        max_hops=cfg.scorer.max_hops, entity_dim=int(index.dim) if use_emb else 0,
        proj_dim=cfg.scorer.proj_dim, dropout=cfg.scorer.dropout, path_score=cfg.scorer.path_score,
    ))
    scorer.attach_graph(relations, torch.from_numpy(np.asarray(index.embeddings, dtype=np.float32)) if use_emb else None)
    return KGQAModel(encoder, scorer)


def _freeze(model: KGQAModel, cfg: QAConfig) -> None:
    from kgfm.qa.encoding import freeze_lower_layers

    if cfg.encoder.freeze:
        for p in model.encoder.parameters():
            p.requires_grad_(False)
    elif cfg.encoder.train_layers is not None:
        freeze_lower_layers(model.encoder, cfg.encoder.train_layers)


def train_step(model: KGQAModel, data: QAData, idx: np.ndarray, cfg: QAConfig, cached: torch.Tensor | None) -> torch.Tensor:
    """The loss of one batch of training questions (padded candidate sets, several gold answers)."""
    train = data.train
    topics = train.topics[idx]
    cands = candidate_sets(data.adjacency, topics, cfg.data.hops)
    gold = gold_mask(cands, [train.answers[i] for i in idx])
    if cached is not None:
        q = cached[idx]
    else:
        q = model.encoder(model.encoder.tokenize([train.texts[i] for i in idx],
                                                 mention_triples([train.mentions[i] for i in idx])))
    logits = model.scorer(q, torch.from_numpy(topics), cands)
    return multi_positive_loss(logits, gold)


def _epoch(model: KGQAModel, data: QAData, cfg: QAConfig, optimizer: Any, progress: Progress,
           cached: torch.Tensor | None, budget: Budget, progress_bar: bool) -> tuple[list[float], bool]:
    """One pass over the training questions; returns the losses and whether the budget ran out."""
    from kgfm.progress import epoch_progress  # a bar on a terminal, a line a minute in a log

    model.train()
    if cfg.encoder.freeze:
        model.encoder.eval()
    epoch = progress.epoch + 1
    total = math.ceil(len(data.train) / cfg.train.batch_size) * cfg.train.epochs
    rng = np.random.default_rng(cfg.run.seed + epoch)
    losses: list[float] = []
    bar = epoch_progress(list(batch_indices(len(data.train), cfg.train.batch_size, rng)), desc=f"epoch {epoch}",
                         disable=not progress_bar, leave=False)
    for idx in bar:
        set_lr(optimizer, progress.step, total, cfg.optim)
        loss = train_step(model, data, idx, cfg, cached)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.optim.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.optim.grad_clip)
        optimizer.step()
        progress.step += 1
        losses.append(float(loss.detach()))
        bar.set_postfix(loss=f"{np.mean(losses[-50:]):.4f}")
        if budget.expired():
            return losses, True
    return losses, False


def _validate(model: KGQAModel, data: QAData, cfg: QAConfig, cached: torch.Tensor | None) -> dict[str, float]:
    """Valid Hits@1 (and with fusion off when asked), via :func:`kgfm.qa.ranking.question_hits`."""
    from kgfm.qa.ranking import hits_at_1, rank_answers, summarize

    hops, bs = cfg.data.hops, cfg.train.eval_batch_size
    if cached is not None:
        top, _, _ = rank_answers(model.scorer, cached, data.valid.topics, data.adjacency, hops, 1, bs)
        out = {"valid_hits1": summarize(hits_at_1(top, data.valid.answers), data.valid)["hits@1"]}
    else:
        out = {"valid_hits1": float(question_hits(model, data.valid, data.adjacency, hops, None, bs).mean())}
    if model.encoder.kind == "fusion" and cfg.train.eval_fusion_off and cached is None:
        out["valid_hits1_no_fusion"] = float(question_hits(model, data.valid, data.adjacency, hops, False, bs).mean())
    return out


def head_parameters(fusion_at_head_lr: bool = False) -> Callable[[str], bool]:
    """Names trained at ``optim.head_lr``: the scorer's, and the fusion layers' when asked.

    Args:
        fusion_at_head_lr: ``optim.fusion_at_head_lr``.
    """
    return lambda name: name.startswith("scorer.") or (fusion_at_head_lr and ".fusion_layers." in name)


def _start(cfg: QAConfig, graph: GraphTensors, index: Any | None, data: QAData, resume: bool,
           device: torch.device) -> tuple[KGQAModel, Any, Progress]:
    """The model, optimizer and progress: fresh, or continued from ``run.output_dir/last``."""
    from kgfm.qa.checkpoint import KIND, load_qa_model

    last_dir = cfg.run.output_dir / "last"
    saved = load_checkpoint(last_dir, KIND) if resume and last_dir.is_dir() else None
    model = load_qa_model(last_dir, graph, index, saved.manifest)[0] if saved else build_model(cfg, index, data.relations)
    _freeze(model, cfg)
    model.to(device)
    optimizer = make_optimizer(model, cfg.optim, is_head=head_parameters(cfg.optim.fusion_at_head_lr))
    if saved is None:
        return model, optimizer, Progress()
    saved.restore(None, optimizer)
    saved.progress.stopped = ""
    return model, optimizer, saved.progress


def finetune(cfg: QAConfig, graph: GraphTensors, index: Any | None, resume: bool = False,
             progress: bool = True, device: torch.device | None = None) -> dict[str, Any]:
    """Train and keep the best model by valid Hits@1 (``train.monitor``).

    Args:
        cfg: The resolved config.
        graph: The store's exported graph (``export_tensors()``).
        index: The entity index (``None`` for ``encoder.kind: plain`` without the embedding term);
            its rows must be the store's entities in idx order.
        resume: Continue from ``{run.output_dir}/last`` when it exists.
        progress: Show progress bars.
        device: Where to train (default: ``run.device``).

    Returns:
        Summary dict (also written atomically to ``{run.output_dir}/metrics.json``).
    """
    from kgfm.qa.checkpoint import save_qa_model
    from kgfm.training.loop import seed_everything, select_device

    seed_everything(cfg.run.seed)
    out = cfg.run.output_dir
    out.mkdir(parents=True, exist_ok=True)
    save_config(cfg, out / "config.yaml")
    if index is not None:
        index.check_rows(graph.entity_ids, f"index {cfg.index}")
    device = device or select_device(cfg.run.device)
    data = prepare_data(cfg, graph)
    if progress:
        print(f"finetune: {len(data.train)} train / {len(data.valid)} valid questions, {cfg.data.hops}-hop candidates "
              f"(valid recall {data.candidates.recall:.3f}, mean size {data.candidates.mean_candidates:.0f}) on {device}")
    model, optimizer, state = _start(cfg, graph, index, data, resume, device)
    cached_train = cached_valid = None
    if cfg.encoder.freeze:
        cached_train = encode_questions(model.encoder, data.train, cfg.train.eval_batch_size, None, progress)
        cached_valid = encode_questions(model.encoder, data.valid, cfg.train.eval_batch_size, None, progress)
    budget, stopper = Budget(cfg.run.max_minutes, state.elapsed_s), EarlyStopping(cfg.train.monitor, cfg.train.patience)
    config_doc, index_fp = cfg.model_dump(mode="json"), index.fingerprint if index is not None else None
    scalars = ScalarLog(out / "tensorboard", cfg.run.tensorboard)
    while state.epoch < cfg.train.epochs and not state.stopped:
        losses, expired = _epoch(model, data, cfg, optimizer, state, cached_train, budget, progress)
        state.epoch += 1
        record: dict[str, Any] = {"epoch": state.epoch, "train_loss": float(np.mean(losses)) if losses else float("nan"),
                                  "steps": len(losses), **_validate(model, data, cfg, cached_valid)}
        state.elapsed_s = record["elapsed_s"] = round(budget.elapsed, 1)
        state.history.append(record)
        scalars.log(state.epoch, record)
        if progress:
            print(_epoch_line(record), flush=True)
        if stopper.update(state, record, state.epoch):
            save_qa_model(out / "model", model, config_doc, graph, index_fp,
                          {"epoch": state.epoch, "valid_hits1": state.best, "trained_questions": len(data.train)})
        if expired:
            state.stopped = f"time budget of {cfg.run.max_minutes} min reached"
        save_qa_model(out / "last", model, config_doc, graph, index_fp, {"epoch": state.epoch},
                      optimizer=optimizer, progress=state)
    scalars.close()
    return _report(cfg, data, state)


def _epoch_line(record: dict[str, Any]) -> str:
    """One readable line per epoch (the full record goes to metrics.json)."""
    off = record.get("valid_hits1_no_fusion")
    return (f"epoch {record['epoch']:>3}  loss {record['train_loss']:.4f}  valid Hits@1 {record.get('valid_hits1', 0.0):.4f}"
            + (f" (fusion off {off:.4f})" if off is not None else "") + f"  {record['elapsed_s']:.1f}s")


def _report(cfg: QAConfig, data: QAData, state: Progress) -> dict[str, Any]:
    out = cfg.run.output_dir
    plot_curves(state.history, "epoch", ["train_loss"], ["valid_hits1", "valid_hits1_no_fusion"], out / "curve.png")
    result = {
        "output_dir": str(out), "best_valid_hits1": state.best, "best_epoch": state.best_step,
        "epochs_run": len(state.history), "stopped_by": state.stopped or f"{cfg.train.epochs} epochs",
        "train_questions": len(data.train), "valid_questions": len(data.valid),
        "valid_candidates": data.candidates.as_dict(), "encoder_kind": cfg.encoder.kind,
        "encoder_init": cfg.encoder.init, "frozen_encoder": cfg.encoder.freeze, "wall_s": state.elapsed_s,
        "history": state.history,
    }
    write_json_atomic(out / "metrics.json", result)
    summary("finetune", {"epochs": len(state.history), "best valid Hits@1": state.best or 0.0,
                         "stopped": result["stopped_by"]})
    return result
