"""``kgfm train --stage pretrain``: knowledge pretraining of the fusion model (MLM + masked entities).

Single process, or DDP under ``torchrun`` (gloo on CPU, NCCL on GPU)::

    kgfm train --stage pretrain --config configs/pretrain.yaml
    torchrun --nproc_per_node 2 -m kgfm.fusion.pretrain --config configs/pretrain.yaml

Outputs under ``out``: ``config.yaml`` (resolved), ``checkpoint/`` (a ``fusion-pretrain-checkpoint``
artifact: weights, optimizer state, step, history; ``--resume`` continues from it),
``model/`` (the final ``fusion-model`` artifact), ``metrics.json`` and ``curve.png``.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field

from kgfm.config import ConfigError, StrictModel, load_config, save_config
from kgfm.fusion.model import FusionConfig

CHECKPOINT_KIND = "fusion-pretrain-checkpoint"


class TrainSettings(StrictModel):
    steps: int = Field(1000, ge=1, description="schedule length (warmup + linear decay to 0)")
    stop_after: int | None = Field(None, ge=1, description="stop (checkpointed) at this step; resume later")
    batch_size: int = Field(32, ge=1, description="per process")
    max_length: int = Field(64, ge=8)
    lr: float = Field(5e-5, gt=0, description="backbone learning rate")
    head_lr: float = Field(1e-3, gt=0, description="fusion layers and heads (new parameters)")
    weight_decay: float = 0.01
    warmup_steps: int = Field(50, ge=0)
    mlm_probability: float = Field(0.15, ge=0.0, le=1.0)
    entity_token_mask: float = Field(0.9, ge=0.0, le=1.0)
    entity_weight: float = Field(1.0, ge=0.0)
    negatives: int = Field(-1, ge=-1, description="-1: full softmax over all entities; else sampled count")
    grad_clip: float = 1.0
    log_every: int = Field(10, ge=1)
    eval_every: int = Field(200, ge=1)
    eval_examples: int = Field(512, ge=1)
    save_every: int = Field(500, ge=1)
    seed: int = 0
    num_threads: int = Field(2, ge=1)
    device: str = Field("auto", pattern=r"^(auto|cpu|cuda(:\d+)?)$", description="auto: cuda when available")


class PretrainConfig(StrictModel):
    corpus: Path
    index: Path
    out: Path = Path("runs/pretrain")
    model: FusionConfig = FusionConfig()
    train: TrainSettings = TrainSettings()


def _dist(device: str) -> tuple[int, int, Any]:
    """``(rank, world_size, torch.device)``; under torchrun each rank takes GPU ``LOCAL_RANK``."""
    import torch
    import torch.distributed as dist

    world = int(os.environ.get("WORLD_SIZE", "1"))
    cuda = device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if cuda else "gloo")
    rank = dist.get_rank() if world > 1 else 0
    if cuda:
        local = int(os.environ.get("LOCAL_RANK", "0"))
        dev = torch.device(f"cuda:{local}" if world > 1 or device in ("auto", "cuda") else device)
        torch.cuda.set_device(dev)
    else:
        dev = torch.device("cpu")
    return rank, world, dev


def _map_records(records: list[dict[str, Any]], index: Any) -> tuple[list[dict[str, Any]], int]:
    """Entity ids -> index rows; mentions of entities the index lacks are dropped (counted)."""
    out, dropped = [], 0
    for rec in records:
        mentions = []
        for s, e, eid in rec["mentions"]:
            if index.has(str(eid)):
                mentions.append((int(s), int(e), index.idx_of(str(eid))))
            else:
                dropped += 1
        out.append({"text": rec["text"], "mentions": mentions})
    return out, dropped


def _save_checkpoint(dest: Path, module: Any, optimizer: Any, state: dict[str, Any]) -> None:
    import torch
    from safetensors.torch import save_file

    from kgfm.artifacts import write_artifact

    weights = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    opt = optimizer.state_dict()
    tensors = {f"{pid}.{name}": torch.as_tensor(val).cpu().contiguous()
               for pid, st in opt["state"].items() for name, val in st.items()}
    groups = [{k: v for k, v in g.items()} for g in opt["param_groups"]]
    write_artifact(dest, CHECKPOINT_KIND, {
        "weights.safetensors": lambda p: save_file(weights, str(p)),
        "optimizer.safetensors": lambda p: save_file(tensors or {"_empty": torch.zeros(0)}, str(p)),
        "trainer_state.json": lambda p: p.write_text(json.dumps({**state, "param_groups": groups}, default=str),
                                                     encoding="utf-8"),
    }, {"step": state["step"]})


def _load_checkpoint(src: Path, module: Any, optimizer: Any) -> dict[str, Any]:
    from safetensors.torch import load_file

    from kgfm.artifacts import ArtifactError, read_manifest

    read_manifest(src, CHECKPOINT_KIND)
    state = json.loads((src / "trainer_state.json").read_text(encoding="utf-8"))
    missing, unexpected = module.load_state_dict(load_file(str(src / "weights.safetensors")), strict=False)
    if missing or unexpected:
        raise ArtifactError(f"{src}: checkpoint does not fit the config (missing {missing[:3]}, "
                            f"unexpected {unexpected[:3]})")
    flat = load_file(str(src / "optimizer.safetensors"))
    opt_state: dict[int, dict[str, Any]] = {}
    for key, val in flat.items():
        if key == "_empty":
            continue
        pid, name = key.split(".", 1)
        opt_state.setdefault(int(pid), {})[name] = val
    optimizer.load_state_dict({"state": opt_state, "param_groups": state.pop("param_groups")})
    return state


def _plot(history: list[dict[str, float]], evals: list[dict[str, float]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    steps = [h["step"] for h in history]
    for key in ("loss", "mlm", "entity"):
        axes[0].plot(steps, [h[key] for h in history], label=key)
    axes[0].set_xlabel("step"), axes[0].set_ylabel("training loss"), axes[0].legend()
    if evals:
        es = [e["step"] for e in evals]
        for key in ("entity_hits1", "entity_hits10", "mlm_accuracy"):
            axes[1].plot(es, [e[key] for e in evals], marker="o", label=key)
        axes[1].set_xlabel("step"), axes[1].set_ylabel("validation"), axes[1].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


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


def main(config_path: Path | None, overrides: dict[str, Any] | None = None, resume: bool = False) -> dict[str, Any]:
    """Run knowledge pretraining; returns the final metrics (rank 0; others return ``{}``)."""
    import torch
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel
    from tqdm import tqdm
    from transformers import AutoTokenizer

    from kgfm.fusion.corpus import read_corpus
    from kgfm.fusion.model import KnowledgeFusionModel
    from kgfm.fusion.objectives import PretrainCollator, PretrainModule
    from kgfm.hf import offline_env, resolve_model
    from kgfm.index.entity_index import EntityIndex

    cfg = load_config(PretrainConfig, config_path, overrides)
    tr = cfg.train
    if not Path(cfg.index).exists():
        raise ConfigError(f"index: {cfg.index} does not exist (train the graph stage first)")
    offline_env()
    torch.set_num_threads(tr.num_threads)
    rank, world, device = _dist(tr.device)
    torch.manual_seed(tr.seed)
    out = Path(cfg.out)
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
        save_config(cfg, out / "config.yaml")
    index = EntityIndex.load(cfg.index, use_gpu=False)
    tokenizer = AutoTokenizer.from_pretrained(resolve_model(cfg.model.base_model))
    train_recs, dropped = _map_records(read_corpus(cfg.corpus, "train"), index)
    valid_recs, _ = _map_records(read_corpus(cfg.corpus, "valid"), index)
    valid_recs = [r for r in valid_recs if r["mentions"]][: tr.eval_examples]
    collator = PretrainCollator(tokenizer, tr.max_length, tr.mlm_probability, tr.entity_token_mask)

    module = PretrainModule(KnowledgeFusionModel(cfg.model, index), tr.negatives, tr.entity_weight).to(device)
    if not cfg.model.fusion:  # the without-KG baseline: fusion layers exist but never run
        module.model.fusion_layers.requires_grad_(False)
    new = [p for n, p in module.named_parameters() if p.requires_grad and not n.startswith("model.backbone.")]
    old = [p for n, p in module.named_parameters() if p.requires_grad and n.startswith("model.backbone.")]
    optimizer = torch.optim.AdamW([{"params": old, "lr": tr.lr}, {"params": new, "lr": tr.head_lr}],
                                  weight_decay=tr.weight_decay)

    def lr_factor(step: int) -> float:
        if step < tr.warmup_steps:
            return (step + 1) / (tr.warmup_steps + 1)
        return max(0.0, (tr.steps - step) / max(1, tr.steps - tr.warmup_steps))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor)
    state: dict[str, Any] = {"step": 0, "history": [], "evals": []}
    ckpt = out / "checkpoint"
    if resume:
        if not (ckpt / "manifest.json").is_file():
            raise ConfigError(f"--resume: no checkpoint at {ckpt}")
        state = _load_checkpoint(ckpt, module, optimizer)
        for group, base in zip(optimizer.param_groups, (tr.lr, tr.head_lr)):
            group["initial_lr"] = base
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor, last_epoch=state["step"] - 1)
    with warnings.catch_warnings():  # the entity table is identical on every rank: never broadcast it
        warnings.simplefilter("ignore", FutureWarning)
        ids = [device.index] if device.type == "cuda" else None
        ddp = DistributedDataParallel(module, device_ids=ids, broadcast_buffers=False) if world > 1 else module

    per_epoch = max(1, len(train_recs) // (tr.batch_size * world))
    bar = tqdm(total=tr.steps, initial=state["step"], desc="pretrain", disable=rank != 0, mininterval=2.0)
    module.train()
    t0, tokens = time.perf_counter(), 0.0
    stop = min(tr.steps, tr.stop_after or tr.steps)
    while state["step"] < stop:
        step = state["step"]
        epoch, pos = divmod(step, per_epoch)
        perm = np.random.default_rng(tr.seed + epoch).permutation(len(train_recs))
        start = (pos * world + rank) * tr.batch_size
        batch_recs = [train_recs[i] for i in perm[np.arange(start, start + tr.batch_size) % len(perm)]]
        seed = tr.seed * 1_000_003 + step * 131 + rank
        gen = torch.Generator().manual_seed(seed)
        torch.manual_seed(seed)  # dropout + sampled negatives: a resumed run repeats the same steps
        batch = {k: v.to(device) for k, v in collator(batch_recs, gen).items()}
        losses = ddp(batch)
        optimizer.zero_grad(set_to_none=True)
        losses["loss"].backward()
        torch.nn.utils.clip_grad_norm_(module.parameters(), tr.grad_clip)
        optimizer.step()
        scheduler.step()
        tokens += float(losses["tokens"])
        state["step"] = step = step + 1
        bar.update(1)
        if rank == 0 and (step % tr.log_every == 0 or step == stop):
            rec = {"step": step, "loss": float(losses["loss"].detach()), "mlm": float(losses["mlm"]),
                   "entity": float(losses["entity"]), "lr": scheduler.get_last_lr()[0],
                   "tokens_per_s": tokens * world / max(time.perf_counter() - t0, 1e-9)}
            state["history"].append(rec)
            bar.set_postfix(loss=f"{rec['loss']:.3f}", mlm=f"{rec['mlm']:.3f}", ent=f"{rec['entity']:.3f}")
        if rank == 0 and valid_recs and (step % tr.eval_every == 0 or step == stop):
            state["evals"].append({"step": step, **evaluate(module, collator, valid_recs, tr.batch_size, tr.seed)})
        if rank == 0 and (step % tr.save_every == 0 or step == stop):
            _save_checkpoint(ckpt, module, optimizer, state)
        if world > 1 and (step % tr.save_every == 0 or step % tr.eval_every == 0):
            dist.barrier()
    bar.close()

    checks: list[str] = []
    if world > 1:
        flat = torch.cat([p.detach().reshape(-1) for p in module.parameters()])
        digest = torch.tensor([float(flat.double().sum()), float((flat.double() ** 2).sum())], dtype=torch.float64,
                              device=device if device.type == "cuda" else None)
        gathered = [torch.zeros_like(digest) for _ in range(world)]
        dist.all_gather(gathered, digest)
        checks = [f"{g[0].item():.10e}/{g[1].item():.10e}" for g in gathered]  # identical on every rank
    metrics: dict[str, Any] = {}
    if rank == 0:
        module.model.save_pretrained(out / "model", tokenizer=tokenizer,
                                     extra={"pretraining": {"steps": state["step"], "corpus": str(cfg.corpus)}})
        metrics = {
            "steps": state["step"], "world_size": world, "train_records": len(train_recs),
            "dropped_mentions": dropped, "final_eval": state["evals"][-1] if state["evals"] else None,
            "history": state["history"], "evals": state["evals"], "fusion": cfg.model.fusion,
            "ddp_param_digests": checks, "ddp_identical": len(set(checks)) <= 1,
        }
        (out / "metrics.json").write_text(json.dumps(metrics, indent=2), encoding="utf-8")
        if state["history"]:
            _plot(state["history"], state["evals"], out / "curve.png")
    if world > 1:
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
