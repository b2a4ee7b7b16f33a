"""The question generator on a tiny hand-made graph with hand-computed answer sets."""

from __future__ import annotations

import numpy as np
import pytest

from kgfm.config import ConfigError
from kgfm.questions.build import all_relation_words
from kgfm.questions.generate import QuestionsConfig, generate_questions
from kgfm.questions.paths import StepAdjacency, path_types
from kgfm.store.base import GraphTensors

# M1..M3 films, D1/D2 directors, A1/A2 actors, G1 a genre.
ENTITIES = ["M1", "M2", "M3", "D1", "D2", "A1", "A2", "G1"]
RELATIONS = ["directed_by", "starred_actors", "has_genre"]
TRIPLES = [
    ("M1", "directed_by", "D1"), ("M2", "directed_by", "D1"), ("M3", "directed_by", "D2"),
    ("M1", "starred_actors", "A1"), ("M1", "starred_actors", "A2"), ("M2", "starred_actors", "A1"),
    ("M3", "starred_actors", "A2"),
    ("M1", "has_genre", "G1"), ("M2", "has_genre", "G1"), ("M3", "has_genre", "G1"),
]
FWD = {r: 2 * i for i, r in enumerate(RELATIONS)}
INV = {r: 2 * i + 1 for i, r in enumerate(RELATIONS)}

# Hand-computed answer sets: (topic, path of (relation, inverse?)) -> answers (topic removed).
EXPECTED = {
    ("M1", (("directed_by", False),)): {"D1"},
    ("D1", (("directed_by", True),)): {"M1", "M2"},
    ("A2", (("starred_actors", True),)): {"M1", "M3"},
    ("G1", (("has_genre", True),)): {"M1", "M2", "M3"},
    # 2-hop: the actors of the films D1 directed
    ("D1", (("directed_by", True), ("starred_actors", False))): {"A1", "A2"},
    # 2-hop: the directors of the films A2 starred in
    ("A2", (("starred_actors", True), ("directed_by", False))): {"D1", "D2"},
    # co-actors of A1 (A1 itself removed)
    ("A1", (("starred_actors", True), ("starred_actors", False))): {"A2"},
    # other films by M1's director
    ("M1", (("directed_by", False), ("directed_by", True))): {"M2"},
    # 3-hop: films that share an actor with D2's films, D2's own film included (D2 is the topic)
    ("D2", (("directed_by", True), ("starred_actors", False), ("starred_actors", True))): {"M1", "M3"},
}


def tiny_graph() -> GraphTensors:
    idx = {e: i for i, e in enumerate(ENTITIES)}
    rel = {r: i for i, r in enumerate(RELATIONS)}
    return GraphTensors(
        entity_ids=list(ENTITIES), entity_names=list(ENTITIES), relation_types=list(RELATIONS),
        relation_predicates=list(RELATIONS),
        head_index=np.array([idx[h] for h, _, _ in TRIPLES]), rel_type=np.array([rel[r] for _, r, _ in TRIPLES]),
        tail_index=np.array([idx[t] for _, _, t in TRIPLES]),
    )


def to_steps(path) -> tuple[int, ...]:
    return tuple(INV[r] if inverse else FWD[r] for r, inverse in path)


def small_cfg(**kw) -> QuestionsConfig:
    base = dict(topics=8, hops=[1, 2, 3], per_hop=200, per_topic_path=3, max_answers=10, valid_fraction=0.25,
                chain_min_shared=1, chain_min_fraction=0.0, noise=0.3, seed=3)
    return QuestionsConfig(**{**base, **kw})


def test_answer_sets_hand_computed():
    g = tiny_graph()
    adj = StepAdjacency.from_graph(g)
    for (topic, path), expected in EXPECTED.items():
        got = adj.answers(ENTITIES.index(topic), to_steps(path), frontier_cap=100)
        assert {ENTITIES[i] for i in got.tolist()} == expected, (topic, path)
    # the frontier cap abandons a path whose intermediate set is too large
    assert adj.answers(ENTITIES.index("G1"), to_steps((("has_genre", True), ("directed_by", False))), 2) is None


def test_path_types_both_directions_and_composition():
    adj = StepAdjacency.from_graph(tiny_graph())
    types = path_types(adj, 3, 1000, np.random.default_rng(0), min_shared=1, min_fraction=0.0)
    assert set(types[1]) == {(s,) for s in range(6)}  # every relation, forward and inverse
    assert to_steps((("directed_by", True), ("starred_actors", False))) in types[2]
    # a film's director is never the head of has_genre: that chain does not exist
    assert (FWD["directed_by"], FWD["has_genre"]) not in types[2]


