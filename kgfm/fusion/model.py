"""The knowledge-fusion transformer: any HF encoder + fusion layers retrieving KG embeddings.

:class:`KnowledgeFusionModel` wraps an ``AutoModel`` encoder (default: the offline MiniLM) and
registers a forward hook on each configured encoder layer; the hook runs a
:class:`~kgfm.fusion.layer.FusionLayer` on that layer's output. The backbone's own forward
(attention masks, SDPA kernels, LoRA adapters) therefore runs unchanged, and with
``use_fusion=False`` the hooks pass the states through untouched: the without-KG baseline is
the same code path, bit for bit the plain encoder.

Saved layout (a ``fusion-model`` artifact, :mod:`kgfm.artifacts`): ``model.safetensors``,
``fusion_config.json``, ``backbone_config.json`` and the tokenizer files; the manifest records
the fingerprint of the entity index the model was trained against, and
:meth:`KnowledgeFusionModel.from_pretrained` refuses any other index.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pydantic import Field
from torch import nn

from kgfm.artifacts import ArtifactError, read_manifest, write_artifact
from kgfm.config import ConfigError, StrictModel
from kgfm.hf import base_module, build_backbone, encoder_layers
from kgfm.fusion.kg_head import KGHead, RelationViews
from kgfm.fusion.layer import COSINE_SCALE, FusionLayer, FusionTrace, pool_spans, span_mask
from kgfm.training.checkpoint import load_safetensors as load_safetensors_file

KIND = "fusion-model"
__all__ = ["FusionConfig", "FusionLayer", "FusionOutput", "IndexMismatchError", "KnowledgeFusionModel", "LoraSettings"]


class IndexMismatchError(ArtifactError):
    """The entity index given at load time is not the one the model was trained against."""


class LoraSettings(StrictModel):
    enabled: bool = False
    r: int = Field(8, ge=1)
    alpha: int = Field(16, ge=1)
    dropout: float = Field(0.05, ge=0.0, lt=1.0)
    target_modules: list[str] = ["query", "value"]


class FusionConfig(StrictModel):
    """Fusion model settings (``model:`` section of configs/pretrain.yaml).

    ``fusion_layers`` are 0-based encoder layer indices; a fusion layer runs after each.
    ``backbone_config`` (a dict for ``AutoConfig.for_model``) builds a randomly initialised
    backbone instead of loading ``base_model`` (tests, ablations).
    """

    base_model: str = "minilm"
    backbone_config: dict[str, Any] | None = None
    fusion_layers: list[int] = [3, 5]
    entity_dim: int | None = Field(None, description="checked against the index dim when set")
    top_k: int = Field(8, ge=1)
    knowledge_dropout: float = Field(0.1, ge=0.0, lt=1.0)
    gate_bias: float = -2.0
    include_linked: bool = True
    fusion: bool = True
    kg_head: bool = Field(False, description="score masked entities with the graph encoder's decoder too "
                          "(kgfm.fusion.kg_head; needs an index from `kgfm train --stage graph`)")
    kg_head_relations: int = Field(4, ge=1, description="most probable relations mixed by the KG head")
    relation_views: bool = Field(False, description="the fusion layers also attend over the linked entity's "
                                 "relation views, decoder.query(e, r) for each directed relation r (where the "
                                 "graph encoder expects e's neighbours; kgfm.fusion.kg_head.RelationViews; needs "
                                 "an index from `kgfm train --stage graph`)")
    lora: LoraSettings = LoraSettings()


@dataclass
class FusionOutput:
    """``retrieved_idx``/``candidate_idx``/``attention`` come from the last fusion layer
    (``-1``/zeros when fusion is off)."""

    last_hidden_state: torch.Tensor  # [B, T, H]
    pooled: torch.Tensor  # [B, H] attention-masked mean
    mention_states: torch.Tensor  # [B, M, H]
    entity_queries: torch.Tensor | None  # [B, M, d_e]; None when forward(entity_queries=False)
    retrieved_idx: torch.Tensor  # [B, M, k]
    candidate_idx: torch.Tensor | None = None  # [B, M, 1+k]
    attention: torch.Tensor | None = None  # [B, M, 1+k]
    traces: list[FusionTrace] | None = None


class KnowledgeFusionModel(nn.Module):
    """HF encoder with knowledge-fusion layers after selected layers.

    Args:
        config: :class:`FusionConfig`.
        index: The :class:`~kgfm.index.entity_index.EntityIndex` searched inside forward; its
            embedding matrix, rescaled to unit RMS row norm, becomes a frozen buffer
            (``entity_table``).
        backbone: An already built encoder (else built from ``config``).
        scale_rows: Take the RMS norm over the first ``scale_rows`` rows only (the rows trained on,
            when loading against an extended index); default all.
    """

    def __init__(self, config: FusionConfig, index: Any, backbone: nn.Module | None = None,
                 scale_rows: int | None = None):
        super().__init__()
        if config.entity_dim is not None and config.entity_dim != index.dim:
            raise ConfigError(f"model.entity_dim={config.entity_dim} but the entity index has dim {index.dim}")
        self.config = config
        self.index = index
        self.backbone = backbone if backbone is not None else build_backbone(config.base_model, config.backbone_config)
        hcfg = base_module(self.backbone).config
        self.hidden_size = int(hcfg.hidden_size)
        layers = encoder_layers(self.backbone)
        bad = [i for i in config.fusion_layers if not 0 <= i < len(layers)]
        if bad or len(set(config.fusion_layers)) != len(config.fusion_layers):
            raise ConfigError(
                f"model.fusion_layers={config.fusion_layers}: need distinct indices in [0, {len(layers) - 1}]"
            )
        eps = float(getattr(hcfg, "layer_norm_eps", 1e-12))
        drop = float(getattr(hcfg, "hidden_dropout_prob", 0.1))
        self.fusion_layers = nn.ModuleList(
            FusionLayer(self.hidden_size, index.dim, config.top_k, config.knowledge_dropout, drop, config.gate_bias,
                        config.include_linked, index.metric, eps)
            for _ in config.fusion_layers
        )
        self.relation_views = RelationViews(index) if config.relation_views else None
        self.kg_head = KGHead(self.hidden_size, index, config.kg_head_relations, eps) if config.kg_head else None
        self.entity_head = nn.Sequential(
            nn.Linear(self.hidden_size, self.hidden_size), nn.GELU(), nn.LayerNorm(self.hidden_size, eps=eps),
            nn.Linear(self.hidden_size, index.dim),
        )
        # Rows rescaled to unit RMS norm, whatever the encoder's scale: attention logits and the
        # entity scores start in a sane range. FAISS searches the unscaled index with
        # ``query * scale``, which ranks exactly like ``query . table`` (IP) / ``|query - table|`` (L2).
        # The scale is taken over the rows trained on (``scale_rows``), so an index extended by
        # `kgfm extend-index` leaves the known entities' table rows exactly as trained.
        table = np.array(index.embeddings, dtype=np.float32)
        if index.metric == "cosine":  # FAISS holds unit rows for a cosine index: so does the table
            table = table / np.maximum(np.linalg.norm(table, axis=1, keepdims=True), 1e-12)
        rows = table[:scale_rows].astype(np.float64)
        self.entity_scale = float(np.sqrt(np.mean(np.sum(rows ** 2, axis=1)))) or 1.0
        self.register_buffer("entity_table", torch.from_numpy(table / self.entity_scale), persistent=False)
        self._ctx: dict[str, Any] | None = None
        for slot, layer_idx in enumerate(config.fusion_layers):
            layers[layer_idx].register_forward_hook(self._hook(slot))
        if config.lora.enabled:
            self.enable_lora(config.lora)

    def enable_lora(self, settings: LoraSettings) -> None:
        """Wrap the backbone with LoRA adapters (``peft``, the ``[lora]`` extra).

        The backbone's own weights are frozen; the adapters, fusion layers and heads train. The
        settings are recorded in ``config.lora`` so :meth:`from_pretrained` rebuilds the same
        structure before loading the weights.

        Args:
            settings: Rank, alpha, dropout and target modules of the adapters.
        """
        if hasattr(self.backbone, "get_base_model"):  # peft-wrapped already (see backbone.base_module)
            raise ValueError("LoRA adapters are already attached to this model")
        from peft import LoraConfig, get_peft_model

        self.config = self.config.model_copy(update={"lora": settings.model_copy(update={"enabled": True})})
        self.backbone = get_peft_model(
            self.backbone,
            LoraConfig(r=settings.r, lora_alpha=settings.alpha, lora_dropout=settings.dropout,
                       target_modules=list(settings.target_modules), bias="none"),
        )

    # ------------------------------------------------------------------ internals
    def _search(self, queries: np.ndarray, k: int) -> np.ndarray:
        return self.index.search(queries * self.entity_scale, k)[1]

    def _hook(self, slot: int):
        # The backbone's layer holds the hook; a strong reference back to this model would make a
        # cycle (model -> layer -> hook -> model) that only the cyclic collector frees, so a model
        # let go of would keep its weights until the next full collection.
        owner = weakref.ref(self)

        def hook(module: nn.Module, args: Any, output: Any) -> Any:
            model = owner()
            ctx = model._ctx if model is not None else None
            if ctx is None or not ctx["active"]:
                return output
            hidden = output[0] if isinstance(output, tuple) else output
            if model.relation_views is not None and ctx["entities"] is not None and "views" not in ctx:
                ctx["views"] = model.relation_views(ctx["entities"])  # once per forward, shared by the layers
            fused, trace = model.fusion_layers[slot](
                hidden, ctx["mask"], ctx["entities"], model.entity_table, model._search, ctx.get("views")
            )
            ctx["traces"].append(trace)
            return (fused, *output[1:]) if isinstance(output, tuple) else fused

        return hook

    # ------------------------------------------------------------------ forward
    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        mention_spans: torch.Tensor | None = None,
        mention_entities: torch.Tensor | None = None,
        use_fusion: bool | None = None,
        token_type_ids: torch.Tensor | None = None,
        entity_queries: bool = True,
    ) -> FusionOutput:
        """Encode a batch, fusing knowledge into mention tokens.

        Args:
            input_ids: ``[B, T]`` token ids.
            attention_mask: ``[B, T]`` 1 for real tokens.
            mention_spans: ``[B, M, 2]`` token spans (end exclusive, ``-1`` padded); ``None``: no mentions.
            mention_entities: ``[B, M]`` linked entity rows, ``-1`` unknown/hidden (e.g. masked for
                masked-entity prediction); ``None``: retrieval only.
            use_fusion: Override ``config.fusion`` (``False``: the plain encoder, same code path).
            token_type_ids: ``[B, T]`` segment ids, passed to the backbone when given.
            entity_queries: Run the masked-entity head (pretraining reads it; question answering
                does not, and skips its two products per mention).
        """
        b, t = input_ids.shape
        if mention_spans is None:
            mention_spans = torch.full((b, 1, 2), -1, dtype=torch.long, device=input_ids.device)
        mask = span_mask(mention_spans, t)
        active = self.config.fusion if use_fusion is None else use_fusion
        self._ctx = {"active": bool(active), "mask": mask, "entities": mention_entities, "traces": []}
        try:
            kwargs = {"token_type_ids": token_type_ids} if token_type_ids is not None else {}
            hidden = self.backbone(input_ids=input_ids, attention_mask=attention_mask, **kwargs).last_hidden_state
            traces = self._ctx["traces"]
        finally:
            self._ctx = None
        am = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * am).sum(1) / am.sum(1).clamp(min=1.0)
        mention_states = pool_spans(hidden, mask)
        queries = self.entity_head(mention_states) if entity_queries else None
        m = mention_spans.shape[1]
        if traces:
            last = traces[-1]
            retrieved, cands, attn = last.retrieved_idx, last.candidate_idx, last.attention
        else:
            retrieved = torch.full((b, m, self.config.top_k), -1, dtype=torch.long, device=hidden.device)
            cands, attn = None, None
        return FusionOutput(hidden, pooled, mention_states, queries, retrieved, cands, attn, traces)

    def entity_scores(self, entity_queries: torch.Tensor, rows: torch.Tensor | None = None) -> torch.Tensor:
        """Scores of queries ``[..., d_e]`` against entity rows (all entities by default), as the
        index scores them (inner product, cosine times ``COSINE_SCALE``, or negative squared L2)."""
        table = self.entity_table if rows is None else self.entity_table[rows]
        if self.index.metric == "cosine":
            return COSINE_SCALE * torch.nn.functional.normalize(entity_queries, dim=-1) @ table.T
        if self.index.metric == "l2":
            return -torch.cdist(entity_queries.reshape(-1, table.shape[-1]), table).pow(2).reshape(
                *entity_queries.shape[:-1], table.shape[0])
        return entity_queries @ table.T

    # ------------------------------------------------------------------ persistence
    def save_pretrained(self, dest: Path, tokenizer: Any | None = None, extra: dict[str, Any] | None = None) -> dict:
        """Write weights (safetensors), configs, the tokenizer and the index fingerprint atomically."""
        from safetensors.torch import save_file

        state = {k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()}
        backbone_cfg = base_module(self.backbone).config.to_dict()
        writers = {
            "model.safetensors": lambda p: save_file(state, str(p)),
            "fusion_config.json": lambda p: p.write_text(self.config.model_dump_json(indent=2), encoding="utf-8"),
            "backbone_config.json": lambda p: p.write_text(json.dumps(backbone_cfg, indent=2, default=str), "utf-8"),
        }
        tmp = None
        if tokenizer is not None:
            tmp = Path(tempfile.mkdtemp(prefix="kgfm-tok-"))
            tokenizer.save_pretrained(str(tmp))
            for f in sorted(tmp.iterdir()):
                writers[f"tokenizer/{f.name}"] = lambda p, f=f: (p.parent.mkdir(exist_ok=True), shutil.copy(f, p))
        index_info = {"fingerprint": self.index.fingerprint, "num_entities": len(self.index.entity_ids),
                      "dim": self.index.dim, "metric": self.index.metric}
        try:
            return write_artifact(Path(dest), KIND, writers, {"config": self.config.model_dump(mode="json"),
                                                               "index": index_info, **(extra or {})})
        finally:
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)

    @classmethod
    def from_pretrained(cls, src: Path, index: Any, map_location: str = "cpu", verify: bool = True) -> "KnowledgeFusionModel":
        """Load a saved model against ``index``.

        ``verify=False`` skips re-hashing the files when an enclosing artifact (a QA model) was just
        verified; the manifest is still read for the index fingerprint.

        Raises:
            IndexMismatchError: the index is neither the one saved nor that one extended (``kgfm extend-index``).
            ArtifactError: missing or corrupt files.
        """
        src = Path(src)
        manifest = read_manifest(src, KIND, verify=verify,
                                 required=("model.safetensors", "fusion_config.json", "backbone_config.json"))
        saved = manifest.get("index", {})
        if not index.extends(saved.get("fingerprint"), saved.get("num_entities")):
            raise IndexMismatchError(
                f"{src}: trained against entity index {saved.get('fingerprint')} "
                f"({saved.get('num_entities')} entities, dim {saved.get('dim')}), but the index given is "
                f"{index.fingerprint} ({len(index.entity_ids)} entities, dim {index.dim}); "
                "rebuild the model or pass the index it was trained with"
            )
        config = FusionConfig.model_validate_json((src / "fusion_config.json").read_text(encoding="utf-8"))
        bcfg = json.loads((src / "backbone_config.json").read_text(encoding="utf-8"))
        model = cls(config, index, backbone=build_backbone(config.base_model, bcfg), scale_rows=saved.get("num_entities"))
        state = load_safetensors_file(src / "model.safetensors", map_location)
        missing, unexpected = model.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise ArtifactError(f"{src}: weights do not fit the config (missing {missing[:3]}, unexpected {unexpected[:3]})")
        return model

    @staticmethod
    def load_tokenizer(src: Path) -> Any:
        from transformers import AutoTokenizer

        path = Path(src) / "tokenizer"
        if not path.is_dir():
            raise ArtifactError(f"{src}: no tokenizer saved with this model")
        return AutoTokenizer.from_pretrained(str(path))
