"""The graph encoder: entity features -> GNN (CompGCN or R-GCN) -> link-prediction decoder.

Entity features are learnable embeddings, optionally plus a linear projection of fixed text
vectors (MiniLM encodings of names/descriptions), so isolated entities still get a
meaningful vector. The GNN runs over the whole graph with inverse relations; its output
(plus the input features when ``residual``) is the entity embedding that the FAISS index
stores. Decoders score a query ``(h, r)`` against every entity at once (1-N scoring):

* ``distmult``: ``<e_h * w_r, e_t>``
* ``complex``: ``Re(<e_h * w_r, conj(e_t)>)`` (first half real, second half imaginary)
* ``rotate``: ``-|| e_h o e^{i theta_r} - e_t ||_2`` (rotation in the complex plane; L2 over
  the concatenated real/imaginary parts, so 1-N scoring is one ``cdist``)
* ``conve``: a 2-D convolution over the stacked head and relation (:class:`~kgfm.encoder.decoders.ConvE`)
"""

from __future__ import annotations

import math
from typing import Optional

import torch
from torch import Tensor, nn

from kgfm.encoder.config import ModelConfig
from kgfm.encoder.decoders import Decoder, make_decoder
from kgfm.encoder.layers import CompGCNConv, DirectionEdges, compgcn_adjacency, direction_norm


