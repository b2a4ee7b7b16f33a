"""Pretraining objectives: masked language modelling + masked-entity prediction.

* MLM: 15% of the ordinary tokens (BERT's 80% ``[MASK]`` / 10% random / 10% unchanged).
* Masked-entity prediction (ERNIE's denoising entity auto-encoder in spirit): per text one
  linked mention is chosen, its tokens are replaced by ``[MASK]`` (``entity_token_mask`` of the
  time during training, always in evaluation), its linked entity is *hidden* from the fusion
  layers (``mention_entities = -1``, so the answer cannot leak through retrieval), and the
  model predicts the entity from the mention's final state projected into entity space,
  scored against the frozen entity-embedding matrix: in training either every entity (a full
  softmax, ``negatives=-1``: one ``[n, d] x [d, N]`` product, cheap up to ~10^6 entities) or the
  batch's targets (in-batch negatives for each other) plus ``negatives`` uniformly sampled
  rows; all entities in evaluation. With ``model.kg_head`` the logits add the graph decoder's
  scores over the text's other (context) entity (:mod:`kgfm.fusion.kg_head`), and a relation
  cross-entropy trains its relation classifier on triple records (their ``"rel"``).
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from kgfm.fusion.batching import encode_batch
from kgfm.fusion.kg_head import context_mentions
from kgfm.fusion.model import KnowledgeFusionModel


class MLMHead(nn.Module):
    """BERT's LM prediction head with the decoder tied (functionally) to the word embeddings."""

    def __init__(self, hidden_size: int, vocab_size: int, eps: float = 1e-12):
        super().__init__()
        self.transform = nn.Sequential(nn.Linear(hidden_size, hidden_size), nn.GELU(),
                                       nn.LayerNorm(hidden_size, eps=eps))
        self.bias = nn.Parameter(torch.zeros(vocab_size))

    def forward(self, hidden: torch.Tensor, word_embeddings: torch.Tensor) -> torch.Tensor:
        return self.transform(hidden) @ word_embeddings.T + self.bias


class PretrainCollator:
    """Records -> a masked batch.

    Args:
        tokenizer: Fast tokenizer of the backbone.
        max_length: Token truncation length.
        mlm_probability: Share of ordinary tokens used for MLM.
        entity_token_mask: Probability that a target mention's tokens become ``[MASK]`` (training).
        relation_ids: Relation name -> encoder relation id ``r`` (``r + len(relation_ids)`` is its
            inverse): triple records then get ``relation_labels`` for the KG head (the relation from
            the other mention to the target: ``r`` for a masked object, ``r^-1`` for a masked subject).
    """

    def __init__(self, tokenizer: Any, max_length: int = 64, mlm_probability: float = 0.15,
                 entity_token_mask: float = 0.9, relation_ids: dict[str, int] | None = None):
        self.tokenizer = tokenizer
        self.relation_ids = relation_ids or {}
        self.max_length = max_length
        self.mlm_probability = mlm_probability
        self.entity_token_mask = entity_token_mask
        self.special = torch.tensor(sorted(set(tokenizer.all_special_ids)))

    def __call__(self, records: Sequence[dict[str, Any]], generator: torch.Generator,
                 evaluation: bool = False) -> dict[str, torch.Tensor]:
        batch = encode_batch(self.tokenizer, [r["text"] for r in records], [r["mentions"] for r in records],
                             self.max_length)
        ids, spans, linked = batch["input_ids"], batch["mention_spans"], batch["mention_entities"]
        b, t = ids.shape
        pos = torch.arange(t)
        target = torch.full_like(linked, -1)
        rel_labels = torch.full_like(linked, -1)
        entity_tokens = torch.zeros_like(ids, dtype=torch.bool)
        for i in range(b):
            ok = ((spans[i, :, 0] >= 0) & (linked[i] >= 0)).nonzero().flatten()
            if len(ok) == 0:
                continue
            j = int(ok[torch.randint(len(ok), (1,), generator=generator)])
            target[i, j] = linked[i, j]
            rel = self.relation_ids.get(records[i].get("rel", ""), -1) if len(ok) == 2 else -1
            if rel >= 0 and j in (0, 1) and records[i].get("kind") == "triple":
                rel_labels[i, j] = rel if j == 1 else rel + len(self.relation_ids)
            linked[i, j] = -1  # hidden from the fusion layers
            span = (pos >= spans[i, j, 0]) & (pos < spans[i, j, 1])
            entity_tokens[i] = span
            if evaluation or torch.rand((), generator=generator) < self.entity_token_mask:
                ids[i, span] = self.tokenizer.mask_token_id
        # MLM over the other real tokens
        ordinary = batch["attention_mask"].bool() & ~torch.isin(ids, self.special) & ~entity_tokens
        chosen = ordinary & (torch.rand(ids.shape, generator=generator) < self.mlm_probability)
        labels = torch.where(chosen, batch["input_ids"].clone(), torch.full_like(ids, -100))
        roll = torch.rand(ids.shape, generator=generator)
        ids = torch.where(chosen & (roll < 0.8), torch.full_like(ids, self.tokenizer.mask_token_id), ids)
        random_ids = torch.randint(len(self.tokenizer), ids.shape, generator=generator)
        ids = torch.where(chosen & (roll >= 0.8) & (roll < 0.9), random_ids, ids)
        batch.update(input_ids=ids, mention_entities=linked, entity_targets=target, mlm_labels=labels,
                     relation_labels=rel_labels)
        return batch


