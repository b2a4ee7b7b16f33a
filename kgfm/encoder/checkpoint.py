"""Encoder checkpoints as ``graph-encoder`` artifacts, in the toolkit's one checkpoint format.

Layout (:mod:`kgfm.training.checkpoint` + two encoder files)::

    weights.safetensors    the encoder's state dict
    optimizer.safetensors  optimizer state tensors (only in the resumable "last" checkpoint)
    state.json             progress (epoch, best validation metric, history) + optimizer param groups
    embeddings.safetensors final "entities" [N, d] and "relations" [2R, d] (best checkpoint only;
                           what kgfm.index.build indexes; row i = store entity idx i)
    vocab.json             entity_ids, entity_names, relation_types, relation_predicates
    manifest.json          config, counts, checksums (kgfm.artifacts)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import torch

from kgfm.artifacts import ArtifactError, sha256_file
from kgfm.training.checkpoint import Checkpoint as TrainingCheckpoint
from kgfm.training.checkpoint import Progress, load_checkpoint as load_training_checkpoint
from kgfm.training.checkpoint import load_safetensors, save_checkpoint as save_training_checkpoint

KIND = "graph-encoder"
VOCAB_KEYS = ("entity_ids", "entity_names", "relation_types", "relation_predicates")


@dataclass
class Checkpoint:
    """A loaded encoder checkpoint."""

    path: Path
    manifest: dict[str, Any]
    vocab: dict[str, Any]
    state: Progress
    training: TrainingCheckpoint
    embeddings: Optional[dict[str, torch.Tensor]] = None

    @property
    def manifest_sha256(self) -> str:
        return sha256_file(self.path / "manifest.json")

    @property
    def weights(self) -> dict[str, torch.Tensor]:
        return self.training.weights()


def save_checkpoint(
    dest: Path,
    model: torch.nn.Module,
    vocab: dict[str, Any],
    state: Progress,
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
        state: Training progress (epoch, history, best validation metric).
        config: The resolved run config (``GraphTrainConfig.model_dump(mode="json")``).
        optimizer: Saved too when given (for ``--resume``).
        extra: More manifest fields (metrics, text-feature cache sha...).
        embeddings: Final embeddings to store beside the weights (``entities``, ``relations``).
    """
    from safetensors.torch import save_file

    weights = model.state_dict()
    files: dict[str, Any] = {
        "vocab.json": lambda p: p.write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8"),
    }
    if embeddings is not None:
        emb = {k: v.detach().float().cpu().contiguous() for k, v in embeddings.items()}
        files["embeddings.safetensors"] = lambda p: save_file(emb, str(p))
    manifest = {
        **dict(extra or {}),
        "config": config,
        "counts": {
            "entities": len(vocab.get("entity_ids", [])),
            "relations": len(vocab.get("relation_types", [])),
            "parameters": int(sum(v.numel() for v in weights.values())),
        },
        "epoch": state.epoch,
        "best_val": state.best,
    }
    return save_training_checkpoint(Path(dest), KIND, weights, optimizer, state, files, manifest)


def _read_vocab(path: Path) -> dict[str, Any]:
    try:
        vocab = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ArtifactError(f"{path}: unreadable ({exc})") from None
    if not isinstance(vocab, dict):
        raise ArtifactError(f"{path}: expected an object with {', '.join(VOCAB_KEYS)}")
    missing = [k for k in ("entity_ids", "relation_types") if not isinstance(vocab.get(k), list)]
    if missing:
        raise ArtifactError(f"{path}: missing or not a list: {', '.join(missing)}")
    return vocab


def load_checkpoint(dest: Path) -> Checkpoint:
    """Verify and load a checkpoint written by :func:`save_checkpoint`.

    Raises:
        ArtifactError: missing/tampered files or unreadable contents (the file named).
    """
    dest = Path(dest)
    training = load_training_checkpoint(dest, KIND)
    vocab = _read_vocab(dest / "vocab.json")
    emb_path = dest / "embeddings.safetensors"
    emb = load_safetensors(emb_path) if emb_path.is_file() else None
    return Checkpoint(dest, training.manifest, vocab, training.progress, training, emb)
