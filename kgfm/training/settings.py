"""The config vocabulary every training stage shares: ``run:`` and ``optim:`` sections.

Every stage config embeds :class:`RunSettings` (``run:``: seed, device, threads, time budget,
output folder) and :class:`OptimSettings` (``optim:``: optimizer, learning rates, weight decay,
schedule, warm-up, gradient clipping). Key names from before this vocabulary (``out_dir``,
``output``, ``num_threads``, ``lr_encoder``...) are refused by :func:`reject_legacy_keys` with an
error naming the new key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Mapping

from pydantic import Field

from kgfm.config import StrictModel


class RunSettings(StrictModel):
    """Where and how a stage runs (``run:`` section of every training config)."""

    seed: int = 0
    device: str = Field("auto", pattern=r"^(auto|cpu|cuda(:\d+)?)$", description="auto: CUDA when available")
    threads: int = Field(2, ge=1, description="torch intra-op threads")
    max_minutes: float | None = Field(None, gt=0, description="wall-clock budget for training")
    output_dir: Path = Path("runs/train")
    tensorboard: bool = Field(False, description="also log scalars to output_dir/tensorboard (needs tensorboard)")


class OptimSettings(StrictModel):
    """Optimizer and learning-rate schedule (``optim:`` section of every training config).

    ``lr`` is for the stage's base parameters (the pretrained backbone, or all parameters when
    the stage has no split); ``head_lr`` for newly initialised parameters: in pretraining the fusion
    layers and heads, in QA fine-tuning the scorer (and the fusion layers with
    ``optim.fusion_at_head_lr``). Weight decay applies only to >= 2-D weights that are not embeddings (nanoGPT's rule:
    biases, norms and embedding tables are never decayed).
    """

    optimizer: Literal["adamw", "adam", "adagrad"] = "adamw"
    lr: float = Field(1e-3, gt=0)
    head_lr: float | None = Field(None, gt=0, description="new parameters (None: same as lr)")
    weight_decay: float = Field(0.01, ge=0)
    schedule: Literal["constant", "linear", "cosine"] = "constant"
    warmup: float = Field(0.0, ge=0, description="warm-up length: < 1 a fraction of the total steps, >= 1 steps")
    min_lr_ratio: float = Field(0.0, ge=0, le=1, description="floor of the decayed schedule, as a fraction of lr")
    grad_clip: float | None = Field(None, gt=0, description="clip the global gradient norm (None: no clipping)")

    def warmup_steps(self, total_steps: int) -> int:
        """Warm-up length in steps for a schedule of ``total_steps``."""
        if self.warmup >= 1:
            return int(self.warmup)
        return int(total_steps * self.warmup)


# old key -> new key, per config section ("" = top level)
LEGACY_KEYS: dict[str, dict[str, str]] = {
    "": {"out_dir": "run.output_dir", "output_dir": "run.output_dir", "output": "run.output_dir",
         "out": "run.output_dir"},
    "train": {"num_threads": "run.threads", "threads": "run.threads", "seed": "run.seed", "device": "run.device",
              "max_minutes": "run.max_minutes", "lr": "optim.lr", "head_lr": "optim.head_lr",
              "lr_encoder": "optim.lr", "lr_head": "optim.head_lr", "weight_decay": "optim.weight_decay",
              "warmup_steps": "optim.warmup", "warmup_fraction": "optim.warmup", "grad_clip": "optim.grad_clip",
              "optimizer": "optim.optimizer"},
    "scorer": {"entity_dim": "scorer.proj_dim"},
}


def reject_legacy_keys(data: Any) -> Any:
    """``model_validator(mode="before")`` helper: raise on a key renamed by the shared vocabulary.

    Raises:
        ValueError: ``"train.num_threads: renamed to run.threads"`` (pydantic adds the file).
    """
    if not isinstance(data, Mapping):
        return data
    problems = []
    for section, renames in LEGACY_KEYS.items():
        node = data if section == "" else data.get(section)
        if not isinstance(node, Mapping):
            continue
        for old, new in renames.items():
            if old in node:
                where = f"{section}.{old}" if section else old
                problems.append(f"{where}: renamed to {new}")
    if problems:
        raise ValueError("; ".join(problems))
    return data
