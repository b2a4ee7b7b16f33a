"""The knowledge-fusion layer: mention states -> FAISS retrieval -> attention -> gated residual.

Shaped like the optional cross-attention sub-layer of ``BertLayer``, with the "encoder
states" replaced by the entity embeddings retrieved for each mention (KnowBERT's knowledge
attention and recontextualisation, ERNIE's aggregator in spirit):

1. mention state ``m`` = mean of the span's token states;
2. query ``q = W_q m`` in the entity-embedding space;
3. candidates = top-k FAISS neighbours of ``q`` (non-differentiable indices, searched in
   forward, batched over every mention of the batch) plus the linked entity when known;
4. attention ``a = softmax(score(q, e_c) / sqrt(d))`` over the candidates' *frozen*
   embeddings (inner product, or negative squared L2 for an L2 index), so gradients reach
   ``W_q`` through the scores and ``W_v`` through the values, never FAISS;
5. knowledge ``k = LayerNorm(W_v sum_c a_c e_c)`` in hidden space, dropped as a whole per
   mention with probability ``knowledge_dropout`` during training;
6. gate ``g = sigmoid(W_g [m; k])`` (per dimension; bias ``gate_bias`` starts it mostly
   closed) and every token of the span gets ``h + dropout(g * k)``.

Tokens outside mentions are never touched, and a closed gate leaves the states unchanged. With
``relation_views`` the linked entity's views (:class:`kgfm.fusion.kg_head.RelationViews`, one per
directed relation: where the graph encoder expects that relation's neighbours) join the
candidates of step 4.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

COSINE_SCALE = 10.0  # temperature of cosine scores (metric "cosine"): logits in [-10, 10]

#: ``queries [n, d] float32 -> idx [n, k] int64`` (``-1`` = no result)
Searcher = Callable[[np.ndarray, int], np.ndarray]


@dataclass
class FusionTrace:
    """What one fusion layer did, for inspection and the model output."""

    queries: torch.Tensor  # [B, M, d_e]
    retrieved_idx: torch.Tensor  # [B, M, k]   FAISS top-k (-1 = none)
    candidate_idx: torch.Tensor  # [B, M, 1+k] linked entity (or -1) then the top-k
    attention: torch.Tensor  # [B, M, 1+k]
    gate: torch.Tensor  # [B, M, H]
    view_attention: torch.Tensor | None = None  # [B, M, 2R] on the relation views, when given


def span_mask(mention_spans: torch.Tensor, seq_len: int) -> torch.Tensor:
    """``[B, M, T]`` float mask of the tokens in each mention span (empty for ``-1`` spans)."""
    pos = torch.arange(seq_len, device=mention_spans.device)
    start = mention_spans[..., 0:1]
    end = mention_spans[..., 1:2]
    return ((pos >= start) & (pos < end) & (start >= 0)).float()


def pool_spans(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of token states per span: ``[B, T, H]``, ``[B, M, T]`` -> ``[B, M, H]`` (0 if empty)."""
    summed = torch.bmm(mask.to(hidden.dtype), hidden)
    return summed / mask.sum(-1, keepdim=True).clamp(min=1.0).to(hidden.dtype)


