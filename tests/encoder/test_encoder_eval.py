"""Filtered ranking: vectorised implementation against a brute-force Python reference."""

from __future__ import annotations

import torch

from kgfm.encoder.evaluate import KnownAnswers, evaluate_triples, metrics_from_ranks



def _reference_rank(scores: list[float], answer: int, filtered: set[int]) -> float:
    target = scores[answer]
    greater = sum(1 for e, s in enumerate(scores) if e != answer and e not in filtered and s > target)
    ties = sum(1 for e, s in enumerate(scores) if e != answer and e not in filtered and s == target)
    return 1.0 + greater + ties / 2.0


def test_filtered_ranks_match_brute_force() -> None:
    g = torch.Generator().manual_seed(0)
    n_ent, n_rel = 12, 3
    all_true = torch.stack(
        [torch.randint(0, n_ent, (60,), generator=g), torch.randint(0, n_rel, (60,), generator=g),
         torch.randint(0, n_ent, (60,), generator=g)], dim=1,
    ).unique(dim=0)
    test = all_true[:15]
    # integer-valued scores so ties really happen
    table = torch.randint(0, 4, (n_ent, 2 * n_rel, n_ent), generator=g).float()
    known = KnownAnswers(all_true, n_ent, n_rel)

    def score_fn(e: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
        return table[e, r].clone()

    result = evaluate_triples(score_fn, test, known, n_ent, n_rel, batch_size=4)
    true_set = {tuple(x) for x in all_true.tolist()}
    ref_ranks = []
    for h, r, t in test.tolist():  # tail then head prediction, as the implementation does
        filt = {x for x in range(n_ent) if (h, r, x) in true_set}
        ref_ranks.append(("tail", _reference_rank(table[h, r].tolist(), t, filt)))
    for h, r, t in test.tolist():
        filt = {x for x in range(n_ent) if (x, r, t) in true_set}
        ref_ranks.append(("head", _reference_rank(table[t, r + n_rel].tolist(), h, filt)))
    ranks = torch.tensor([x for _, x in ref_ranks])
    expected = metrics_from_ranks(ranks, 0, n_ent)
    for key in ("mrr", "mr", "hits@1", "hits@3", "hits@10"):
        assert abs(result[key] - expected[key]) < 1e-9, key
    tail_expected = metrics_from_ranks(ranks[: len(test)], 0, n_ent)
    assert abs(result["tail"]["mrr"] - tail_expected["mrr"]) < 1e-9


def test_lookup_returns_all_known_answers() -> None:
    triples = torch.tensor([[0, 0, 1], [0, 0, 2], [3, 1, 0], [2, 0, 1]])
    known = KnownAnswers(triples, num_entities=4, num_relations=2)
    rows, ans = known.lookup(torch.tensor([0, 1, 0]), torch.tensor([0, 2, 3]))
    got = sorted(zip(rows.tolist(), ans.tolist()))
    # (0, r0) -> {1, 2}; (1, inverse r0) -> {0, 2}; (0, inverse r1) -> {3}
    assert got == [(0, 1), (0, 2), (1, 0), (1, 2), (2, 3)]


def test_constant_scorer_gets_middle_rank_and_missing_count_as_misses() -> None:
    triples = torch.tensor([[0, 0, 1]])
    known = KnownAnswers(triples, 5, 1)
    result = evaluate_triples(lambda e, r: torch.zeros(len(e), 5), triples, known, 5, 1)
    assert result["mr"] == 3.0  # 4 other entities tied -> 1 + 4/2
    with_missing = evaluate_triples(lambda e, r: torch.zeros(len(e), 5), triples, known, 5, 1, missing_triples=1)
    assert with_missing["queries"] == 4 and with_missing["missing_queries"] == 2
    assert abs(with_missing["mrr"] - (2 * (1 / 3) + 2 * (1 / 5)) / 4) < 1e-9
