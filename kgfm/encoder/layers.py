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
``E``), which makes full-graph training on a CPU affordable.
"""

from __future__ import annotations

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
    ) -> tuple[Tensor, Tensor]:
        """Args:
            x: ``[N, in_channels]`` entity features.
            edge_index: ``[2, E]`` (source, target), inverse edges included.
            edge_type: ``[E]`` relation ids in ``[0, 2R)``.
            rel: ``[2R, in_channels]`` relation embeddings.
            edge_norm: ``[E]`` per-edge normalisation (see :func:`direction_norm`).

        Returns:
            ``(x' [N, out_channels], rel' [2R, out_channels])``.
        """
        inverse = edge_type >= self.num_relations
        out = self.w_loop(self.compose(x, self.loop_rel))
        for mask, lin in ((~inverse, self.w_in), (inverse, self.w_out)):
            agg = self.propagate(
                edge_index[:, mask], x=x, rel=rel, edge_type=edge_type[mask], norm=edge_norm[mask],
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
