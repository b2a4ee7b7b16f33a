"""Link-prediction decoders (torch only, no PyG: the fusion model's KG head uses them at serve time).

Each scores a query ``(h, r)`` against every entity at once (1-N scoring):

* ``distmult``: ``<e_h * w_r, e_t>``
* ``complex``: ``Re(<e_h * w_r, conj(e_t)>)`` (first half real, second half imaginary)
* ``rotate``: ``-|| e_h o e^{i theta_r} - e_t ||_2`` (rotation in the complex plane; L2 over
  the concatenated real/imaginary parts, so 1-N scoring is one ``cdist``)
* ``conve``: ``<f(W vec(f(conv([e_h; w_r])))), e_t>`` (Dettmers et al. 2018): a 2-D convolution over
  the stacked head and relation, the decoder CompGCN reports its best results with. The only
  decoder with parameters of its own (filters, projection, batch norms), saved with the encoder.
"""

from __future__ import annotations

import math
from typing import Optional

import torch
from torch import Tensor, nn

from kgfm.encoder.config import conve_shape_problem


class Decoder(nn.Module):
    """A link-prediction scorer (PyG ``nn.kge`` style: one base class, one subclass per model).

    The relation embeddings live in :class:`KGEncoder` (``relation``), so a decoder says how a head
    and a relation make a query and how a query scores a tail. All but :class:`ConvE` are
    parameter-free, so the fusion model can rebuild them from the decoder's name alone.
    """

    has_parameters = False

    def query(self, e_h: Tensor, w_r: Tensor) -> Tensor:
        """``[B, d]`` query vectors from head embeddings and relation embeddings."""
        raise NotImplementedError

    def score_candidates(self, q: Tensor, cand: Tensor) -> Tensor:
        """``[B, C]``: queries ``[B, d]`` against candidates ``[C, d]`` (higher is better)."""
        return q @ cand.t()

    def score_pairs(self, q: Tensor, e_t: Tensor) -> Tensor:
        """``[B]``: each query against its own tail (same scale as :meth:`score_candidates`)."""
        return (q * e_t).sum(-1)

    def n3(self, factor: Tensor) -> Tensor:
        """Sum of the cubed moduli of one factor's entries (complex pairs for complex-valued models)."""
        re, im = factor.chunk(2, dim=-1)
        return (re.pow(2) + im.pow(2)).pow(1.5).sum()


def _complex_product(e_h: Tensor, c: Tensor, d: Tensor) -> Tensor:
    a, b = e_h.chunk(2, dim=-1)
    return torch.cat([a * c - b * d, a * d + b * c], dim=-1)


class DistMult(Decoder):
    """``<e_h * w_r, e_t>``."""

    def query(self, e_h: Tensor, w_r: Tensor) -> Tensor:
        return e_h * w_r

    def n3(self, factor: Tensor) -> Tensor:
        return factor.abs().pow(3).sum()


class ComplEx(Decoder):
    """``Re(<e_h * w_r, conj(e_t)>)`` (first half real, second half imaginary)."""

    def query(self, e_h: Tensor, w_r: Tensor) -> Tensor:
        c, d = w_r.chunk(2, dim=-1)
        return _complex_product(e_h, c, d)


class RotatE(Decoder):
    """``-|| e_h o e^{i theta_r} - e_t ||_2``; the first half of ``w_r`` is the phase (times pi)."""

    def query(self, e_h: Tensor, w_r: Tensor) -> Tensor:
        phase = w_r[..., : w_r.shape[-1] // 2] * math.pi
        return _complex_product(e_h, torch.cos(phase), torch.sin(phase))

    def score_candidates(self, q: Tensor, cand: Tensor) -> Tensor:
        return -torch.cdist(q, cand)

    def score_pairs(self, q: Tensor, e_t: Tensor) -> Tensor:
        return -(q - e_t).norm(dim=-1)


class ConvE(Decoder):
    """ConvE (Dettmers et al. 2018, *Convolutional 2D Knowledge Graph Embeddings*).

    ``e_h`` and ``w_r`` are each reshaped to ``[dim / width, width]`` and stacked into one
    ``[2 dim / width, width]`` image; then batch norm, a ``filters x kernel x kernel``
    convolution, batch norm, ReLU, feature-map dropout, a linear map back to ``dim``, dropout,
    batch norm, ReLU. The result is the query, scored against tails by inner product (so the
    FAISS index keeps the ``ip`` metric).

    Args:
        dim: Embedding width.
        width: Width of the reshaped embedding (must divide ``dim``; 20 for ``dim`` 200 as in the paper).
        filters: Convolution channels.
        kernel: Square kernel size.
        feature_dropout: Dropout on the feature maps (whole channels).
        hidden_dropout: Dropout after the projection.
    """

    has_parameters = True

    def __init__(self, dim: int, width: int = 20, filters: int = 32, kernel: int = 3,
                 feature_dropout: float = 0.2, hidden_dropout: float = 0.3) -> None:
        super().__init__()
        problem = conve_shape_problem(dim, width, kernel)
        if problem:
            raise ValueError(f"conve: {problem}")
        self.height, self.width = 2 * dim // width, width
        self.bn_input = nn.BatchNorm2d(1)
        self.conv = nn.Conv2d(1, filters, kernel)
        self.bn_conv = nn.BatchNorm2d(filters)
        self.feature_dropout = nn.Dropout2d(feature_dropout)
        self.fc = nn.Linear(filters * (self.height - kernel + 1) * (self.width - kernel + 1), dim)
        self.hidden_dropout = nn.Dropout(hidden_dropout)
        self.bn_hidden = nn.BatchNorm1d(dim)

    def query(self, e_h: Tensor, w_r: Tensor) -> Tensor:
        lead = e_h.shape[:-1]
        image = torch.cat([e_h, w_r.expand_as(e_h)], dim=-1).reshape(-1, 1, self.height, self.width)
        x = torch.relu(self.bn_conv(self.conv(self.bn_input(image))))
        x = self.hidden_dropout(self.fc(self.feature_dropout(x).flatten(1)))
        if self.training and x.shape[0] == 1:  # a one-query batch (an epoch's last) has no batch statistics
            bn = self.bn_hidden
            x = nn.functional.batch_norm(x, bn.running_mean, bn.running_var, bn.weight, bn.bias, False, 0.0, bn.eps)
        else:
            x = self.bn_hidden(x)
        return torch.relu(x).reshape(*lead, -1)

    def n3(self, factor: Tensor) -> Tensor:
        return factor.abs().pow(3).sum()


DECODERS: dict[str, type[Decoder]] = {"distmult": DistMult, "complex": ComplEx, "rotate": RotatE, "conve": ConvE}


def make_decoder(name: str, dim: int, options: Optional[dict] = None) -> Decoder:
    """The decoder ``name`` for ``dim``-wide embeddings (``options``: :class:`ConvE`'s keyword arguments)."""
    cls = DECODERS[name]
    return cls(dim, **(options or {})) if cls.has_parameters else cls()
