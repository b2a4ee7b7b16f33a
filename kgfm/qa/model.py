"""Scoring answer entities from a question vector and the graph.

:class:`AnswerScorer` turns the question vector ``q`` (from :class:`kgfm.qa.encoding.QuestionEncoder`)
into a score for every entity of the graph; non-candidates (outside the topic entity's
k-hop neighbourhood, see :mod:`kgfm.qa.candidates`) get ``-inf``. Two terms:

1. **Relation following** (TransferNet-style, differentiable): ``q`` gives, for each step
   ``t = 1..T``, an attention ``a_t`` over the ``2R`` directed relations and a distribution
   ``h`` over the number of steps. Starting from the one-hot topic ``x_0``,
   ``x_t = min(1, sum_r a_t[r] M_r x_{t-1})`` and ``p = sum_t h_t x_t`` -- the mass reaching
   each entity along the relation paths the question asks for.
2. **Embedding match** (EmbedKGQA-style, on the GNN entity embeddings ``E`` of the index):
   ``s(c) = <W_t e_topic * W_r q + W_y q, W_c e_c> / sqrt(k)`` -- a DistMult score with a
   question-derived relation, plus an answer-type term.

``logit(c) = alpha * p(c) + beta + s(c)``. Training uses a softmax over the candidates with
several positives (``-log sum_{gold} softmax``), which is what Hits@1 rewards.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from kgfm.qa.candidates import RelationAdjacency

NEG_INF = -1e9


@dataclass
class ScorerShape:
    """What the scorer's parameters depend on (saved in the checkpoint manifest)."""

    hidden_size: int
    num_directed_relations: int
    max_hops: int
    entity_dim: int  # width of the index embeddings (0 = no embedding term)
    proj_dim: int
    dropout: float = 0.1