def test_every_answer_set_matches_the_graph():
    g = tiny_graph()
    gen = generate_questions(g, all_relation_words(g, {}, {}), small_cfg())
    assert gen.questions
    checked = 0
    for q in gen.questions:
        key = (q.topic, tuple((p["relation"], p["direction"] == "inverse") for p in q.path))
        assert 1 <= len(q.answers) <= 10 and q.topic not in q.answers
        assert q.hops == len(q.path) and q.answer_ids == q.answers
        if key in EXPECTED:
            assert set(q.answers) == EXPECTED[key], key
            checked += 1
    assert checked >= 5
    assert {q.hops for q in gen.questions} == {1, 2, 3}
    assert any(p["direction"] == "inverse" for q in gen.questions for p in q.path)
    assert any(p["direction"] == "forward" for q in gen.questions for p in q.path)
    assert len({q.question.casefold() for q in gen.questions}) == len(gen.questions)  # deduplicated
    assert len({q.template for q in gen.questions}) > 10  # many surface forms


def test_max_answers_cap_drops_large_sets():
    g = tiny_graph()
    gen = generate_questions(g, all_relation_words(g, {}, {}), small_cfg(max_answers=1))
    assert gen.questions and all(len(q.answers) == 1 for q in gen.questions)
    assert not any(q.topic == "G1" and q.hops == 1 for q in gen.questions)  # G1 has 3 films
    assert gen.counts["dropped_too_many_answers"] > 0


def test_deterministic_under_a_seed():
    g = tiny_graph()
    words = all_relation_words(g, {}, {})
    a = [q.as_json() for q in generate_questions(g, words, small_cfg()).questions]
    b = [q.as_json() for q in generate_questions(g, words, small_cfg()).questions]
    c = [q.as_json() for q in generate_questions(g, words, small_cfg(seed=4)).questions]
    assert a == b and a != c


def test_split_by_topic_entity():
    g = tiny_graph()
    gen = generate_questions(g, all_relation_words(g, {}, {}), small_cfg(valid_fraction=0.5))
    train = {q.topic for q in gen.questions if q.split == "train"}
    valid = {q.topic for q in gen.questions if q.split == "valid"}
    assert train and valid and not train & valid


def test_topic_pool_larger_than_graph_warns_with_counts():
    g = tiny_graph()
    gen = generate_questions(g, all_relation_words(g, {}, {}), small_cfg(topics=500))
    assert any("--topics 500 is more than the 8 usable entities" in w for w in gen.warnings)
    assert gen.counts["topics_pool"] == 8


def test_graph_without_relations_is_a_clear_error():
    empty = GraphTensors([], [], [], [], np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64))
    with pytest.raises(ConfigError, match="no relations"):
        generate_questions(empty, [], small_cfg())


def test_wording_uses_relation_words_and_brackets_the_topic():
    g = tiny_graph()
    gen = generate_questions(g, all_relation_words(g, {}, {}), small_cfg(noise=0.0, bracket_rate=1.0))
    for q in gen.questions:
        assert f"[{q.topic}]" in q.question
    one_hop = [q.question for q in gen.questions if q.hops == 1 and q.path[0]["relation"] == "directed_by"]
    assert any("direct" in t for t in one_hop)
    no_brackets = generate_questions(g, all_relation_words(g, {}, {}), small_cfg(bracket_rate=0.0))
    assert all("[" not in q.question and not q.bracketed for q in no_brackets.questions)


def test_topic_span_is_kept_exactly_and_always_bracketed_in_metaqa_files():
    """A name with a double space (FB15k-237 has such names) stays as it is, with and without
    brackets and under noise, so every MetaQA-format line brackets it and reads back."""
    from kgfm.questions.build import metaqa_line

    g = tiny_graph()
    g.entity_names[3] = "St. Louis  MO-IL, Metropolitan Area"  # D1, two spaces
    for bracket_rate in (0.0, 1.0):
        gen = generate_questions(g, all_relation_words(g, {}, {}), small_cfg(noise=1.0, bracket_rate=bracket_rate))
        about_d1 = [q for q in gen.questions if q.topic_id == "D1"]
        assert about_d1
        for q in about_d1:
            assert q.topic == "St. Louis  MO-IL, Metropolitan Area"
            assert q.topic in q.question and "  " not in q.question.replace(q.topic, "X")
            assert f"[{q.topic}]" in metaqa_line(q).split("\t")[0]
