"""Link-prediction decoders (torch only, no PyG: the fusion model's KG head uses them at serve time).

Each scores a query ``(h, r)`` against every entity at once (1-N scoring):

* ``distmult``: ``<e_h * w_r, e_t>``
* ``complex``: ``Re(<e_h * w_r, conj(e_t)>)`` (first half real, second half imaginary)
* ``rotate``: ``-|| e_h o e^{i theta_r} - e_t ||_2`` (rotation in the complex plane; L2 over
  the concatenated real/imaginary parts, so 1-N scoring is one ``cdist``)
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


class Decoder(nn.Module):
    """A link-prediction scorer (PyG ``nn.kge`` style: one base class, one subclass per model).

    Holds no parameters: the relation embeddings live in :class:`KGEncoder` (``relation``), so a
    decoder only says how a head and a relation make a query and how a query scores a tail.
    """

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


DECODERS: dict[str, type[Decoder]] = {"distmult": DistMult, "complex": ComplEx, "rotate": RotatE}
