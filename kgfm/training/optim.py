"""Parameter groups, optimizer construction and the learning-rate schedule, for every stage.

Groups follow nanoGPT: weights with two or more dimensions are decayed, except embedding tables;
biases, norm weights, scalars and embeddings are not. Base and head parameters (``is_head``)
get their own learning rates. The schedule is a multiplier on each group's ``base_lr`` (stored in
the group, so it survives a checkpoint and a resume needs no scheduler state).
"""

from __future__ import annotations

import math
from typing import Any, Callable

import torch
from torch import nn

from kgfm.training.settings import OptimSettings


def param_groups(model: nn.Module, settings: OptimSettings,
                 is_head: Callable[[str], bool] | None = None) -> list[dict]:
    """Trainable parameters split into (base | head) x (decay | no decay) groups.

    Args:
        model: The module whose ``requires_grad`` parameters are optimised.
        settings: Learning rates and weight decay.
        is_head: Name predicate for parameters trained at ``head_lr`` (``None``: all at ``lr``).

    Returns:
        Non-empty groups, each with ``params``, ``lr``, ``base_lr``, ``weight_decay`` and ``name``.
    """
    embedding_weights = {id(m.weight) for m in model.modules() if isinstance(m, nn.Embedding)}
    buckets: dict[tuple[bool, bool], list[nn.Parameter]] = {}
    seen: set[int] = set()
    for name, p in model.named_parameters():
        if not p.requires_grad or id(p) in seen:
            continue
        seen.add(id(p))
        decay = p.dim() >= 2 and id(p) not in embedding_weights
        head = bool(is_head(name)) if is_head is not None else False
        buckets.setdefault((head, decay), []).append(p)
    groups = []
    for (head, decay), params in sorted(buckets.items()):
        lr = (settings.head_lr or settings.lr) if head else settings.lr
        groups.append({"params": params, "lr": lr, "base_lr": lr,
                       "weight_decay": settings.weight_decay if decay else 0.0,
                       "name": f"{'head' if head else 'base'}/{'decay' if decay else 'no_decay'}"})
    if not groups:
        raise ValueError("no trainable parameters")
    return groups


def make_optimizer(model: nn.Module, settings: OptimSettings,
                   is_head: Callable[[str], bool] | None = None) -> torch.optim.Optimizer:
    """The configured optimizer over :func:`param_groups`."""
    groups = param_groups(model, settings, is_head)
    if settings.optimizer == "adagrad":
        return torch.optim.Adagrad(groups, lr=settings.lr)
    if settings.optimizer == "adam":  # Adam's L2 decay differs from AdamW's; only decoupled decay is offered
        if settings.weight_decay:
            raise ValueError("optim.optimizer: adam has coupled L2 decay; use adamw with weight_decay")
        return torch.optim.Adam(groups, lr=settings.lr)
    return torch.optim.AdamW(groups, lr=settings.lr)


def lr_factor(step: int, total_steps: int, settings: OptimSettings) -> float:
    """Multiplier of ``base_lr`` at 0-based ``step``: linear warm-up, then constant/linear/cosine decay."""
    warm = settings.warmup_steps(total_steps)
    if step < warm:
        return (step + 1) / (warm + 1)
    if settings.schedule == "constant":
        return 1.0
    progress = min(1.0, (step - warm) / max(1, total_steps - warm))
    decayed = 1.0 - progress if settings.schedule == "linear" else 0.5 * (1.0 + math.cos(math.pi * progress))
    return max(settings.min_lr_ratio, decayed)


def set_lr(optimizer: torch.optim.Optimizer, step: int, total_steps: int, settings: OptimSettings) -> float:
    """Apply the schedule for ``step`` to every group; returns the factor."""
    factor = lr_factor(step, total_steps, settings)
    for group in optimizer.param_groups:
        group["lr"] = group.get("base_lr", group["lr"]) * factor
    return factor


def clip_and_step(optimizer: torch.optim.Optimizer, parameters: Any, settings: OptimSettings) -> None:
    """Clip the gradient norm (when configured), step, and clear the gradients."""
    if settings.grad_clip is not None:
        torch.nn.utils.clip_grad_norm_(parameters, settings.grad_clip)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