class KGEncoder(nn.Module):
    """Entity encoder + decoder trained by 1-N link prediction.

    Args:
        num_entities: ``N``.
        num_relations: ``R`` (the model holds ``2R`` relation embeddings, inverses included).
        config: Architecture (:class:`~kgfm.encoder.config.ModelConfig`).
        text_features: Optional fixed ``[N, t]`` text vectors for text-initialised features.
    """

    def __init__(
        self,
        num_entities: int,
        num_relations: int,
        config: ModelConfig,
        text_features: Optional[Tensor] = None,
    ) -> None:
        super().__init__()
        self.num_entities = num_entities
        self.num_relations = num_relations
        self.config = config
        dim = config.dim
        self.entity = nn.Embedding(num_entities, dim)
        self.relation = nn.Embedding(2 * num_relations, dim)  # decoder relations
        nn.init.normal_(self.entity.weight, std=config.init_scale)
        nn.init.normal_(self.relation.weight, std=config.init_scale)
        if text_features is not None:
            if text_features.shape[0] != num_entities:
                raise ValueError(f"text features have {text_features.shape[0]} rows for {num_entities} entities")
            self.register_buffer("text_features", text_features.float(), persistent=False)
            self.text_proj: Optional[nn.Linear] = nn.Linear(text_features.shape[1], dim, bias=False)
            nn.init.normal_(self.text_proj.weight, std=config.init_scale / math.sqrt(text_features.shape[1]))
            with torch.no_grad():
                self.entity.weight.mul_(0.1)
        else:
            self.text_features = None
            self.text_proj = None
        self.convs = nn.ModuleList()
        if config.conv == "compgcn" and config.num_layers > 0:
            self.conv_relation = nn.Parameter(torch.empty(2 * num_relations, dim))
            nn.init.xavier_uniform_(self.conv_relation)
            for _ in range(config.num_layers):
                self.convs.append(CompGCNConv(dim, dim, num_relations, config.composition, config.gnn_dropout))
        elif config.conv == "rgcn" and config.num_layers > 0:
            from torch_geometric.nn import RGCNConv

            for _ in range(config.num_layers):
                self.convs.append(
                    RGCNConv(dim, dim, 2 * num_relations, num_bases=config.num_bases,
                             num_blocks=config.num_blocks, aggr="mean")
                )
        self.decoder: Decoder = make_decoder(config.decoder, dim, config.conve.model_dump())
        self.gnn_dropout = nn.Dropout(config.gnn_dropout)
        self.input_dropout = nn.Dropout(config.input_dropout)
        self.edge_index: Optional[Tensor] = None
        self.edge_type: Optional[Tensor] = None
        self.edge_norm: Optional[Tensor] = None
        self.directions: Optional[tuple[DirectionEdges, DirectionEdges]] = None

    # ---- graph -------------------------------------------------------------------------
    def set_graph(self, edge_index: Tensor, edge_type: Tensor) -> None:
        """Fix the message-passing graph (inverse edges included, types in ``[0, 2R)``)."""
        if edge_type.numel() and int(edge_type.max()) >= 2 * self.num_relations:
            raise ValueError("edge_type out of range: expected ids in [0, 2R)")
        self.edge_index, self.edge_type = edge_index, edge_type
        inverse = edge_type >= self.num_relations
        norm = torch.empty(edge_type.shape[0], device=edge_index.device)
        for mask in (~inverse, inverse):
            norm[mask] = direction_norm(edge_index[:, mask], self.num_entities)
        self.edge_norm = norm
        self.directions = None
        if self.config.conv == "compgcn" and len(self.convs):
            self.directions = compgcn_adjacency(edge_index, edge_type, norm, self.num_entities, self.num_relations,
                                                sparse=self.config.composition == "sub")

    def features(self) -> Tensor:
        x = self.entity.weight
        if self.text_proj is not None:
            x = x + self.text_proj(self.text_features)
        return x

    def encode(self, subset: Optional[Tensor] = None) -> Tensor:
        """Entity embeddings from the GNN.

        Args:
            subset: ``None``: all ``[N, dim]`` embeddings from a full-graph pass. A sorted tensor of
                entity ids: exact embeddings ``[len(subset), dim]`` of just those entities, computed on
                their ``num_layers``-hop computation subgraph (``k_hop_subgraph``) for graphs too big
                for a full pass with gradients.
        """
        if subset is not None:
            return self._encode_subset(subset)
        if len(self.convs) and self.edge_index is None:
            raise RuntimeError("call set_graph(edge_index, edge_type) before encode()")
        return self._propagate(self.features(), self.edge_index, self.edge_type, self.edge_norm, self.directions)

    def _encode_subset(self, seeds: Tensor) -> Tensor:
        if not len(self.convs):
            return self.features_of(seeds)
        from torch_geometric.utils import k_hop_subgraph

        subset, edge_index, mapping, edge_mask = k_hop_subgraph(
            seeds, len(self.convs), self.edge_index, relabel_nodes=True, num_nodes=self.num_entities, directed=True
        )
        x0 = self.features_of(subset)
        out = self._propagate(x0, edge_index, self.edge_type[edge_mask], self.edge_norm[edge_mask])
        return out[mapping]

    def features_of(self, idx: Tensor) -> Tensor:
        x = self.entity(idx)
        if self.text_proj is not None:
            x = x + self.text_proj(self.text_features[idx])
        return x

    def _propagate(self, x0: Tensor, edge_index, edge_type, edge_norm, directions=None) -> Tensor:
        if not len(self.convs):
            return x0
        x = x0
        rel = getattr(self, "conv_relation", None)
        for i, conv in enumerate(self.convs):
            if isinstance(conv, CompGCNConv):
                x, rel = conv(x, edge_index, edge_type, rel, edge_norm, directions)
            else:
                x = conv(x, edge_index, edge_type)
            if i < len(self.convs) - 1:
                x = torch.tanh(x)
            x = self.gnn_dropout(x)
        return x0 + x if self.config.residual else x

    # ---- decoding ----------------------------------------------------------------------
    def query(self, ent: Tensor, head: Tensor, rel: Tensor) -> Tensor:
        """Query vectors ``[B, dim]`` for ``(head, rel, ?)``."""
        return self.decoder.query(self.input_dropout(ent.index_select(0, head)), self.relation(rel))

    def score_all(self, ent: Tensor, head: Tensor, rel: Tensor) -> Tensor:
        """Scores ``[B, N]`` of every entity as the answer to ``(head[b], rel[b], ?)``."""
        return self.decoder.score_candidates(self.query(ent, head, rel), ent)

    def score_candidates(self, q: Tensor, cand: Tensor) -> Tensor:
        """Scores ``[B, C]`` of query vectors ``[B, dim]`` against candidate embeddings ``[C, dim]``."""
        return self.decoder.score_candidates(q, cand)

    def score_triples(self, ent: Tensor, head: Tensor, rel: Tensor, tail: Tensor) -> Tensor:
        """Scores ``[B]`` of given triples (same scale as :meth:`score_all`)."""
        return self.decoder.score_pairs(self.query(ent, head, rel), ent.index_select(0, tail))

    def n3(self, ent: Tensor, head: Tensor, rel: Tensor, tail: Tensor) -> Tensor:
        """Nuclear-3 regulariser (Lacroix et al. 2018) on the factors of a batch of triples."""
        factors = [ent.index_select(0, head), self.relation(rel), ent.index_select(0, tail)]
        return sum((self.decoder.n3(f) for f in factors), ent.new_zeros(())) / head.shape[0]

    @torch.no_grad()
    def relation_embeddings(self) -> Tensor:
        """``[2R, dim]`` decoder relation embeddings (inverses at ``r + R``)."""
        return self.relation.weight.detach()
