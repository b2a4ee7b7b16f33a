"""Scoring answer entities from a question vector and the graph.

:class:`AnswerScorer` turns the question vector ``q`` (from :class:`kgfm.qa.encoding.QuestionEncoder`)
into a score for each of the question's candidates (the topic entity's k-hop neighbourhood,
see :mod:`kgfm.qa.candidates`), given as a padded ``[B, C]`` tensor of entity idx (``-1`` pads,
scored ``NEG_INF``). The graph (directed edge list, entity embeddings) is held as buffers, so
``model.to(device)`` moves everything the scorer touches. Two terms:

1. **Relation following** (TransferNet-style, differentiable): ``q`` gives, for each step
   ``t = 1..T``, an attention ``a_t`` over the ``2R`` directed relations and a distribution
   ``h`` over the number of steps. Starting from the one-hot topic ``x_0``,
   ``x_t = min(1, sum_r a_t[r] M_r x_{t-1})`` and ``p = sum_t h_t x_t`` -- the mass reaching
   each entity along the relation paths the question asks for.
2. **Embedding match** (EmbedKGQA-style, on the GNN entity embeddings ``E`` of the index):
   ``s(c) = <W_t e_topic * W_r q + W_y q, W_c e_c> / sqrt(k)`` -- a DistMult score with a
   question-derived relation, plus an answer-type term.

``logit(c) = alpha * log(p(c) + eps) + beta + s(c)`` with ``eps = 1e-4`` (``path_score: log``,
the config default), or ``logit(c) = alpha * p(c) + beta + s(c)`` (``path_score: mass``, the
scorer before 2026-12-06, and what a checkpoint without the field was trained with). Along a
single path, d logit / d logit_r is ``alpha * p (1 - a_r) / (p + eps)`` in log space against
``alpha * p (1 - a_r)`` with ``mass``: when the question's path carries little mass to the gold
answers (2-hop questions about a person: 1e-7 to 1e-2), ``mass`` leaves them to the embedding
term and barely trains the attention, while in log space the ranking by path mass still counts
and the gradient does not shrink with ``p`` until ``p`` falls under ``eps``. Training uses a softmax over the candidates with
several positives (``-log sum_{gold} softmax``), which is what Hits@1 rewards. Entity idx are
the store's ``idx``, which are also the entity-index rows (checked at load time).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import get_args

import torch
from torch import nn

from kgfm.qa.candidates import RelationAdjacency, follow_relations
from kgfm.qa.config import PathScore

NEG_INF = -1e9
PATH_EPS = 1e-4  # floor of the path mass in log space: an unreached candidate scores alpha * log(1e-4)
PATH_SCORES = get_args(PathScore)  # ("mass", "log"), one list with the config's


@dataclass
class ScorerShape:
    """What the scorer's parameters depend on (saved in the checkpoint manifest)."""

    hidden_size: int
    num_directed_relations: int
    max_hops: int
    entity_dim: int  # width of the index embeddings (0 = no embedding term)
    proj_dim: int  # projection size of the embedding term (config: scorer.proj_dim)
    dropout: float = 0.1
    path_score: str = "mass"  # "mass": alpha * p; "log": alpha * log(p + PATH_EPS) (config: scorer.path_score)


