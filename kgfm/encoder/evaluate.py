"""Filtered link-prediction metrics (MRR, Hits@k), vectorised.

Queries are ``(entity, relation, answer)`` with relations in ``[0, 2R)``: tail prediction
uses ``r``, head prediction the inverse ``r + R``. For a batch of queries every entity is
scored at once; the other known answers of each query (train + valid + test) are masked
with a precomputed sorted key table (``searchsorted`` + ``repeat_interleave``, no Python
loop over triples), and the rank is ``1 + #higher + #tied / 2`` (the "realistic" rank,
so a constant scorer cannot look good).
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch import Tensor

ScoreFn = Callable[[Tensor, Tensor], Tensor]


class KnownAnswers:
    """Every true ``(entity, relation) -> answer`` pair, inverses included, for filtering.

    Args:
        triples: ``[n, 3]`` (h, r, t) of all known triples.
        num_entities: ``N``.
        num_relations: ``R``.
    """

    def __init__(self, triples: Tensor, num_entities: int, num_relations: int) -> None:
        h, r, t = triples.long().unbind(1)
        ent = torch.cat([h, t])
        rel = torch.cat([r, r + num_relations])
        ans = torch.cat([t, h])
        self.num_relations2 = 2 * num_relations
        keys = ent * self.num_relations2 + rel
        keys, order = torch.sort(keys)
        self.keys = keys
        self.answers = ans[order]

    def to(self, device: torch.device | str) -> "KnownAnswers":
        self.keys, self.answers = self.keys.to(device), self.answers.to(device)
        return self

    def lookup(self, ent: Tensor, rel: Tensor) -> tuple[Tensor, Tensor]:
        """All known answers of a batch of queries as ``(query_row [m], answer [m])``."""
        keys = ent * self.num_relations2 + rel
        lo = torch.searchsorted(self.keys, keys, side="left")
        hi = torch.searchsorted(self.keys, keys, side="right")
        counts = hi - lo
        rows = torch.repeat_interleave(torch.arange(len(keys), device=keys.device), counts)
        starts = torch.repeat_interleave(lo - torch.cumsum(counts, 0) + counts, counts)
        pos = starts + torch.arange(int(counts.sum()), device=keys.device)
        return rows, self.answers[pos]


def filtered_ranks(scores: Tensor, answer: Tensor, rows: Tensor, known: Tensor) -> Tensor:
    """Rank of ``answer`` in each row of ``scores`` after removing the other known answers.

    Args:
        scores: ``[B, N]`` scores (modified in place).
        answer: ``[B]`` the entity whose rank is wanted.
        rows: Query row of each known answer (from :meth:`KnownAnswers.lookup`).
        known: The known answer entity for each entry of ``rows``.

    Returns:
        ``[B]`` float ranks (1 = best), ties counted half.
    """
    target = scores.gather(1, answer[:, None])
    scores[rows, known] = float("-inf")
    scores.scatter_(1, answer[:, None], float("-inf"))  # the answer itself is not a competitor
    greater = (scores > target).sum(1)
    equal = (scores == target).sum(1)
    return 1.0 + greater.float() + equal.float() / 2.0


@torch.no_grad()
def rank_queries(
    score_fn: ScoreFn,
    ent: Tensor,
    rel: Tensor,
    answer: Tensor,
    known: KnownAnswers,
    batch_size: int = 256,
) -> Tensor:
    """Filtered ranks ``[n]`` of ``answer`` for the queries ``(ent, rel, ?)``.

    Args:
        score_fn: ``(ent [B], rel [B]) -> scores [B, N]``; ``rel >= R`` means head prediction.
        ent: ``[n]`` query entities.
        rel: ``[n]`` query relations in ``[0, 2R)``.
        answer: ``[n]`` the true answers.
        known: Filter table.
        batch_size: Queries scored at once.
    """
    out = []
    for start in range(0, len(ent), batch_size):
        e, r, a = (x[start : start + batch_size] for x in (ent, rel, answer))
        scores = score_fn(e, r).float()
        rows, ans = known.lookup(e, r)
        out.append(filtered_ranks(scores, a, rows, ans))
    return torch.cat(out) if out else torch.empty(0)


def metrics_from_ranks(ranks: Tensor, missing: int = 0, num_entities: int = 1, ks: Sequence[int] = (1, 3, 10)) -> dict:
    """MRR / MR / Hits@k. ``missing`` queries (unknown entity or relation) count as misses
    with rank ``num_entities`` (reciprocal ~0), so skipped triples cannot inflate the numbers."""
    ranks = ranks.double().cpu()
    if missing:
        ranks = torch.cat([ranks, torch.full((missing,), float(num_entities), dtype=torch.float64)])
    if ranks.numel() == 0:
        return {"mrr": 0.0, "mr": 0.0, **{f"hits@{k}": 0.0 for k in ks}, "queries": 0, "missing_queries": missing}
    out = {"mrr": float((1.0 / ranks).mean()), "mr": float(ranks.mean())}
    for k in ks:
        out[f"hits@{k}"] = float((ranks <= k).double().mean())
    out["queries"] = int(ranks.numel())
    out["missing_queries"] = int(missing)
    return out


@torch.no_grad()
def evaluate_triples(
    score_fn: ScoreFn,
    triples: Tensor,
    known: KnownAnswers,
    num_entities: int,
    num_relations: int,
    missing_triples: int = 0,
    batch_size: int = 256,
) -> dict:
    """Head and tail prediction on ``triples [n, 3]``; returns overall, head and tail metrics.

    ``missing_triples`` (split triples that could not be mapped to the vocabulary) add two
    missed queries each (head and tail).
    """
    h, r, t = triples.long().unbind(1)
    tail_ranks = rank_queries(score_fn, h, r, t, known, batch_size)
    head_ranks = rank_queries(score_fn, t, r + num_relations, h, known, batch_size)
    both = torch.cat([tail_ranks, head_ranks])
    result = metrics_from_ranks(both, 2 * missing_triples, num_entities)
    result["tail"] = metrics_from_ranks(tail_ranks, missing_triples, num_entities)
    result["head"] = metrics_from_ranks(head_ranks, missing_triples, num_entities)
    return result