class AnswerScorer(nn.Module):
    """Scores every graph entity for a batch of questions.

    Args:
        shape: Sizes (see :class:`ScorerShape`).

    The graph structures are attached with :meth:`attach_graph` (they are not parameters, and
    are rebuilt from the store at load time).
    """

    def __init__(self, shape: ScorerShape) -> None:
        super().__init__()
        self.shape = shape
        h, r, t = shape.hidden_size, shape.num_directed_relations, shape.max_hops
        self.dropout = nn.Dropout(shape.dropout)
        self.relation_attention = nn.Linear(h, t * r)
        self.hop_attention = nn.Linear(h, t)
        self.path_scale = nn.Parameter(torch.tensor(8.0))
        self.path_bias = nn.Parameter(torch.tensor(0.0))
        if shape.entity_dim > 0:
            k = shape.proj_dim
            self.topic_proj = nn.Linear(shape.entity_dim, k)
            self.cand_proj = nn.Linear(shape.entity_dim, k)
            self.question_relation = nn.Linear(h, k)
            self.question_type = nn.Linear(h, k)
        self.relations: RelationAdjacency | None = None
        self.register_buffer("entity_embeddings", torch.zeros(0, max(shape.entity_dim, 1)), persistent=False)
        self._cand_cache: torch.Tensor | None = None

    def attach_graph(self, relations: RelationAdjacency, entity_embeddings: torch.Tensor | None) -> None:
        """Give the scorer the graph it ranks entities of.

        Args:
            relations: Directed relation matrices of the graph (``2R`` must match the shape).
            entity_embeddings: ``[N, entity_dim]`` aligned with the graph's entity idx, or ``None``
                when the scorer was built without the embedding term.
        """
        if relations.num_relations != self.shape.num_directed_relations:
            raise ValueError(
                f"graph has {relations.num_relations // 2} relations, the scorer was trained with "
                f"{self.shape.num_directed_relations // 2}"
            )
        self.relations = relations
        if self.shape.entity_dim > 0:
            if entity_embeddings is None or entity_embeddings.shape != (relations.num_entities, self.shape.entity_dim):
                got = None if entity_embeddings is None else tuple(entity_embeddings.shape)
                raise ValueError(
                    f"entity embeddings {got} do not fit the graph "
                    f"({relations.num_entities} entities x {self.shape.entity_dim})"
                )
            self.entity_embeddings = entity_embeddings.float()
        self._cand_cache = None

    def train(self, mode: bool = True) -> "AnswerScorer":
        self._cand_cache = None
        return super().train(mode)

    def attention(self, q: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(relations [B, T, 2R], hops [B, T])``: what the question asks to follow, per step."""
        b, t, r = q.shape[0], self.shape.max_hops, self.shape.num_directed_relations
        rel = torch.softmax(self.relation_attention(q).view(b, t, r), dim=-1)
        return rel, torch.softmax(self.hop_attention(q), dim=-1)

    def path_scores(self, q: torch.Tensor, topics: torch.Tensor) -> torch.Tensor:
        """``[B, N]`` relation-following mass ``p`` (see the module docstring)."""
        assert self.relations is not None, "attach_graph() first"
        b, n, t = q.shape[0], self.relations.num_entities, self.shape.max_hops
        rel, hop = self.attention(q)
        x = torch.zeros(b, n, dtype=q.dtype)
        x[torch.arange(b), topics] = 1.0
        p = torch.zeros_like(x)
        for step in range(t):
            x = self.relations.step(x, rel[:, step]).clamp(max=1.0)
            p = p + hop[:, step : step + 1] * x
        return p

    def _candidate_vectors(self) -> torch.Tensor:
        if self._cand_cache is not None and not self.training:
            return self._cand_cache
        vecs = self.cand_proj(self.entity_embeddings)
        if not self.training:
            self._cand_cache = vecs.detach()
        return vecs

    def embedding_scores(self, q: torch.Tensor, topics: torch.Tensor) -> torch.Tensor:
        """``[B, N]`` EmbedKGQA-style term ``s(c)``."""
        e_topic = self.entity_embeddings[topics]
        query = self.topic_proj(e_topic) * self.question_relation(q) + self.question_type(q)
        return query @ self._candidate_vectors().T / math.sqrt(self.shape.proj_dim)

    def forward(self, q: torch.Tensor, topics: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
        """Logits over all entities.

        Args:
            q: ``[B, H]`` question vectors.
            topics: ``[B]`` topic entity idx.
            candidates: ``[B, N]`` bool candidate mask.

        Returns:
            ``[B, N]`` logits, ``NEG_INF`` outside the candidates.
        """
        q = self.dropout(q)
        logits = self.path_scale * self.path_scores(q, topics) + self.path_bias
        if self.shape.entity_dim > 0:
            logits = logits + self.embedding_scores(q, topics)
        return logits.masked_fill(~candidates, NEG_INF)


def multi_positive_loss(logits: torch.Tensor, targets: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
    """``-log sum_{gold} softmax(logits)`` over the candidates, averaged over questions with a gold candidate.

    Args:
        logits: ``[B, N]`` (``NEG_INF`` outside the candidates).
        targets: ``[B, N]`` bool gold answers.
        candidates: ``[B, N]`` bool candidate mask.
    """
    gold = targets & candidates
    usable = gold.any(dim=1)
    if not usable.any():
        return logits.sum() * 0.0
    logits, gold = logits[usable], gold[usable]
    log_norm = torch.logsumexp(logits, dim=1)
    log_gold = torch.logsumexp(logits.masked_fill(~gold, NEG_INF), dim=1)
    return (log_norm - log_gold).mean()


def bce_loss(logits: torch.Tensor, targets: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy over the candidate entries only (mean per question)."""
    per = F.binary_cross_entropy_with_logits(logits, targets.float(), reduction="none") * candidates
    return (per.sum(1) / candidates.sum(1).clamp(min=1)).mean()


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

    def forward(
        self,
        batch: dict[str, torch.Tensor],
        topics: torch.Tensor,
        candidates: torch.Tensor,
        use_fusion: bool | None = None,
    ) -> torch.Tensor:
        """``[B, N]`` logits (see :meth:`AnswerScorer.forward`)."""
        return self.scorer(self.encoder(batch, use_fusion=use_fusion), topics, candidates)
