"""Encoder checkpoints as ``graph-encoder`` artifacts (safetensors + JSON, no pickle).

Layout::

    model.safetensors      the encoder's state dict
    embeddings.safetensors final "entities" [N, d] and "relations" [2R, d] (best checkpoint only;
                           what kgfm.index.build indexes)
    optimizer.safetensors  optimizer state tensors (only in the resumable "last" checkpoint)
    vocab.json             entity_ids, entity_names, relation_types, relation_predicates
    state.json             epoch, best val MRR, history, optimizer param groups
    manifest.json          config, counts, checksums (kgfm.artifacts)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import torch

from kgfm.artifacts import ArtifactError, read_manifest, sha256_file, write_artifact
from kgfm.encoder.loop import TrainState

KIND = "graph-encoder"


def _flatten_optimizer(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], list[dict]]:
    sd = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    for pid, slots in sd["state"].items():
        for key, value in slots.items():
            t = value if torch.is_tensor(value) else torch.tensor(value)
            tensors[f"state.{pid}.{key}"] = t.detach().cpu().contiguous()
    return tensors, sd["param_groups"]


def _unflatten_optimizer(tensors: dict[str, torch.Tensor], groups: list[dict]) -> dict:
    state: dict[int, dict[str, torch.Tensor]] = {}
    for name, value in tensors.items():
        _, pid, key = name.split(".", 2)
        state.setdefault(int(pid), {})[key] = value
    return {"state": state, "param_groups": groups}


@dataclass
class Checkpoint:
    """A loaded checkpoint."""

    path: Path
    manifest: dict[str, Any]
    weights: dict[str, torch.Tensor]
    vocab: dict[str, Any]
    state: TrainState
    optimizer_groups: Optional[list[dict]] = None
    optimizer_tensors: Optional[dict[str, torch.Tensor]] = None
    embeddings: Optional[dict[str, torch.Tensor]] = None

    @property
    def manifest_sha256(self) -> str:
        return sha256_file(self.path / "manifest.json")

    def optimizer_state(self) -> Optional[dict]:
        if self.optimizer_tensors is None or self.optimizer_groups is None:
            return None
        return _unflatten_optimizer(self.optimizer_tensors, self.optimizer_groups)


def save_checkpoint(
    dest: Path,
    model: torch.nn.Module,
    vocab: dict[str, Any],
    state: TrainState,
    config: dict[str, Any],
    optimizer: Optional[torch.optim.Optimizer] = None,
    extra: Optional[dict[str, Any]] = None,
    embeddings: Optional[dict[str, torch.Tensor]] = None,
) -> dict[str, Any]:
    """Write a checkpoint atomically; returns its manifest.

    Args:
        dest: Artifact directory (replaced).
        model: The encoder; its state dict is saved (persistent buffers only).
        vocab: Vocabularies so entity/relation ids stay meaningful.
        state: Training state (epoch, history, best MRR).
        config: The resolved run config (``GraphTrainConfig.model_dump(mode="json")``).
        optimizer: Saved too when given (for ``--resume``).
        extra: More manifest fields (metrics, text-feature cache sha...).
        embeddings: Final embeddings to store beside the weights (``entities``, ``relations``).
    """
    from safetensors.torch import save_file

    weights = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    writers = {
        "model.safetensors": lambda p: save_file(weights, str(p)),
        "vocab.json": lambda p: p.write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8"),
    }
    state_doc: dict[str, Any] = {"train_state": state.as_dict()}
    if optimizer is not None:
        opt_tensors, groups = _flatten_optimizer(optimizer)
        state_doc["optimizer_param_groups"] = groups
        writers["optimizer.safetensors"] = lambda p: save_file(opt_tensors, str(p))
    if embeddings is not None:
        emb = {k: v.detach().float().cpu().contiguous() for k, v in embeddings.items()}
        writers["embeddings.safetensors"] = lambda p: save_file(emb, str(p))
    writers["state.json"] = lambda p: p.write_text(json.dumps(state_doc, default=str), encoding="utf-8")
    manifest = {
        **dict(extra or {}),
        "config": config,
        "counts": {
            "entities": len(vocab.get("entity_ids", [])),
            "relations": len(vocab.get("relation_types", [])),
            "parameters": int(sum(v.numel() for v in weights.values())),
        },
        "epoch": state.epoch,
        "best_val_mrr": state.best_mrr,
    }
    return write_artifact(Path(dest), KIND, writers, manifest)


def load_checkpoint(dest: Path) -> Checkpoint:
    """Verify and load a checkpoint written by :func:`save_checkpoint`.

    Raises:
        ArtifactError: missing/tampered files or unreadable contents.
    """
    from safetensors.torch import load_file

    dest = Path(dest)
    manifest = read_manifest(dest, KIND)
    try:
        weights = load_file(str(dest / "model.safetensors"))
        vocab = json.loads((dest / "vocab.json").read_text(encoding="utf-8"))
        state_doc = json.loads((dest / "state.json").read_text(encoding="utf-8"))
        opt = load_file(str(dest / "optimizer.safetensors")) if (dest / "optimizer.safetensors").is_file() else None
        emb = load_file(str(dest / "embeddings.safetensors")) if (dest / "embeddings.safetensors").is_file() else None
    except (OSError, ValueError, json.JSONDecodeError) as exc:
        raise ArtifactError(f"{dest}: unreadable checkpoint ({exc})") from None
    return Checkpoint(
        path=dest,
        manifest=manifest,
        weights=weights,
        vocab=vocab,
        state=TrainState.from_dict(state_doc["train_state"]),
        optimizer_groups=state_doc.get("optimizer_param_groups"),
        optimizer_tensors=opt,
        embeddings=emb,
    )
