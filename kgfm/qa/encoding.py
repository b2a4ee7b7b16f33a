"""The question encoder: the knowledge-fusion transformer (or the plain base encoder) -> one vector.

:class:`QuestionEncoder` hides the two kinds behind one ``forward(batch, use_fusion)``:

* ``fusion`` -- :class:`kgfm.fusion.model.KnowledgeFusionModel`; the topic mention is linked
  and its entity embedding retrieved inside the forward pass; ``use_fusion=False`` runs the
  very same weights with the fusion layers switched off (the without-KG baseline);
* ``plain`` -- any ``AutoModel`` encoder, mean-pooled (what MiniLM was trained with).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import torch
from torch import nn

from kgfm.qa.config import QAEncoderConfig


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``[B, T, H]`` token states -> ``[B, H]`` mean over the tokens where ``mask`` is set (0 if none)."""
    m = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * m).sum(1) / m.sum(1).clamp(min=1.0)


def split_pool(hidden: torch.Tensor, attention_mask: torch.Tensor, mention_spans: torch.Tensor) -> torch.Tensor:
    """``[B, 2H]``: mean over the question's own words (mention tokens left out) and mean over
    the mention tokens.

    The first half carries what is asked (the relation), undiluted by long entity names; the
    second carries the entity -- where the fusion layers wrote the retrieved knowledge.
    """
    t = hidden.shape[1]
    pos = torch.arange(t, device=hidden.device)
    start, end = mention_spans[..., 0:1], mention_spans[..., 1:2]
    in_mention = ((pos >= start) & (pos < end) & (start >= 0)).any(dim=1)  # [B, T]
    words = attention_mask.bool() & ~in_mention
    return torch.cat([mean_pool(hidden, words), mean_pool(hidden, in_mention)], dim=-1)


class QuestionEncoder(nn.Module):
    """Encodes a tokenised batch into question vectors ``[B, 2H]`` (:func:`split_pool`).

    Args:
        backbone: A ``KnowledgeFusionModel`` (``kind="fusion"``) or an HF ``AutoModel``.
        tokenizer: The fast tokenizer matching the backbone.
        kind: ``"fusion"`` or ``"plain"``.
        max_length: Truncation length in tokens.
    """

    def __init__(self, backbone: nn.Module, tokenizer: Any, kind: str, max_length: int = 48) -> None:
        super().__init__()
        self.backbone = backbone
        self.tokenizer = tokenizer
        self.kind = kind
        self.max_length = max_length

    @property
    def hidden_size(self) -> int:
        """Width of the question vector: twice the backbone width (see :func:`split_pool`)."""
        size = getattr(self.backbone, "hidden_size", None)  # KnowledgeFusionModel
        if not isinstance(size, int):
            size = int(self.backbone.config.hidden_size)
        return 2 * size

    def tokenize(self, texts: Sequence[str], mentions: Sequence[Sequence[Any]] | None) -> dict[str, torch.Tensor]:
        """Token ids plus mention spans/entities (:func:`kgfm.fusion.batching.encode_batch`)."""
        from kgfm.fusion.batching import encode_batch

        return encode_batch(self.tokenizer, texts, mentions, max_length=self.max_length)

    @property
    def device(self) -> torch.device:
        return next(self.backbone.parameters()).device

    @property
    def hf_model(self) -> nn.Module:
        """The HF model: the backbone itself, or the one under the fusion model (its fusion layers beside it)."""
        from kgfm.fusion.model import KnowledgeFusionModel

        return self.backbone.backbone if isinstance(self.backbone, KnowledgeFusionModel) else self.backbone

    def forward(self, batch: dict[str, torch.Tensor], use_fusion: bool | None = None) -> torch.Tensor:
        """Question vectors (the batch is moved to the encoder's device).

        Args:
            batch: ``input_ids``, ``attention_mask``, ``mention_spans`` ``[B, M, 2]``,
                ``mention_entities`` ``[B, M]`` (entity idx in the index, ``-1`` unknown).
            use_fusion: ``False`` switches the fusion layers off (fusion kind only).
        """
        device = self.device
        batch = {k: v.to(device) for k, v in batch.items()}
        if self.kind == "fusion":
            out = self.backbone(
                batch["input_ids"],
                batch["attention_mask"],
                batch["mention_spans"],
                batch["mention_entities"],
                use_fusion=use_fusion,
                entity_queries=False,  # the QA scorer reads the token states only
            )
            hidden = out.last_hidden_state
        else:
            hidden = self.backbone(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
        return split_pool(hidden, batch["attention_mask"], batch["mention_spans"])


def freeze_lower_layers(encoder: QuestionEncoder, train_layers: int) -> int:
    """Freeze embeddings and all but the top ``train_layers`` transformer layers.

    Fusion layers (and anything outside the transformer stack and embeddings) stay trainable.

    Returns:
        The number of parameters left trainable in the encoder.
    """
    from kgfm.hf import encoder_layers

    hf = encoder.hf_model
    layers = encoder_layers(hf)
    frozen = list(layers[: max(0, len(layers) - train_layers)])
    for name, module in hf.named_modules():
        if name.rsplit(".", 1)[-1] == "embeddings":
            frozen.append(module)
    for module in frozen:
        for p in module.parameters():
            p.requires_grad_(False)
    return sum(p.numel() for p in encoder.parameters() if p.requires_grad)


def _tokenizer(path: str) -> Any:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path, use_fast=True)
    if not getattr(tok, "is_fast", False):
        raise FileNotFoundError(f"{path}: no fast tokenizer (tokenizer.json) found; kgfm needs offset mappings")
    return tok


