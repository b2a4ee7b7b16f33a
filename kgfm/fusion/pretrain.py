"""``kgfm train --stage pretrain``: knowledge pretraining of the fusion model (MLM + masked entities).

Single process, or DDP under ``torchrun`` (gloo on CPU, NCCL on GPU)::

    kgfm train --stage pretrain --config configs/pretrain.yaml
    torchrun --nproc_per_node 2 -m kgfm.fusion.pretrain --config configs/pretrain.yaml

Outputs under ``run.output_dir``: ``config.yaml`` (resolved), ``checkpoint/`` (a
``fusion-pretrain-checkpoint`` in the toolkit's format, :mod:`kgfm.training.checkpoint`;
``--resume`` continues from it), ``model/`` (the final ``fusion-model`` artifact),
``metrics.json`` and ``curve.png``. Corpus mentions are store idx, which are the index rows
(checked through the corpus and index ``entity_ids_digest``).
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, model_validator

from kgfm.config import ConfigError, StrictModel, load_config, save_config
from kgfm.fusion.model import FusionConfig
from kgfm.training.checkpoint import Progress, load_checkpoint, save_checkpoint
from kgfm.training.loop import Budget, EarlyStopping, distributed, seed_everything
from kgfm.training.optim import make_optimizer, set_lr
from kgfm.training.report import ScalarLog, plot_curves, summary, write_json_atomic
from kgfm.training.settings import OptimSettings, RunSettings, reject_legacy_keys

CHECKPOINT_KIND = "fusion-pretrain-checkpoint"


class PretrainSettings(StrictModel):
    steps: int = Field(1000, ge=1, description="schedule length (warmup + linear decay to 0)")
    stop_after: int | None = Field(None, ge=1, description="stop (checkpointed) at this step; resume later")
    batch_size: int = Field(32, ge=1, description="per process")
    max_length: int = Field(64, ge=8)
    mlm_probability: float = Field(0.15, ge=0.0, le=1.0)
    entity_token_mask: float = Field(0.9, ge=0.0, le=1.0)
    entity_weight: float = Field(1.0, ge=0.0)
    relation_weight: float = Field(1.0, ge=0.0, description="KG head's relation cross-entropy (model.kg_head)")
    negatives: int = Field(-1, ge=-1, description="-1: full softmax over all entities; else sampled count")
    log_every: int = Field(10, ge=1)
    eval_every: int = Field(200, ge=1)
    eval_examples: int = Field(512, ge=1)
    save_every: int = Field(500, ge=1)
    monitor: Literal["entity_mrr", "entity_hits1", "entity_hits10", "mlm_accuracy"] = "entity_mrr"
    patience: int | None = Field(None, ge=1, description="evaluations without a `monitor` gain before stopping")


class PretrainRunSettings(RunSettings):
    output_dir: Path = Path("runs/pretrain")


class PretrainOptimSettings(OptimSettings):
    lr: float = Field(5e-5, gt=0, description="backbone")
    head_lr: float | None = Field(1e-3, gt=0, description="fusion layers, entity head, MLM head (new parameters)")
    schedule: Literal["constant", "linear", "cosine"] = "linear"
    warmup: float = Field(50, ge=0)
    grad_clip: float | None = Field(1.0, gt=0)


class PretrainConfig(StrictModel):
    corpus: Path
    index: Path
    model: FusionConfig = FusionConfig()
    run: PretrainRunSettings = PretrainRunSettings()
    optim: PretrainOptimSettings = PretrainOptimSettings()
    train: PretrainSettings = PretrainSettings()

    @model_validator(mode="before")
    @classmethod
    def _renamed_keys(cls, data: object) -> object:
        return reject_legacy_keys(data)


@dataclass
class _Setup:
    """Everything one pretraining run holds."""

    cfg: PretrainConfig
    rank: int
    world: int
    device: Any
    tokenizer: Any
    train_recs: list[dict[str, Any]]
    valid_recs: list[dict[str, Any]]
    collator: Any
    module: Any
    optimizer: Any
    ddp: Any = None


def _setup(cfg: PretrainConfig) -> _Setup:
    """Index, corpus (checked to be in index row order), tokenizer, model, optimizer; DDP when under torchrun."""
    import torch
    from transformers import AutoTokenizer

    from kgfm.fusion.corpus import corpus_digest, read_corpus
    from kgfm.fusion.model import KnowledgeFusionModel
    from kgfm.fusion.objectives import PretrainCollator, PretrainModule
    from kgfm.hf import offline_env, resolve_model
    from kgfm.index.entity_index import EntityIndex

    tr = cfg.train
    if not Path(cfg.index).exists():
        raise ConfigError(f"index: {cfg.index} does not exist (train the graph stage first)")
    offline_env()
    torch.set_num_threads(cfg.run.threads)
    rank, world, device = distributed(cfg.run.device)
    seed_everything(cfg.run.seed)
    index = EntityIndex.load(cfg.index, use_gpu=False)
    if corpus_digest(cfg.corpus) != index.ids_digest:
        raise ConfigError(f"corpus {cfg.corpus} and index {cfg.index} come from different graphs (or entity "
                          "orders); rebuild both from the same store")
    tokenizer = AutoTokenizer.from_pretrained(resolve_model(cfg.model.base_model))
    valid = [r for r in read_corpus(cfg.corpus, "valid") if r["mentions"]][: tr.eval_examples]
    forward = index.relation_types[: len(index.relation_types) // 2] if cfg.model.kg_head else []
    collator = PretrainCollator(tokenizer, tr.max_length, tr.mlm_probability, tr.entity_token_mask,
                                {name: i for i, name in enumerate(forward)})
    module = PretrainModule(KnowledgeFusionModel(cfg.model, index), tr.negatives, tr.entity_weight,
                            tr.relation_weight).to(device)
    if not cfg.model.fusion:  # the without-KG baseline: fusion layers exist but never run
        module.model.fusion_layers.requires_grad_(False)
    optimizer = make_optimizer(module, cfg.optim, is_head=lambda n: not n.startswith("model.backbone."))
    return _Setup(cfg, rank, world, device, tokenizer, read_corpus(cfg.corpus, "train"), valid, collator,
                  module, optimizer)


def _wrap_ddp(st: _Setup) -> Any:
    from torch.nn.parallel import DistributedDataParallel

    if st.world == 1:
        return st.module
    with warnings.catch_warnings():  # the entity table is identical on every rank: never broadcast it
        warnings.simplefilter("ignore", FutureWarning)
        ids = [st.device.index] if st.device.type == "cuda" else None
        return DistributedDataParallel(st.module, device_ids=ids, broadcast_buffers=False)


def _batch(st: _Setup, step: int) -> dict[str, Any]:
    """The (deterministic, resumable) batch of ``step`` for this rank."""
    import torch

    tr = st.cfg.train
    per_epoch = max(1, len(st.train_recs) // (tr.batch_size * st.world))
    epoch, pos = divmod(step, per_epoch)
    perm = np.random.default_rng(st.cfg.run.seed + epoch).permutation(len(st.train_recs))
    start = (pos * st.world + st.rank) * tr.batch_size
    recs = [st.train_recs[i] for i in perm[np.arange(start, start + tr.batch_size) % len(perm)]]
    seed = st.cfg.run.seed * 1_000_003 + step * 131 + st.rank
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)  # dropout + sampled negatives: a resumed run repeats the same steps
    return {k: v.to(st.device) for k, v in st.collator(recs, gen).items()}


def _step(st: _Setup, step: int) -> dict[str, Any]:
    """One optimisation step; returns the losses."""
    import torch

    set_lr(st.optimizer, step, st.cfg.train.steps, st.cfg.optim)
    losses = st.ddp(_batch(st, step))
    st.optimizer.zero_grad(set_to_none=True)
    losses["loss"].backward()
    if st.cfg.optim.grad_clip is not None:
        torch.nn.utils.clip_grad_norm_(st.module.parameters(), st.cfg.optim.grad_clip)
    st.optimizer.step()
    return losses


def evaluate(module: Any, collator: Any, records: list[dict[str, Any]], batch_size: int, seed: int,
             use_fusion: bool | None = None) -> dict[str, float]:
    """Validation MLM loss/accuracy and masked-entity Hits@1/10/MRR (full ranking, mentions fully masked)."""
    import torch

    was = module.training
    module.eval()
    gen = torch.Generator().manual_seed(seed)
    tot: dict[str, float] = {}
    device = next(module.parameters()).device
    for i in range(0, len(records), batch_size):
        batch = collator(records[i : i + batch_size], gen, evaluation=True)
        res = module.evaluate({k: v.to(device) for k, v in batch.items()}, use_fusion=use_fusion)
        for k, v in res.items():
            tot[k] = tot.get(k, 0.0) + v
    module.train(was)
    n_ent, n_mlm = max(tot.get("ent_count", 0.0), 1.0), max(tot.get("mlm_count", 0.0), 1.0)
    return {"mlm_loss": tot.get("mlm_loss_sum", 0.0) / n_mlm, "mlm_accuracy": tot.get("mlm_correct", 0.0) / n_mlm,
            "entity_hits1": tot.get("hits1", 0.0) / n_ent, "entity_hits10": tot.get("hits10", 0.0) / n_ent,
            "entity_mrr": tot.get("rr", 0.0) / n_ent, "entity_examples": tot.get("ent_count", 0.0)}


def _train(st: _Setup, progress: Progress) -> Progress:
    """Steps until ``train.steps``/``stop_after``, early stopping or the time budget; logs, evaluates, saves."""
    import torch.distributed as dist
    from kgfm.progress import progress as report_progress

    cfg, tr = st.cfg, st.cfg.train
    out, ckpt = cfg.run.output_dir, cfg.run.output_dir / "checkpoint"
    stopper = EarlyStopping(tr.monitor, tr.patience or 10**9)
    budget = Budget(cfg.run.max_minutes, progress.elapsed_s)
    scalars = ScalarLog(out / "tensorboard", cfg.run.tensorboard and st.rank == 0)
    bar = report_progress(total=tr.steps, initial=progress.step, desc="pretrain", disable=st.rank != 0, mininterval=2.0)
    st.module.train()
    t0, tokens, stop, first = time.perf_counter(), 0.0, min(tr.steps, tr.stop_after or tr.steps), progress.step
    while progress.step < stop and not progress.stopped:
        losses = _step(st, progress.step)
        tokens += float(losses["tokens"])
        progress.step = step = progress.step + 1
        progress.elapsed_s = budget.elapsed
        bar.update(1)
        if budget.expired():
            progress.stopped = f"time budget of {cfg.run.max_minutes} min reached"
        last = step == stop or bool(progress.stopped)
        if st.rank == 0 and (step % tr.log_every == 0 or last):
            rec = {"step": step, "loss": float(losses["loss"].detach()), "mlm": float(losses["mlm"]),
                   "entity": float(losses["entity"]), "relation": float(losses["relation"]), "lr": st.optimizer.param_groups[0]["lr"],
                   "tokens_per_s": tokens * st.world / max(time.perf_counter() - t0, 1e-9),
                   "steps_per_s": (step - first) / max(time.perf_counter() - t0, 1e-9)}
            progress.history.append(rec)
            scalars.log(step, rec, "train/")
            bar.set_postfix(loss=f"{rec['loss']:.3f}", mlm=f"{rec['mlm']:.3f}", ent=f"{rec['entity']:.3f}")
        if st.rank == 0 and st.valid_recs and (step % tr.eval_every == 0 or last):
            ev = evaluate(st.module, st.collator, st.valid_recs, tr.batch_size, cfg.run.seed)
            progress.evals.append({"step": step, **ev})
            stopper.update(progress, ev, step)
            scalars.log(step, ev, "valid/")
        if st.rank == 0 and (step % tr.save_every == 0 or last):
            save_checkpoint(ckpt, CHECKPOINT_KIND, st.module.state_dict(), st.optimizer, progress)
        if st.world > 1 and (step % tr.save_every == 0 or step % tr.eval_every == 0):
            dist.barrier()
    bar.close()
    scalars.close()
    return progress


def _ddp_digests(st: _Setup) -> list[str]:
    """Per-rank parameter checksums (identical on every rank when DDP kept them in sync)."""
    import torch
    import torch.distributed as dist

    if st.world == 1:
        return []
    flat = torch.cat([p.detach().reshape(-1) for p in st.module.parameters()])
    digest = torch.tensor([float(flat.double().sum()), float((flat.double() ** 2).sum())], dtype=torch.float64,
                          device=st.device if st.device.type == "cuda" else None)
    gathered = [torch.zeros_like(digest) for _ in range(st.world)]
    dist.all_gather(gathered, digest)
    return [f"{g[0].item():.10e}/{g[1].item():.10e}" for g in gathered]


def _finish(st: _Setup, progress: Progress, checks: list[str]) -> dict[str, Any]:
    """Rank 0: the final model artifact, metrics.json, curve.png and the summary line."""
    cfg, out = st.cfg, st.cfg.run.output_dir
    st.module.model.save_pretrained(out / "model", tokenizer=st.tokenizer,
                                    extra={"pretraining": {"steps": progress.step, "corpus": str(cfg.corpus)}})
    final = progress.evals[-1] if progress.evals else None
    metrics = {
        "steps": progress.step, "world_size": st.world, "train_records": len(st.train_recs),
        "stopped": progress.stopped or f"{progress.step} steps", "final_eval": final,
        "best_" + cfg.train.monitor: progress.best, "best_step": progress.best_step,
        "train_seconds": progress.elapsed_s, "steps_per_s": progress.step / max(progress.elapsed_s, 1e-9),
        "history": progress.history, "evals": progress.evals, "fusion": cfg.model.fusion,
        "ddp_param_digests": checks, "ddp_identical": len(set(checks)) <= 1,
    }
    write_json_atomic(out / "metrics.json", metrics)
    plot_curves(progress.history, "step", ["loss", "mlm", "entity"], ["entity_hits1", "entity_hits10", "mlm_accuracy"],
                out / "curve.png", evals=progress.evals)
    fields: dict[str, Any] = {"steps": progress.step, "steps/s": metrics["steps_per_s"]}
    if final:
        fields.update({"entity MRR": final["entity_mrr"], "H@1": final["entity_hits1"], "MLM acc": final["mlm_accuracy"]})
    summary("pretrain", fields)
    return metrics


def main(config_path: Path | None, overrides: dict[str, Any] | None = None, resume: bool = False) -> dict[str, Any]:
    """Run knowledge pretraining; returns the final metrics (rank 0; others return ``{}``)."""
    import torch.distributed as dist

    cfg = load_config(PretrainConfig, config_path, overrides)
    st = _setup(cfg)
    out, ckpt = cfg.run.output_dir, cfg.run.output_dir / "checkpoint"
    if st.rank == 0:
        out.mkdir(parents=True, exist_ok=True)
        save_config(cfg, out / "config.yaml")
    progress = Progress()
    if resume:
        if not (ckpt / "manifest.json").is_file():
            raise ConfigError(f"--resume: no checkpoint at {ckpt}")
        saved = load_checkpoint(ckpt, CHECKPOINT_KIND)
        saved.restore(st.module, st.optimizer)
        progress = saved.progress
        progress.stopped = ""
    st.ddp = _wrap_ddp(st)
    progress = _train(st, progress)
    checks = _ddp_digests(st)
    metrics = _finish(st, progress, checks) if st.rank == 0 else {}
    if st.world > 1:
        dist.barrier()
        dist.destroy_process_group()
    return metrics


def _cli() -> None:
    import argparse

    from kgfm.config import parse_overrides

    parser = argparse.ArgumentParser(description="knowledge pretraining (for torchrun; else use kgfm train)")
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--set", action="append", default=[], dest="set_")
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args()
    main(args.config, parse_overrides(args.set_), args.resume)


if __name__ == "__main__":
    _cli()
