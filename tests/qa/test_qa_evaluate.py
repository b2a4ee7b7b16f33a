"""Hits@1 and the paired fusion-on/off comparison on hand-made rankings."""

from __future__ import annotations

import numpy as np
import pytest

from kgfm.qa.ranking import hits_at_1, paired_comparison


def test_hits_at_1_counts_a_top_entity_in_the_gold_set_only():
    top = np.array([[3, 1], [2, 0], [-1, -1], [5, 4]])
    gold = [np.array([3, 9]), np.array([0]), np.array([1]), np.array([], dtype=np.int64)]
    assert hits_at_1(top, gold).tolist() == [True, False, False, False]


def test_paired_comparison_counts_discordant_questions_and_gives_the_exact_mcnemar_p():
    a = np.array([True] * 10 + [False] * 2 + [True] * 8)
    b = np.array([False] * 10 + [False] * 2 + [True] * 8)
    out = paired_comparison(a, b)
    assert (out["a_only"], out["b_only"]) == (10, 0)
    assert out["difference"] == pytest.approx(0.5)
    assert out["mcnemar_p"] == pytest.approx(2 * 0.5**10)  # two-sided exact binomial, 10 vs 0
    swapped = paired_comparison(b, a)
    assert (swapped["a_only"], swapped["b_only"]) == (0, 10) and swapped["mcnemar_p"] == pytest.approx(out["mcnemar_p"])
    same = paired_comparison(a, a)
    assert same == {"a_only": 0, "b_only": 0, "difference": 0.0, "mcnemar_p": 1.0}


def test_paired_comparison_of_a_balanced_disagreement_is_not_significant():
    a = np.array([True, False] * 20)
    out = paired_comparison(a, ~a)
    assert (out["a_only"], out["b_only"]) == (20, 20) and out["mcnemar_p"] == pytest.approx(1.0)