class FusionLayer(nn.Module):
    """One knowledge-fusion sub-layer inserted after an encoder layer.

    Args:
        hidden_size: Width of the token states.
        entity_dim: Width of the entity embeddings (the FAISS index's ``dim``).
        top_k: FAISS candidates per mention.
        knowledge_dropout: Probability of dropping a mention's whole knowledge vector in training.
        hidden_dropout: Dropout on the gated update.
        gate_bias: Initial gate bias (``sigmoid(-2) ~ 0.12``: starts mostly closed).
        include_linked: Add the linked entity (when known) to the candidates.
        metric: ``"ip"``, ``"cosine"`` or ``"l2"``, matching the index (cosine: scaled by ``COSINE_SCALE``).
        layer_norm_eps: LayerNorm epsilon (take the backbone's).
    """

    def __init__(
        self,
        hidden_size: int,
        entity_dim: int,
        top_k: int = 8,
        knowledge_dropout: float = 0.1,
        hidden_dropout: float = 0.1,
        gate_bias: float = -2.0,
        include_linked: bool = True,
        metric: str = "ip",
        layer_norm_eps: float = 1e-12,
    ):
        super().__init__()
        self.entity_dim = entity_dim
        self.top_k = top_k
        self.knowledge_dropout = knowledge_dropout
        self.include_linked = include_linked
        self.metric = metric
        self.query = nn.Linear(hidden_size, entity_dim)
        self.value = nn.Linear(entity_dim, hidden_size)
        self.norm = nn.LayerNorm(hidden_size, eps=layer_norm_eps)
        self.gate = nn.Linear(2 * hidden_size, hidden_size)
        self.dropout = nn.Dropout(hidden_dropout)
        nn.init.zeros_(self.gate.weight)
        nn.init.constant_(self.gate.bias, gate_bias)

    def retrieve(
        self, queries: torch.Tensor, valid: torch.Tensor, mention_entities: torch.Tensor | None, search: Searcher
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """FAISS top-k for every valid mention (one batched search), plus the linked entity.

        Returns:
            ``retrieved [B, M, k]`` and ``candidates [B, M, 1+k]`` entity rows, ``-1`` = none.
        """
        b, m, _ = queries.shape
        retrieved = torch.full((b, m, self.top_k), -1, dtype=torch.long, device=queries.device)
        flat_valid = valid.reshape(-1)
        if bool(flat_valid.any()):
            q = queries.detach().reshape(b * m, -1)[flat_valid].float().cpu().numpy()
            idx = torch.from_numpy(np.ascontiguousarray(search(q, self.top_k), dtype=np.int64))
            retrieved.view(b * m, self.top_k)[flat_valid] = idx.to(queries.device)
        linked = torch.full((b, m, 1), -1, dtype=torch.long, device=queries.device)
        if self.include_linked and mention_entities is not None:
            linked = torch.where(valid, mention_entities, torch.full_like(mention_entities, -1)).unsqueeze(-1)
        # a retrieved copy of the linked entity is dropped (it is already slot 0)
        dup = (retrieved == linked) & (linked >= 0)
        candidates = torch.cat([linked, retrieved.masked_fill(dup, -1)], dim=-1)
        return retrieved, candidates

    def forward(
        self,
        hidden: torch.Tensor,
        mask: torch.Tensor,
        mention_entities: torch.Tensor | None,
        entity_table: torch.Tensor,
        search: Searcher,
        views: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, FusionTrace]:
        """Fuse knowledge into the mention tokens.

        Args:
            hidden: ``[B, T, H]`` token states after the encoder layer.
            mask: ``[B, M, T]`` span mask from :func:`span_mask`.
            mention_entities: ``[B, M]`` linked entity rows (``-1`` unknown or hidden) or ``None``.
            entity_table: ``[N, d_e]`` frozen entity embeddings (rows = FAISS ids).
            search: FAISS search function, see :data:`Searcher`.
            views: ``([B, M, V, d_e], valid [B, M, V])`` extra candidates after the entities (the
                linked entity's relation views), or ``None``.

        Returns:
            The updated ``[B, T, H]`` states and a :class:`FusionTrace`.
        """
        valid = mask.sum(-1) > 0  # [B, M]
        mention = pool_spans(hidden, mask)  # [B, M, H]
        queries = self.query(mention)  # [B, M, d]
        retrieved, candidates = self.retrieve(queries, valid, mention_entities, search)
        emb = entity_table[candidates.clamp(min=0)].to(queries.dtype)  # [B, M, C, d]
        has = candidates >= 0
        n_entities = emb.shape[-2]
        if views is not None:
            emb = torch.cat([emb, views[0].to(queries.dtype)], dim=-2)
            has = torch.cat([has, views[1] & valid.unsqueeze(-1)], dim=-1)
        if self.metric == "l2":
            scores = -((queries.unsqueeze(-2) - emb) ** 2).sum(-1) / math.sqrt(self.entity_dim)
        elif self.metric == "cosine":  # as FAISS ranks a cosine index; a fixed temperature (norms carry nothing)
            scores = COSINE_SCALE * (F.normalize(queries, dim=-1).unsqueeze(-2) * F.normalize(emb, dim=-1)).sum(-1)
        else:
            scores = (queries.unsqueeze(-2) * emb).sum(-1) / math.sqrt(self.entity_dim)
        scores = scores.masked_fill(~has, torch.finfo(scores.dtype).min)
        attention = torch.softmax(scores, dim=-1) * has.any(-1, keepdim=True)
        knowledge = self.norm(self.value(torch.einsum("bmc,bmcd->bmd", attention, emb)))
        keep = has.any(-1, keepdim=True).to(knowledge.dtype)
        if self.training and self.knowledge_dropout > 0:
            keep = keep * (torch.rand_like(keep) >= self.knowledge_dropout).to(keep.dtype)
        knowledge = knowledge * keep
        gate = torch.sigmoid(self.gate(torch.cat([mention, knowledge], dim=-1))) * keep
        update = self.dropout(gate * knowledge)  # [B, M, H]
        out = hidden + torch.bmm(mask.transpose(1, 2).to(hidden.dtype), update)
        view_attention = attention[..., n_entities:] if views is not None else None
        return out, FusionTrace(queries, retrieved, candidates, attention[..., :n_entities], gate, view_attention)
