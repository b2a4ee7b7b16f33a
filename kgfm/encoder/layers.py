"""CompGCN convolution (Vashishth et al., ICLR 2020) on PyG's ``MessagePassing``.

Runs on plain PyTorch: aggregation goes through PyG's built-in scatter (``index_add_`` /
``scatter_reduce``), so no torch-scatter, torch-sparse or pyg-lib is needed.

Messages compose the neighbour with the edge's relation embedding (``mult``: ``x_j * r``,
``sub``: ``x_j - r``). Original and inverse edges are aggregated separately (each with its
own symmetric degree normalisation) and get their own weight matrix, plus a self-loop term:

    x_i' = act( (W_in  sum_{j->i, r<R}  n_ij phi(x_j, r)
               + W_out sum_{j->i, r>=R} n_ij phi(x_j, r)
               + W_loop phi(x_i, r_loop)) / 3 + b )

Because the weights are linear they are applied after aggregation (``N`` rows instead of
``E``), which makes full-graph training on a CPU affordable. With ``sub`` the aggregation is
linear in ``x`` and ``r`` as well: ``sum_j n_ij (x_j - r_ij) = (A x)_i - (B r)_i`` with ``A`` the
normalised ``[N, N]`` adjacency and ``B`` the ``[N, 2R]`` normalised relation counts of each
direction. :func:`compgcn_adjacency` builds both once per graph as CSR matrices, and the layer
then aggregates with two sparse-dense products instead of gathering an ``[E, d]`` message tensor
(~15x cheaper on a CPU, forward and backward; same result up to float summation order).
"""

from __future__ import annotations

import warnings
from typing import NamedTuple, Optional

import torch
from torch import Tensor, nn
from torch_geometric.nn import MessagePassing
from torch_geometric.utils import degree


def direction_norm(edge_index: Tensor, num_nodes: int) -> Tensor:
    """Symmetric GCN weight ``1 / sqrt(deg_out(src) * deg_in(dst))`` for one edge set."""
    src, dst = edge_index
    deg_out = degree(src, num_nodes, dtype=torch.float32)
    deg_in = degree(dst, num_nodes, dtype=torch.float32)
    return (deg_out[src] * deg_in[dst]).clamp(min=1.0).rsqrt()


class DirectionEdges(NamedTuple):
    """The edges of one direction (original or inverse), split once per graph.

    ``entity`` (``[N, N]``, row ``i`` holds ``n_ij`` at column ``j``) and ``relation`` (``[N, 2R]``,
    ``sum_j n_ij`` over the edges ``j -r-> i`` at column ``r``) are CSR matrices for the ``sub``
    composition's sparse aggregation; ``None`` for ``mult``, which gathers per-edge messages.
    """

    edge_index: Tensor
    edge_type: Tensor
    norm: Tensor
    entity: Optional[Tensor] = None
    relation: Optional[Tensor] = None


