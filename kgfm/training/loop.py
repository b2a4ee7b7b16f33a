"""Run plumbing shared by the stages: device/threads/seed, the time budget, early stopping.

Device and process handling is plain ``torch`` (:func:`setup_run`, :func:`distributed`): with
``torchrun`` any stage that calls :func:`distributed` gets its rank, world size and device
(gloo on CPU, NCCL on CUDA); ``accelerate`` was measured and not adopted (see the README).
"""

from __future__ import annotations

import os
import random
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from kgfm.training.checkpoint import Progress
from kgfm.training.settings import RunSettings


def select_device(name: str) -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; an explicit CUDA device must exist.

    Raises:
        RuntimeError: ``cuda`` asked for but torch sees none.
    """
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"run.device is {name!r} but torch sees no CUDA device")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def setup_run(run: RunSettings) -> torch.device:
    """Threads, seeds and the device of a stage; creates ``run.output_dir``."""
    torch.set_num_threads(run.threads)
    seed_everything(run.seed)
    run.output_dir.mkdir(parents=True, exist_ok=True)
    return select_device(run.device)


def distributed(device: str) -> tuple[int, int, torch.device]:
    """``(rank, world_size, device)``; under torchrun each rank takes GPU ``LOCAL_RANK``."""
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
        return rank, world, dev
    return rank, world, torch.device("cpu")


class Budget:
    """Wall-clock budget; a resumed run counts the time already spent.

    Args:
        max_minutes: ``None``: unlimited.
        spent_s: Seconds used before this process (from :class:`Progress`).
    """

    def __init__(self, max_minutes: float | None, spent_s: float = 0.0) -> None:
        self.max_minutes = max_minutes
        self.start = time.monotonic() - spent_s

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def expired(self) -> bool:
        return self.max_minutes is not None and self.elapsed > self.max_minutes * 60.0


@dataclass
class EarlyStopping:
    """Patience on a named metric; its state lives in :class:`Progress` (so it resumes).

    Args:
        metric: Key of the evaluation dict (e.g. ``"mrr"``, ``"valid_hits1"``).
        patience: Evaluations without improvement before stopping.
        mode: ``"max"`` or ``"min"``.
    """

    metric: str
    patience: int
    mode: str = "max"

    def update(self, progress: Progress, metrics: dict[str, Any], at: int) -> bool:
        """Record one evaluation at step/epoch ``at``; returns whether it is the best so far.

        Sets ``progress.stopped`` once patience runs out.
        """
        if self.metric not in metrics:
            raise KeyError(f"early stopping metric {self.metric!r} not in the evaluation ({sorted(metrics)})")
        value = float(metrics[self.metric])
        better = progress.best is None or (value > progress.best if self.mode == "max" else value < progress.best)
        if better:
            progress.best, progress.best_step, progress.bad_evals = value, at, 0
            return True
        progress.bad_evals += 1
        if progress.bad_evals >= self.patience:
            progress.stopped = f"early stop: no {self.metric} gain in {self.patience} evaluations"
        return False
