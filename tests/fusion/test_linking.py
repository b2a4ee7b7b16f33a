"""Entity linking: normalisation, brackets, longest match, ambiguity, fuzzy fallback."""

from __future__ import annotations

import numpy as np
import pytest

from kgfm.fusion.linking import EntityLinker, normalize, strip_brackets


def names_of(linker, mentions):
    return [linker.entity_names[m.entity_idx] for m in mentions]


@pytest.fixture(scope="module")
def linker(graph):
    return EntityLinker.from_tensors(graph)


def test_normalize_casefold_nfkc_punctuation():
    assert normalize("  The  MATRIX!! ") == "the matrix"
    assert normalize("Ａｍéｌｉｅ") == "amélie"  # full-width letters -> NFKC
    assert normalize("Schindler's List") == "schindler s list"


def test_strip_brackets_offsets():
    clean, spans = strip_brackets("who directed [Kismet] and [The Matrix]?")
    assert clean == "who directed Kismet and The Matrix?"
    assert [clean[s:e] for s, e in spans] == ["Kismet", "The Matrix"]


def test_brackets_honoured_and_only_them(linker):
    clean, mentions = linker.link_text("what did [Heat] and Al Pacino share")
    assert len(mentions) == 1 and mentions[0].bracketed
    assert names_of(linker, mentions) == ["Heat"]
    assert clean[mentions[0].start:mentions[0].end] == "Heat"


def test_unknown_bracket_is_still_a_mention(linker):
    mentions = linker.link("who directed [Zzyzx Qqq]")
    assert len(mentions) == 1 and mentions[0].entity_idx == -1 and mentions[0].surface == "Zzyzx Qqq"


def test_longest_match_and_offsets(linker):
    text = "the movie starring Keanu Reeves was The Matrix, directed by Lana Wachowski"
    mentions = linker.link(text)
    assert names_of(linker, mentions) == ["Keanu Reeves", "The Matrix", "Lana Wachowski"]
    assert [text[m.start:m.end] for m in mentions] == ["Keanu Reeves", "The Matrix", "Lana Wachowski"]


def test_article_dropped_and_case_insensitive(linker):
    assert names_of(linker, linker.link("who starred in matrix")) == ["The Matrix"]
    assert names_of(linker, linker.link("WHO DIRECTED INCEPTION")) == ["Inception"]


def test_stopword_and_number_aliases_need_brackets(linker):
    # "The Who" is all stopwords and "1944" is a number: linked only inside brackets
    assert linker.link("who made this in 1944") == []
    assert linker.link("songs by the who") == []
    assert names_of(linker, linker.link("films of [1944]")) == ["1944"]
    assert names_of(linker, linker.link("songs by [The Who]")) == ["The Who"]


def test_relation_words_are_not_linked(graph):
    # an entity literally named like a relation word must not be picked from a question
    g = graph
    linker = EntityLinker(g.entity_ids + ["x"], g.entity_names + ["directed"], extra_stopwords=["directed"])
    assert names_of(linker, linker.link("who directed Heat")) == ["Heat"]


def test_ambiguity_uses_degree_prior_then_case():
    ids, names = ["a", "b", "c"], ["Eden", "eden", "Paris"]
    linker = EntityLinker(ids, names, degree=np.array([1, 50, 3]))
    m = linker.link("a film called EDEN")[0]
    assert m.entity_id == "b"  # popularity decides when case does not match either
    assert [i for i, _ in m.candidates] == [1, 0]
    assert linker.link("a film called Eden")[0].entity_id == "a"  # exact case wins
    assert abs(sum(s for _, s in linker.candidates("eden")) - 1.0) < 1e-6


def test_fuzzy_fallback_only_without_exact_match(linker):
    fuzzy = linker.link("who directed Incepton")
    assert names_of(linker, fuzzy) == ["Inception"] and fuzzy[0].fuzzy
    exact = linker.link("who directed Inception")
    assert not exact[0].fuzzy and exact[0].score > fuzzy[0].score
    assert names_of(linker, linker.link("films with [Leonardo DiCapprio]")) == ["Leonardo DiCaprio"]
    assert linker.link("completely unrelated words here") == []


def test_topic_prefers_brackets(linker):
    assert linker.entity_names[linker.topic("Keanu Reeves in [Heat]").entity_idx] == "Heat"
    assert linker.topic("nothing to see") is None


def test_misspelled_name_beside_an_exact_partial_hit():
    linker = EntityLinker(["a", "b", "c"], ["Evelyn", "Evelyn Venable", "Alice Adams"])
    m = linker.link("what movies did Evelyn Vnable act in")
    assert [linker.entity_names[x.entity_idx] for x in m] == ["Evelyn Venable"] and m[0].fuzzy
    assert m[0].surface == "Evelyn Vnable"
    # a correct name is never replaced
    assert [x.entity_id for x in linker.link("what movies did Evelyn act in")] == ["a"]
