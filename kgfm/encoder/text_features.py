"""Text-initialised entity features: names/descriptions encoded once by the offline MiniLM.

The vectors are mean-pooled, L2-normalised sentence embeddings. They are cached in a
safetensors file keyed by a hash of the texts and the model, so a second run (or a resume)
skips the encoding.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Sequence

import torch
from kgfm.progress import progress


def entity_texts(
    entity_ids: Sequence[str],
    names: Sequence[str | None],
    descriptions: Sequence[str | None] | None = None,
) -> list[str]:
    """``"name: description"`` per entity; falls back to the id (underscores as spaces)."""
    out = []
    for i, eid in enumerate(entity_ids):
        name = names[i] if names[i] else eid.rsplit("/", 1)[-1].replace("_", " ")
        desc = descriptions[i] if descriptions is not None else None
        out.append(f"{name}: {desc}" if desc else name)
    return out


def _key(texts: Sequence[str], model_path: str) -> str:
    digest = hashlib.sha256(model_path.encode("utf-8"))
    for t in texts:
        digest.update(t.encode("utf-8"))
        digest.update(b"\0")
    return digest.hexdigest()


@torch.no_grad()
def encode_texts(
    texts: Sequence[str],
    model_name: str = "minilm",
    batch_size: int = 256,
    max_length: int = 64,
    device: torch.device | str = "cpu",
    cache: Path | None = None,
) -> torch.Tensor:
    """``[len(texts), hidden]`` float32 sentence vectors (cached in ``cache`` when given)."""
    from safetensors.torch import load_file, save_file
    from transformers import AutoTokenizer

    from kgfm.artifacts import check_safetensors
    from kgfm.hf import build_backbone, offline_env, resolve_model

    offline_env()
    path = resolve_model(model_name)
    key = _key(texts, path)
    if cache is not None and Path(cache).is_file():
        check_safetensors(Path(cache))
        stored = load_file(str(cache))
        if "key" in stored and bytes(stored["key"].tolist()).decode() == key:
            return stored["features"]
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = build_backbone(path, pooler=True).to(device).eval()
    chunks = []
    for start in progress(range(0, len(texts), batch_size), desc="encoding entity texts", mininterval=2.0):
        batch = tokenizer(
            list(texts[start : start + batch_size]), padding=True, truncation=True,
            max_length=max_length, return_tensors="pt",
        ).to(device)
        hidden = model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        chunks.append(torch.nn.functional.normalize(pooled, dim=-1).float().cpu())
    features = torch.cat(chunks) if chunks else torch.empty(0, model.config.hidden_size)
    if cache is not None:
        Path(cache).parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(str(cache) + ".tmp")
        save_file({"features": features.contiguous(), "key": torch.tensor(list(key.encode()), dtype=torch.uint8)}, str(tmp))
        tmp.replace(cache)
    return features