def _csr(index: Tensor, values: Tensor, size: tuple[int, int]) -> Tensor:
    """A CSR matrix summing ``values`` at ``index`` (duplicates add up); the indices are ours, so
    torch's invariant checks stay off, and its "CSR is in beta" notice is not the user's concern."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse (CSR tensor support|invariant checks)")
        return torch.sparse_coo_tensor(index, values, size, check_invariants=False).coalesce().to_sparse_csr()


def compgcn_adjacency(
    edge_index: Tensor,
    edge_type: Tensor,
    edge_norm: Tensor,
    num_nodes: int,
    num_relations: int,
    sparse: bool,
) -> tuple[DirectionEdges, DirectionEdges]:
    """Split a graph into its original and inverse edges for :class:`CompGCNConv`.

    Args:
        edge_index: ``[2, E]`` (source, target), inverse edges included.
        edge_type: ``[E]`` relation ids in ``[0, 2R)``; ids ``>= R`` are inverse edges.
        edge_norm: ``[E]`` per-edge normalisation.
        num_nodes: ``N``.
        num_relations: ``R``.
        sparse: Also build the CSR matrices of the ``sub`` composition's sparse aggregation.
    """
    inverse = edge_type >= num_relations
    out = []
    for mask in (~inverse, inverse):
        ei, et, nm = edge_index[:, mask], edge_type[mask], edge_norm[mask]
        entity = relation = None
        if sparse:
            entity = _csr(torch.stack([ei[1], ei[0]]), nm, (num_nodes, num_nodes))
            relation = _csr(torch.stack([ei[1], et]), nm, (num_nodes, 2 * num_relations))
        out.append(DirectionEdges(ei, et, nm, entity, relation))
    return out[0], out[1]


class CompGCNConv(MessagePassing):
    """One CompGCN layer.

    Args:
        in_channels: Input entity/relation dimension.
        out_channels: Output dimension.
        num_relations: ``R``; edge types ``>= R`` are inverse edges.
        composition: ``"mult"`` or ``"sub"``.
        dropout: Dropout on the aggregated messages.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        num_relations: int,
        composition: str = "mult",
        dropout: float = 0.0,
    ) -> None:
        super().__init__(aggr="add", node_dim=0)
        if composition not in ("mult", "sub"):
            raise ValueError(f"composition must be 'mult' or 'sub', got {composition!r}")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.num_relations = num_relations
        self.composition = composition
        self.w_in = nn.Linear(in_channels, out_channels, bias=False)
        self.w_out = nn.Linear(in_channels, out_channels, bias=False)
        self.w_loop = nn.Linear(in_channels, out_channels, bias=False)
        self.w_rel = nn.Linear(in_channels, out_channels, bias=False)
        self.loop_rel = nn.Parameter(torch.empty(1, in_channels))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.dropout = nn.Dropout(dropout)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        super().reset_parameters()
        for lin in (self.w_in, self.w_out, self.w_loop, self.w_rel):
            nn.init.xavier_uniform_(lin.weight)
        nn.init.xavier_uniform_(self.loop_rel)
        nn.init.zeros_(self.bias)

    def compose(self, x: Tensor, rel: Tensor) -> Tensor:
        return x * rel if self.composition == "mult" else x - rel

    def forward(
        self,
        x: Tensor,
        edge_index: Tensor,
        edge_type: Tensor,
        rel: Tensor,
        edge_norm: Tensor,
        directions: Optional[tuple[DirectionEdges, DirectionEdges]] = None,
    ) -> tuple[Tensor, Tensor]:
        """Args:
            x: ``[N, in_channels]`` entity features.
            edge_index: ``[2, E]`` (source, target), inverse edges included.
            edge_type: ``[E]`` relation ids in ``[0, 2R)``.
            rel: ``[2R, in_channels]`` relation embeddings.
            edge_norm: ``[E]`` per-edge normalisation (see :func:`direction_norm`).
            directions: The same graph split by :func:`compgcn_adjacency` (once per graph); with
                its CSR matrices and ``sub`` the aggregation is two sparse-dense products.
                ``None``: split here, per-edge messages.

        Returns:
            ``(x' [N, out_channels], rel' [2R, out_channels])``.
        """
        if directions is None:
            directions = compgcn_adjacency(edge_index, edge_type, edge_norm, x.size(0), self.num_relations, False)
        out = self.w_loop(self.compose(x, self.loop_rel))
        for edges, lin in zip(directions, (self.w_in, self.w_out)):
            if self.composition == "sub" and edges.entity is not None:
                agg = edges.entity @ x - edges.relation @ rel
            else:
                agg = self.propagate(
                    edges.edge_index, x=x, rel=rel, edge_type=edges.edge_type, norm=edges.norm,
                    size=(x.size(0), x.size(0)),
                )
            out = out + lin(self.dropout(agg))
        return out / 3.0 + self.bias, self.w_rel(rel)

    def message(self, x_j: Tensor, rel: Tensor, edge_type: Tensor, norm: Tensor) -> Tensor:
        return self.compose(x_j, rel.index_select(0, edge_type)) * norm.unsqueeze(-1)

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}({self.in_channels}, {self.out_channels}, "
            f"num_relations={self.num_relations}, composition={self.composition!r})"
        )