class AnswerScorer(nn.Module):
    """Scores the candidate entities of a batch of questions.

    Args:
        shape: Sizes (see :class:`ScorerShape`).

    The graph is attached with :meth:`attach_graph` (non-persistent buffers: rebuilt from the
    store at load time, moved by ``.to(device)`` with the parameters).
    """

    DENSE_TABLE_FACTOR = 16  # score the whole entity table once C * 16 >= N (bench/bench_qa_scorer.py)

    def __init__(self, shape: ScorerShape) -> None:
        super().__init__()
        if shape.path_score not in PATH_SCORES:
            raise ValueError(f"path_score {shape.path_score!r}: expected one of {', '.join(PATH_SCORES)}")
        self.shape = shape
        h, r, t = shape.hidden_size, shape.num_directed_relations, shape.max_hops
        self.dropout = nn.Dropout(shape.dropout)
        self.relation_attention = nn.Linear(h, t * r)
        self.hop_attention = nn.Linear(h, t)
        self.path_scale = nn.Parameter(torch.tensor(8.0 if shape.path_score == "mass" else 1.0))
        self.path_bias = nn.Parameter(torch.tensor(0.0))
        if shape.entity_dim > 0:
            k = shape.proj_dim
            self.topic_proj = nn.Linear(shape.entity_dim, k)
            self.cand_proj = nn.Linear(shape.entity_dim, k)
            self.question_relation = nn.Linear(h, k)
            self.question_type = nn.Linear(h, k)
        self.num_entities = 0
        for name in ("edge_src", "edge_dst", "edge_rel"):
            self.register_buffer(name, torch.zeros(0, dtype=torch.long), persistent=False)
        self.register_buffer("entity_embeddings", torch.zeros(0, max(shape.entity_dim, 1)), persistent=False)

    def attach_graph(self, relations: RelationAdjacency, entity_embeddings: torch.Tensor | None) -> None:
        """Give the scorer the graph it ranks entities of.

        Args:
            relations: Directed relation edges of the graph (``2R`` must match the shape).
            entity_embeddings: ``[N, entity_dim]`` rows in store idx order, or ``None`` when the
                scorer was built without the embedding term.
        """
        if relations.num_relations != self.shape.num_directed_relations:
            raise ValueError(
                f"graph has {relations.num_relations // 2} relations, the scorer was trained with "
                f"{self.shape.num_directed_relations // 2}"
            )
        device = self.path_scale.device
        self.num_entities = relations.num_entities
        self.edge_src, self.edge_dst, self.edge_rel = (t.to(device) for t in (relations.src, relations.dst, relations.rel))
        if self.shape.entity_dim > 0:
            if entity_embeddings is None or entity_embeddings.shape != (relations.num_entities, self.shape.entity_dim):
                got = None if entity_embeddings is None else tuple(entity_embeddings.shape)
                raise ValueError(
                    f"entity embeddings {got} do not fit the graph "
                    f"({relations.num_entities} entities x {self.shape.entity_dim})"
                )
            self.entity_embeddings = entity_embeddings.float().to(device)

    def attention(self, q: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(relations [B, T, 2R], hops [B, T])``: what the question asks to follow, per step."""
        b, t, r = q.shape[0], self.shape.max_hops, self.shape.num_directed_relations
        rel = torch.softmax(self.relation_attention(q).view(b, t, r), dim=-1)
        return rel, torch.softmax(self.hop_attention(q), dim=-1)

    def path_scores(self, q: torch.Tensor, topics: torch.Tensor) -> torch.Tensor:
        """``[B, N]`` relation-following mass ``p`` (see the module docstring)."""
        if not self.num_entities:
            raise RuntimeError("attach_graph() first")
        b = q.shape[0]
        rel, hop = self.attention(q)
        x = torch.zeros(b, self.num_entities, dtype=q.dtype, device=q.device)
        x[torch.arange(b, device=q.device), topics] = 1.0
        p = torch.zeros_like(x)
        for step in range(self.shape.max_hops):
            x = follow_relations(self.edge_src, self.edge_dst, self.edge_rel, x, rel[:, step]).clamp(max=1.0)
            p = p + hop[:, step : step + 1] * x
        return p

    def embedding_scores(self, q: torch.Tensor, topics: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
        """``[B, C]`` EmbedKGQA-style term ``s(c)`` for the candidates only.

        ``<query, W_c e_c + b_c> = <W_c^T query, e_c> + <query, b_c>``: the question is projected back
        to the embedding width once, so no ``[B, C, k]`` projection of the candidates is built (3-hop
        MetaQA questions have ~10,000 candidates each). Where a batch's candidate lists come near the
        entity count, the whole table is scored with one matrix product and gathered; otherwise the
        candidates' rows are gathered and scored. Both give the same numbers up to float rounding.
        """
        e_topic = self.entity_embeddings[topics]
        query = self.topic_proj(e_topic) * self.question_relation(q) + self.question_type(q)  # [B, k]
        back = query @ self.cand_proj.weight  # [B, d]
        offset = (query @ self.cand_proj.bias)[:, None]  # [B, 1]
        cand = candidates.clamp(min=0)
        if cand.shape[1] * self.DENSE_TABLE_FACTOR >= self.entity_embeddings.shape[0]:
            scores = (back @ self.entity_embeddings.T).gather(1, cand)  # [B, N] -> [B, C]
        else:
            scores = torch.einsum("bd,bcd->bc", back, self.entity_embeddings[cand])
        return (scores + offset) / math.sqrt(self.shape.proj_dim)

    def forward(self, q: torch.Tensor, topics: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
        """Logits of each question's candidates.

        Args:
            q: ``[B, H]`` question vectors.
            topics: ``[B]`` topic entity idx.
            candidates: ``[B, C]`` candidate entity idx, ``-1`` padded.

        Returns:
            ``[B, C]`` logits, ``NEG_INF`` at the padding.
        """
        q = self.dropout(q)
        topics, candidates = topics.to(q.device), candidates.to(q.device)
        pad = candidates < 0
        p = self.path_scores(q, topics).gather(1, candidates.clamp(min=0))
        if self.shape.path_score == "log":
            p = torch.log(p + PATH_EPS)
        logits = self.path_scale * p + self.path_bias
        if self.shape.entity_dim > 0:
            logits = logits + self.embedding_scores(q, topics, candidates)
        return logits.masked_fill(pad, NEG_INF)


def multi_positive_loss(logits: torch.Tensor, gold: torch.Tensor) -> torch.Tensor:
    """``-log sum_{gold} softmax(logits)`` over the candidates, averaged over questions with a gold candidate.

    Args:
        logits: ``[B, C]`` (``NEG_INF`` at the padding).
        gold: ``[B, C]`` bool: the candidate is a gold answer (never set at the padding).
    """
    gold = gold.to(logits.device)
    usable = gold.any(dim=1)
    if not usable.any():
        return logits.sum() * 0.0
    logits, gold = logits[usable], gold[usable]
    log_norm = torch.logsumexp(logits, dim=1)
    log_gold = torch.logsumexp(logits.masked_fill(~gold, NEG_INF), dim=1)
    return (log_norm - log_gold).mean()


class KGQAModel(nn.Module):
    """Question encoder + answer scorer.

    Args:
        encoder: A :class:`kgfm.qa.encoding.QuestionEncoder`.
        scorer: An :class:`AnswerScorer` whose ``hidden_size`` matches the encoder.
    """

    def __init__(self, encoder: nn.Module, scorer: AnswerScorer) -> None:
        super().__init__()
        self.encoder = encoder
        self.scorer = scorer

    @property
    def device(self) -> torch.device:
        return self.scorer.path_scale.device

    def forward(
        self,
        batch: dict[str, torch.Tensor],
        topics: torch.Tensor,
        candidates: torch.Tensor,
        use_fusion: bool | None = None,
    ) -> torch.Tensor:
        """``[B, C]`` logits (see :meth:`AnswerScorer.forward`)."""
        return self.scorer(self.encoder(batch, use_fusion=use_fusion), topics, candidates)
