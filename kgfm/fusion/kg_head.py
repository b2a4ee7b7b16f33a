"""A KG-aware output head: score a masked mention with the graph encoder's own decoder.

The fusion layers give the text model the *embeddings* of the entities it reads, but a
transformer asked to predict ``[MASK]`` in "Kismet directed by [MASK]" must still turn "Kismet's
embedding + directed by" into a ranking of every entity. The graph encoder already knows how to
do exactly that: its decoder scores ``(head, relation, ?)`` against all entities. This head
re-uses it instead of re-learning it:

1. relation logits ``p(r | text) = softmax(MLP([m_target; m_context]))`` over the encoder's
   ``2R`` relations (inverses included, so a masked *subject* is ``(object, r^-1, ?)``), from
   the final states of the masked mention and of the *context* mention (another mention of the
   text, linked, or else retrieved by the fusion layers);
2. KG scores ``s_kg(e) = sum_{r in top-k} p(r) decoder(e_context, w_r, e)``, with the encoder's
   frozen entity and relation embeddings (the ones in the entity index), so on a triple the
   graph knows the head reproduces the encoder's ranking;
3. the masked-entity logits are ``text logits + exp(w) * s_kg``, ``w`` learned (starts at 0:
   the decoder's scores are already softmax logits, it was trained with a 1-N cross-entropy).

The relation classifier is trained by the entity loss through ``p(r)`` and, when the corpus
record says which relation the text verbalises (``"rel"``), by a relation cross-entropy.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from kgfm.config import ConfigError
from kgfm.encoder.decoders import DECODERS


def attach_graph_operator(module: nn.Module, index: Any, option: str) -> tuple[str, Any]:
    """Register the index's frozen ``entities [N, d]`` and ``relations [2R, d]`` as non-persistent
    buffers of ``module`` (shared with the index, never saved with the model) and return the
    graph encoder's decoder ``(name, instance)``.

    Args:
        module: The module that scores with the graph encoder's operator.
        index: An entity index written by ``kgfm train --stage graph``.
        option: The config option that needs it (named in the error).

    Raises:
        ConfigError: the index has no relation embeddings, no known decoder, or a decoder with
            weights of its own (``conve``: the index keeps embeddings, not the decoder's weights).
    """
    rel = getattr(index, "relation_embeddings", None)
    decoder = (getattr(index, "manifest", None) or {}).get("encoder", {}).get("decoder")
    if rel is None or decoder not in DECODERS:
        raise ConfigError(f"{option} needs an entity index written by `kgfm train --stage graph` "
                          f"(relation embeddings and the decoder name; this one has decoder={decoder!r}, "
                          f"relations={'yes' if rel is not None else 'no'}); set {option}=false")
    if DECODERS[str(decoder)].has_parameters:
        raise ConfigError(f"{option} scores with the graph encoder's decoder, and this index was trained with "
                          f"{decoder!r}, whose weights the index does not keep; train the index with "
                          f"model.decoder=distmult, complex or rotate, or set {option}=false")
    module.register_buffer("entities", torch.from_numpy(np.asarray(index.embeddings, dtype=np.float32)),
                           persistent=False)
    module.register_buffer("relations", torch.from_numpy(np.asarray(rel, dtype=np.float32)), persistent=False)
    return str(decoder), DECODERS[str(decoder)]()


class RelationViews(nn.Module):
    """What the graph encoder expects at the end of each relation from an entity.

    For a linked entity ``e`` and each of the encoder's ``2R`` directed relations ``r``, the view
    ``v_r = decoder.query(e, w_r)`` is the point the decoder scores tails against: for a triple the
    graph knows, the tail's embedding lies close to it. The fusion layers attend over these views
    beside the retrieved entities, so a mention can pull in "the director of this film" rather
    than only "this film" -- attention over the entity's neighbourhood, through the encoder's own
    relation operator, without holding the graph's edges. Views are unit-normalised (the fusion
    model's entity table has unit RMS row norm).

    Args:
        index: The entity index (as :func:`attach_graph_operator` needs).
    """

    def __init__(self, index: Any):
        super().__init__()
        self.decoder_name, self.decoder = attach_graph_operator(self, index, "model.relation_views")
        self.num_views = int(self.relations.shape[0])

    def forward(self, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(views [..., 2R, d], valid [..., 2R])`` for entity rows ``[...]`` (``-1``: none, all invalid)."""
        e = self.entities[rows.clamp(min=0)].unsqueeze(-2)  # [..., 1, d]
        views = self.decoder.query(e.expand(*rows.shape, self.num_views, e.shape[-1]), self.relations)
        valid = (rows >= 0).unsqueeze(-1).expand(*rows.shape, self.num_views)
        return torch.nn.functional.normalize(views, dim=-1), valid


class KGHead(nn.Module):
    """Masked-entity scores from the graph encoder's decoder over the context entity.

    Args:
        hidden_size: Width of the transformer states.
        index: The entity index; needs ``relation_embeddings`` (``[2R, d]``, inverses at ``r + R``)
            and the decoder name in its manifest (``encoder.decoder``), as ``kgfm train --stage
            graph`` writes them.
        top_relations: Relations mixed into the KG scores (the most probable ones).
        layer_norm_eps: LayerNorm epsilon (take the backbone's).
    """

    def __init__(self, hidden_size: int, index: Any, top_relations: int = 4, layer_norm_eps: float = 1e-12):
        super().__init__()
        self.decoder_name, self.decoder = attach_graph_operator(self, index, "model.kg_head")
        self.num_relations = int(self.relations.shape[0])
        self.top_relations = min(int(top_relations), self.num_relations)
        self.classifier = nn.Sequential(
            nn.Linear(2 * hidden_size, hidden_size), nn.GELU(), nn.LayerNorm(hidden_size, eps=layer_norm_eps),
            nn.Linear(hidden_size, self.num_relations),
        )
        self.log_weight = nn.Parameter(torch.zeros(()))

    def relation_logits(self, target_states: torch.Tensor, context_states: torch.Tensor) -> torch.Tensor:
        """``[n, 2R]`` relation logits from the masked mention's and the context mention's states."""
        return self.classifier(torch.cat([target_states, context_states], dim=-1))

    def scores(self, relation_logits: torch.Tensor, context_rows: torch.Tensor,
               rows: torch.Tensor | None = None) -> torch.Tensor:
        """Weighted KG scores ``[n, C]`` of the candidates (all entities, or ``rows``).

        Args:
            relation_logits: ``[n, 2R]`` from :meth:`relation_logits`.
            context_rows: ``[n]`` entity rows of the context entities (``-1``: none, scores 0).
            rows: Candidate entity rows (default: every entity).
        """
        n = relation_logits.shape[0]
        probs = torch.softmax(relation_logits.float(), dim=-1)
        p, rel = probs.topk(self.top_relations, dim=-1)  # [n, k]
        p = p / p.sum(-1, keepdim=True).clamp(min=1e-12)
        e_h = self.entities[context_rows.clamp(min=0)]  # [n, d]
        q = self.decoder.query(e_h.unsqueeze(1).expand(-1, self.top_relations, -1), self.relations[rel])
        cand = self.entities if rows is None else self.entities[rows]
        s = self.decoder.score_candidates(q.reshape(n * self.top_relations, -1), cand)
        kg = (p.unsqueeze(-1) * s.reshape(n, self.top_relations, -1)).sum(1)
        return kg * (context_rows >= 0).unsqueeze(-1).to(kg.dtype) * self.log_weight.exp()


def context_mentions(linked: torch.Tensor, valid: torch.Tensor, retrieved: torch.Tensor,
                     target_b: torch.Tensor, target_m: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The context mention and entity row for each masked target ``(target_b[i], target_m[i])``.

    The first other mention of the same text with a linked entity; else the first other valid
    mention with the fusion layers' top-1 retrieval; else none (``-1``).

    Args:
        linked: ``[B, M]`` linked entity rows (the targets already hidden, ``-1``).
        valid: ``[B, M]`` bool, the mention has tokens.
        retrieved: ``[B, M, k]`` FAISS retrievals of the last fusion layer (``-1`` when fusion is off).
        target_b: ``[n]`` batch rows of the targets.
        target_m: ``[n]`` mention slots of the targets.

    Returns:
        ``(mention [n], entity_row [n])``, ``-1`` where there is no context.
    """
    m = linked.shape[1]
    slots = torch.arange(m, device=linked.device)
    other = valid[target_b] & (slots.unsqueeze(0) != target_m.unsqueeze(1))  # [n, M]
    top1 = retrieved[target_b][..., 0] if retrieved.shape[-1] else torch.full_like(other, -1, dtype=torch.long)
    cand_linked = torch.where(other, linked[target_b], torch.full_like(top1, -1))
    cand_retrieved = torch.where(other, top1, torch.full_like(top1, -1))
    big = m + 1
    first_linked = torch.where(cand_linked >= 0, slots, big).min(-1).values
    first_retrieved = torch.where(cand_retrieved >= 0, slots, big).min(-1).values
    mention = torch.where(first_linked < big, first_linked, first_retrieved)
    none = mention >= big
    mention = torch.where(none, torch.full_like(mention, -1), mention)
    safe = mention.clamp(min=0).unsqueeze(1)
    row = torch.where(first_linked < big, cand_linked.gather(1, safe).squeeze(1),
                      cand_retrieved.gather(1, safe).squeeze(1))
    return mention, torch.where(none, torch.full_like(row, -1), row)