def build_encoder(cfg: QAEncoderConfig, index: Any | None) -> QuestionEncoder:
    """A fresh question encoder for fine-tuning, as the config says.

    Args:
        cfg: The encoder section (kind, init, checkpoint, base_model...).
        index: The :class:`~kgfm.index.entity_index.EntityIndex` (required for ``fusion``).
    """
    from kgfm.hf import build_backbone, offline_env, resolve_model

    offline_env()
    tokenizer_path = resolve_model(cfg.base_model)
    if cfg.kind == "plain":
        backbone = build_backbone(cfg.base_model, cfg.backbone_config, pooler=True)
        return QuestionEncoder(backbone, _tokenizer(tokenizer_path), "plain", cfg.max_length)
    from kgfm.fusion.model import FusionConfig, KnowledgeFusionModel

    if cfg.init == "pretrained":
        src = Path(cfg.checkpoint)
        model = KnowledgeFusionModel.from_pretrained(src, index)
        if model.kg_head is not None:  # a pretraining head, like the MLM head: QA scores with its own scorer
            model.kg_head = None
            model.config = model.config.model_copy(update={"kg_head": False})
        if cfg.lora.enabled and not model.config.lora.enabled:
            model.enable_lora(cfg.lora)
        tok_dir = src / "tokenizer"
        tokenizer = _tokenizer(str(tok_dir)) if tok_dir.is_dir() else _tokenizer(resolve_model(model.config.base_model))
    else:
        kwargs: dict[str, Any] = {"base_model": cfg.base_model, "backbone_config": cfg.backbone_config}
        if cfg.fusion_layers is not None:
            kwargs["fusion_layers"] = list(cfg.fusion_layers)
        if cfg.relation_views:
            kwargs["relation_views"] = True
        model = KnowledgeFusionModel(FusionConfig(**kwargs, lora=cfg.lora), index)
        tokenizer = _tokenizer(tokenizer_path)
    return QuestionEncoder(model, tokenizer, "fusion", cfg.max_length)


def save_encoder(encoder: QuestionEncoder, dest: Path) -> None:
    """Write the backbone (safetensors + config) and tokenizer under ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    if encoder.kind == "fusion":
        encoder.backbone.save_pretrained(dest / "model")
    else:
        encoder.backbone.save_pretrained(str(dest / "model"))  # safetensors (transformers >= 5 default)
    encoder.tokenizer.save_pretrained(str(dest / "tokenizer"))


def load_encoder(src: Path, kind: str, max_length: int, index: Any | None) -> QuestionEncoder:
    """Load what :func:`save_encoder` wrote (no network, no pickle); the enclosing QA artifact's
    checksums were verified by the caller, so nothing is hashed twice."""
    from kgfm.hf import offline_env

    offline_env()
    tokenizer = _tokenizer(str(src / "tokenizer"))
    if kind == "plain":
        from kgfm.hf import build_backbone

        backbone = build_backbone(src / "model", pooler=True)
    else:
        from kgfm.fusion.model import KnowledgeFusionModel

        backbone = KnowledgeFusionModel.from_pretrained(src / "model", index, verify=False)
    return QuestionEncoder(backbone, tokenizer, kind, max_length)