class PretrainModule(nn.Module):
    """Fusion model + MLM head, returning the losses (one module so DDP wraps everything).

    Args:
        model: The fusion model.
        negatives: ``-1`` full softmax over all entities, else sampled negatives per batch.
        entity_weight: Weight of the masked-entity loss.
        relation_weight: Weight of the KG head's relation cross-entropy (when the model has one).
    """

    def __init__(self, model: KnowledgeFusionModel, negatives: int = 1024, entity_weight: float = 1.0,
                 relation_weight: float = 1.0):
        super().__init__()
        self.model = model
        cfg = model.backbone.config if not hasattr(model.backbone, "get_base_model") else \
            model.backbone.get_base_model().config
        self.mlm_head = MLMHead(model.hidden_size, cfg.vocab_size, float(getattr(cfg, "layer_norm_eps", 1e-12)))
        self.negatives = negatives
        self.entity_weight = entity_weight
        self.relation_weight = relation_weight
        self.use_kg_head = True  # ablation switch (the KG head off, the fusion layers as set)

    def word_embeddings(self) -> torch.Tensor:
        return self.model.backbone.get_input_embeddings().weight

    def _encode(self, batch: dict[str, torch.Tensor], use_fusion: bool | None) -> Any:
        return self.model(batch["input_ids"], batch["attention_mask"], batch["mention_spans"],
                          batch["mention_entities"], use_fusion=use_fusion)

    def entity_logits(self, batch: dict[str, torch.Tensor], out: Any, use_fusion: bool | None = None,
                      rows: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Masked-entity logits of every target mention.

        Args:
            batch: A collated batch (``entity_targets`` marks the targets).
            out: The model output for ``batch``.
            use_fusion: As passed to the model; ``False`` also switches the KG head off.
            rows: Candidate entity rows (default: all entities).

        Returns:
            ``logits [n, C]``, ``targets [n]`` (entity rows) and the KG head's relation logits
            ``[n, 2R]`` (``None`` without an active KG head), targets in row-major order.
        """
        tb, tm = (batch["entity_targets"] >= 0).nonzero(as_tuple=True)
        targets = batch["entity_targets"][tb, tm]
        logits = self.model.entity_scores(out.entity_queries[tb, tm], rows)
        head = self.model.kg_head
        active = self.model.config.fusion if use_fusion is None else use_fusion
        if head is None or not active or not self.use_kg_head or not len(tb):
            return logits, targets, None
        valid = batch["mention_spans"][..., 0] >= 0
        ctx_m, ctx_row = context_mentions(batch["mention_entities"], valid, out.retrieved_idx, tb, tm)
        ctx_states = out.mention_states[tb, ctx_m.clamp(min=0)] * (ctx_m >= 0).unsqueeze(-1).to(logits.dtype)
        rel_logits = head.relation_logits(out.mention_states[tb, tm], ctx_states)
        return logits + head.scores(rel_logits, ctx_row, rows), targets, rel_logits

    def _relation_loss(self, batch: dict[str, torch.Tensor], rel_logits: torch.Tensor | None) -> torch.Tensor:
        if rel_logits is None or "relation_labels" not in batch:
            return self.mlm_head.bias.sum() * 0.0
        labels = batch["relation_labels"][batch["entity_targets"] >= 0]
        ok = labels >= 0
        if not bool(ok.any()):
            return rel_logits.sum() * 0.0
        return F.cross_entropy(rel_logits[ok], labels[ok])

    def forward(self, batch: dict[str, torch.Tensor], use_fusion: bool | None = None) -> dict[str, torch.Tensor]:
        out = self._encode(batch, use_fusion)
        labels = batch["mlm_labels"]
        sel = labels != -100
        hidden = out.last_hidden_state[sel]
        if hidden.shape[0]:
            logits = self.mlm_head(hidden, self.word_embeddings())
            mlm = F.cross_entropy(logits, labels[sel])
        else:
            mlm = out.last_hidden_state.sum() * 0.0
        targets = batch["entity_targets"][batch["entity_targets"] >= 0]
        rel_logits = None
        if targets.numel() and self.negatives < 0:
            ent_logits, targets, rel_logits = self.entity_logits(batch, out, use_fusion)
            entity = F.cross_entropy(ent_logits, targets)
        elif targets.numel():
            n = self.model.entity_table.shape[0]
            neg = torch.randint(n, (self.negatives,), device=targets.device) if self.negatives else targets[:0]
            rows, inverse = torch.unique(torch.cat([targets, neg]), return_inverse=True)
            ent_logits, _, rel_logits = self.entity_logits(batch, out, use_fusion, rows)
            entity = F.cross_entropy(ent_logits, inverse[: len(targets)])
        else:
            entity = out.entity_queries.sum() * 0.0
        relation = self._relation_loss(batch, rel_logits)
        loss = mlm + self.entity_weight * entity + self.relation_weight * relation
        return {"loss": loss, "mlm": mlm.detach(), "entity": entity.detach(), "relation": relation.detach(),
                "tokens": batch["attention_mask"].sum().detach()}

    @torch.no_grad()
    def evaluate(self, batch: dict[str, torch.Tensor], use_fusion: bool | None = None) -> dict[str, float]:
        """Sums for MLM (loss, correct, count) and full-ranking masked-entity metrics."""
        out = self._encode(batch, use_fusion)
        labels = batch["mlm_labels"]
        sel = labels != -100
        res = {"mlm_loss_sum": 0.0, "mlm_correct": 0.0, "mlm_count": float(sel.sum())}
        if sel.any():
            logits = self.mlm_head(out.last_hidden_state[sel], self.word_embeddings())
            res["mlm_loss_sum"] = float(F.cross_entropy(logits, labels[sel], reduction="sum"))
            res["mlm_correct"] = float((logits.argmax(-1) == labels[sel]).sum())
        scores, targets, _ = self.entity_logits(batch, out, use_fusion)
        res.update(ent_count=float(targets.numel()), hits1=0.0, hits10=0.0, rr=0.0)
        if targets.numel():
            gold = scores.gather(1, targets[:, None])
            rank = (scores > gold).sum(1) + 1
            res["hits1"] = float((rank <= 1).sum())
            res["hits10"] = float((rank <= 10).sum())
            res["rr"] = float((1.0 / rank.float()).sum())
        return res
