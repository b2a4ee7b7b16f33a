"""One checkpoint format for every stage: ``weights.safetensors`` + ``optimizer.safetensors`` + ``state.json``.

A training checkpoint is an artifact (:mod:`kgfm.artifacts`: atomic, checksummed) holding

* ``weights.safetensors`` -- the trained module's state dict;
* ``optimizer.safetensors`` -- the optimizer's per-parameter tensors, keys ``"{param_id}.{slot}"``;
* ``state.json`` -- :class:`Progress` (step, epoch, best metric, history...) plus the optimizer's
  param groups (learning rates, ``base_lr``) -- small, readable, validated on load;
* whatever else the stage adds (vocabularies, embeddings, an encoder folder).

Loading verifies the checksums, refuses a file that is not safetensors (a pickle renamed
``.safetensors`` is never unpickled) and validates ``state.json`` field by field.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import torch
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from kgfm.artifacts import ArtifactError, check_safetensors, read_manifest, write_artifact

WEIGHTS, OPTIMIZER, STATE = "weights.safetensors", "optimizer.safetensors", "state.json"


class Progress(BaseModel):
    """How far training got: what ``--resume`` needs besides the weights."""

    model_config = ConfigDict(extra="forbid")

    step: int = Field(0, ge=0)
    epoch: int = Field(0, ge=0)
    best: float | None = None
    best_step: int = Field(0, ge=0, description="step (or epoch) of the best evaluation")
    bad_evals: int = Field(0, ge=0)
    elapsed_s: float = Field(0.0, ge=0)
    stopped: str = ""
    history: list[dict[str, Any]] = Field(default_factory=list)
    evals: list[dict[str, Any]] = Field(default_factory=list)


def load_safetensors(path: Path, device: str = "cpu") -> dict[str, torch.Tensor]:
    """``safetensors`` file -> tensors; anything else (a pickle, a truncated file) is refused clearly.

    Raises:
        ArtifactError: naming the file.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise ArtifactError(f"{path}: missing")
    check_safetensors(path)
    try:
        return load_file(str(path), device=device)
    except (SafetensorError, OSError, ValueError) as exc:
        raise ArtifactError(f"{path}: not a readable safetensors file ({exc})") from None


def optimizer_tensors(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], list[dict]]:
    """Flatten an optimizer state dict: per-parameter tensors and the JSON-able param groups."""
    sd = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    for pid, slots in sd["state"].items():
        for slot, value in slots.items():
            t = value if torch.is_tensor(value) else torch.tensor(value)
            tensors[f"{pid}.{slot}"] = t.detach().cpu().contiguous().clone()
    return tensors, sd["param_groups"]


def restore_optimizer(optimizer: torch.optim.Optimizer, tensors: Mapping[str, torch.Tensor],
                      groups: list[dict], where: Path) -> None:
    """Load what :func:`optimizer_tensors` produced into ``optimizer``.

    Raises:
        ArtifactError: the saved state does not fit the optimizer (different parameters).
    """
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        pid, slot = key.split(".", 1)
        state.setdefault(int(pid), {})[slot] = value
    try:
        optimizer.load_state_dict({"state": state, "param_groups": groups})
    except (ValueError, KeyError, TypeError) as exc:
        raise ArtifactError(f"{where}: optimizer state does not fit this model ({exc})") from None


def checkpoint_writers(weights: Mapping[str, torch.Tensor] | None, optimizer: torch.optim.Optimizer | None,
                       progress: Progress) -> dict[str, Callable[[Path], None]]:
    """The three standard files as :func:`kgfm.artifacts.write_artifact` writers."""
    from safetensors.torch import save_file

    writers: dict[str, Callable[[Path], None]] = {}
    doc: dict[str, Any] = {"progress": progress.model_dump(mode="json")}
    if weights is not None:
        flat = {k: v.detach().cpu().contiguous() for k, v in weights.items()}
        writers[WEIGHTS] = lambda p: save_file(flat, str(p))
    if optimizer is not None:
        tensors, groups = optimizer_tensors(optimizer)
        doc["optimizer_param_groups"] = groups
        writers[OPTIMIZER] = lambda p: save_file(tensors, str(p))
    writers[STATE] = lambda p: p.write_text(json.dumps(doc, indent=1, default=str), encoding="utf-8")
    return writers


def save_checkpoint(dest: Path, kind: str, weights: Mapping[str, torch.Tensor] | None,
                    optimizer: torch.optim.Optimizer | None, progress: Progress,
                    extra_files: Mapping[str, Callable[[Path], None]] | None = None,
                    manifest: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Write a checkpoint artifact atomically; returns its manifest.

    Args:
        dest: Artifact directory (replaced).
        kind: Artifact kind (checked on load).
        weights: A state dict (``None``: the stage writes its weights in ``extra_files``).
        optimizer: Saved for ``--resume`` when given.
        progress: Step/epoch/best/history.
        extra_files: More files (name -> writer).
        manifest: More manifest fields (config, counts, metrics...).
    """
    writers = checkpoint_writers(weights, optimizer, progress)
    writers.update(extra_files or {})
    return write_artifact(Path(dest), kind, writers, {**dict(manifest or {}), "progress_step": progress.step,
                                                      "progress_epoch": progress.epoch})


@dataclass
class Checkpoint:
    """A verified checkpoint; tensors are loaded on demand."""

    path: Path
    manifest: dict[str, Any]
    progress: Progress
    optimizer_groups: list[dict] | None

    def weights(self, device: str = "cpu") -> dict[str, torch.Tensor]:
        return load_safetensors(self.path / WEIGHTS, device)

    def restore(self, module: torch.nn.Module | None, optimizer: torch.optim.Optimizer | None) -> None:
        """Load the weights (``strict=True``: every key must fit) and the optimizer state."""
        if module is not None:
            try:
                module.load_state_dict(self.weights(), strict=True)
            except RuntimeError as exc:
                raise ArtifactError(f"{self.path}: weights do not fit the configured model ({str(exc)[:300]})") from None
        if optimizer is not None:
            if self.optimizer_groups is None or not (self.path / OPTIMIZER).is_file():
                raise ArtifactError(f"{self.path}: holds no optimizer state; cannot resume from it")
            restore_optimizer(optimizer, load_safetensors(self.path / OPTIMIZER), self.optimizer_groups, self.path)


def load_checkpoint(src: Path, kind: str) -> Checkpoint:
    """Verify ``src`` (checksums, kind) and read its ``state.json``.

    Raises:
        ArtifactError: a missing/tampered file, or a ``state.json`` field of the wrong type (named).
    """
    src = Path(src)
    manifest = read_manifest(src, kind)
    path = src / STATE
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ArtifactError(f"{path}: unreadable ({exc})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("progress"), dict):
        raise ArtifactError(f"{path}: expected an object with a 'progress' object")
    try:
        progress = Progress.model_validate(doc["progress"])
    except ValidationError as exc:
        problems = "; ".join(f"progress.{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ArtifactError(f"{path}: {problems}") from None
    groups = doc.get("optimizer_param_groups")
    if groups is not None and not isinstance(groups, list):
        raise ArtifactError(f"{path}: optimizer_param_groups must be a list")
    return Checkpoint(src, manifest, progress, groups)
