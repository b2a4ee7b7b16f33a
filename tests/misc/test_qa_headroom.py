"""bench/qa_headroom.py: question-type paths followed over a hand-made KB, hand-computed shares."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from kgfm.qa.metaqa import QAExample


@pytest.fixture(scope="module")
def headroom(load_bench):
    return load_bench("qa_headroom")


def test_qtype_paths(headroom):
    assert headroom.qtype_path("movie_to_director") == [("directed_by", True)]
    assert headroom.qtype_path("tag_to_movie") == [("has_tags", False)]
    assert headroom.qtype_path("actor_to_movie_to_director") == [("starred_actors", False), ("directed_by", True)]
    with pytest.raises(ValueError, match="does not pass a movie"):
        headroom.qtype_path("actor_to_director")


def test_oracle_uniform_and_empty_shares(headroom, tmp_path):
    kb = tmp_path / "kb.txt.gz"
    lines = ["Heat|starred_actors|Al Pacino", "Heat|directed_by|Michael Mann", "Serpico|starred_actors|Al Pacino",
             "Serpico|directed_by|Sidney Lumet", "Collateral|directed_by|Michael Mann"]
    with gzip.open(kb, "wt", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    adj = headroom.load_kb(kb)

    def q(topic: str, answers: tuple[str, ...], qtype: str) -> QAExample:
        return QAExample(f"q [{topic}]", topic, answers, qtype, "t", 1)

    examples = [
        # reaches {Michael Mann, Sidney Lumet}; one of the two is gold -> oracle 1, uniform 1/2
        q("Al Pacino", ("Michael Mann",), "actor_to_movie_to_director"),
        # movie_to_director_to_movie from Heat reaches {Collateral} (Heat itself excluded) -> 1, 1
        q("Heat", ("Collateral",), "movie_to_director_to_movie"),
        # Collateral has no actor line: the path is empty -> 0, 0, empty
        q("Collateral", ("Jamie Foxx",), "movie_to_actor"),
        # reaches {Heat, Serpico}, the gold answer is not among them -> 0, 0
        q("Al Pacino", ("Scarface",), "actor_to_movie"),
    ]
    out = headroom.score(adj, examples)
    assert out["n"] == 4
    assert out["path_oracle"] == pytest.approx(2 / 4)
    assert out["uniform_pick"] == pytest.approx((0.5 + 1 + 0 + 0) / 4)
    assert out["empty_path"] == pytest.approx(1 / 4)
    assert out["per_qtype"]["actor_to_movie_to_director"]["uniform_pick"] == pytest.approx(0.5)
