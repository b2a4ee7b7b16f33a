"""Relation names -> words, and relation-text files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kgfm.questions.build import relation_texts
from kgfm.questions.lexicon import RelationTextError, analyse, relation_words, split_words
from kgfm.store.base import GraphTensors


@pytest.mark.parametrize("name,words", [
    ("/film/film/genre", ["film", "film", "genre"]),
    ("directed_by", ["directed", "by"]),
    ("inLanguage", ["in", "language"]),
    ("http://example.org/vocab#hasTag", ["has", "tag"]),
    ("http://schema.org/datePublished", ["date", "published"]),
    ("HTMLParserOf", ["html", "parser", "of"]),
])
def test_split_words(name, words):
    assert split_words(name) == words


def test_shapes_and_nouns():
    d = analyse(["directed", "by"])
    assert (d.shape, d.tail_noun, d.base, d.past, d.tail_person) == ("passive", "director", "direct", "directed", True)
    w = analyse(["written", "by"])
    assert (w.tail_noun, w.base, w.past) == ("writer", "write", "wrote")
    s = analyse(["starred", "actors"])
    assert (s.shape, s.tail_noun, s.base) == ("verbal", "actor", "star")
    g = analyse(["has", "genre"])
    assert (g.shape, g.tail_noun) == ("noun", "genre")
    lang = analyse(["in", "language"])
    assert (lang.shape, lang.tail_noun) == ("noun", "language")


@pytest.mark.parametrize("name,shape,base,verb,prep,be,noun,flip", [
    # YAGO / schema.org / FOAF-style names: a verb, in the present or the past, with its preposition
    ("worksFor", "active", "work", "works", "for", "", "", False),
    ("reportsTo", "active", "report", "reports", "to", "", "", False),
    ("knows", "active", "know", "knows", "", "", "", False),
    ("teaches", "active", "teach", "teaches", "", "", "", False),
    ("/location/location/contains", "active", "contain", "contains", "", "", "", False),
    ("actedIn", "active", "act", "acted", "in", "", "", False),
    ("diedIn", "active", "die", "died", "in", "", "", False),
    ("created", "active", "create", "created", "", "", "", False),
    # a state: is/was + participle + preposition
    ("isLocatedIn", "stative", "locate", "", "in", "is", "", False),
    ("wasBornIn", "stative", "bear", "", "in", "was", "", False),
    ("marriedTo", "stative", "marry", "", "to", "is", "", False),
    # "is <noun> of": the head is the tail's noun
    ("isCitizenOf", "noun", "", "", "", "", "citizen", True),
    ("memberOf", "noun", "", "", "", "", "member", True),
    ("/medicine/symptom/symptom_of", "noun", "", "", "", "", "symptom", True),
    # unchanged: the shapes MetaQA and Freebase names had before
    ("hasChild", "noun", "", "", "", "", "child", False),
    ("has_tags", "noun", "", "", "", "", "tag", False),
    ("hasWonPrize", "verbal", "win", "", "", "", "prize", False),
])
def test_verb_and_inverse_noun_shapes(name, shape, base, verb, prep, be, noun, flip):
    w = relation_words(name, name)
    assert (w.shape, w.base, w.verb, w.prep, w.be, w.tail_noun, w.flip) == (shape, base, verb, prep, be, noun, flip)


def test_freebase_path_gives_head_noun_and_property():
    w = relation_words("/film/film/genre", "film_film_genre")
    assert (w.tail_noun, w.head_noun) == ("genre", "film")
    cvt = relation_words("/film/actor/film./film/performance/film", "x")
    assert cvt.head_noun == "actor" and cvt.tail_noun == "film"
    assert relation_words("/people/person/profession", "p", text="job title").tail_noun == "job title"


def graph_with(relations: list[str]) -> GraphTensors:
    z = np.zeros(1, np.int64)
    return GraphTensors(["a"], ["a"], relations, relations, z, z, z)


def test_relation_text_unknown_ids_and_bad_lines_warn_with_counts(tmp_path: Path):
    f = tmp_path / "rel.txt"
    f.write_text("directed_by\tdirected by\nnot_a_relation\tfoo\nno tab here\nwritten_by\t\n", encoding="utf-8")
    texts, warnings = relation_texts(graph_with(["directed_by", "written_by"]), f)
    assert texts == {0: "directed by"}
    joined = "\n".join(warnings)
    assert "2 bad line(s) skipped" in joined and "first at line 3" in joined
    assert "1 of 2 id(s) are not relations of the store (first: 'not_a_relation')" in joined
    assert "1 of 2 relation(s) have no text there" in joined


def test_relation_text_integer_ids_read_as_relation_index(tmp_path: Path):
    f = tmp_path / "rel.txt"
    f.write_text("0\tdirected by\n1\twritten by\n7\tnothing\n", encoding="utf-8")
    texts, warnings = relation_texts(graph_with(["directed_by", "written_by"]), f)
    assert texts == {0: "directed by", 1: "written by"}
    assert any("2 integer id(s)" in w for w in warnings) and any("1 of 3 id(s)" in w for w in warnings)


def test_relation_text_unusable_file_is_one_error(tmp_path: Path):
    with pytest.raises(RelationTextError, match="not found"):
        relation_texts(graph_with(["r"]), tmp_path / "missing.txt")
    bad = tmp_path / "bad.txt"
    bad.write_text("no tabs\nat all\n", encoding="utf-8")
    with pytest.raises(RelationTextError, match=r"bad.txt:1: no 'id<TAB>text' row \(2 bad lines\)"):
        relation_texts(graph_with(["r"]), bad)
    latin = tmp_path / "latin.txt"
    latin.write_bytes("r\tcaf\xe9\n".encode("latin-1"))
    with pytest.raises(RelationTextError, match="not UTF-8"):
        relation_texts(graph_with(["r"]), latin)


def test_text_that_only_restates_a_path_name_is_parsed_as_the_path():
    w = relation_words("/people/person/profession", "p", text="people person profession")
    assert (w.tail_noun, w.head_noun) == ("profession", "person")


def test_relations_named_by_codes_get_one_warning_naming_them():
    from kgfm.questions.build import all_relation_words, code_named_relations

    g = graph_with(["P31", "P279", "directed_by", "r7", "hasGenre"])
    (warning,) = code_named_relations(g, all_relation_words(g, {}, {}))
    assert warning.startswith("3 of 5 relation(s) are named by codes, not words (P31, P279, r7)") and "--relation-text" in warning
    named = graph_with(["directed_by", "/film/film/genre", "_hypernym", "worksFor"])
    assert code_named_relations(named, all_relation_words(named, {}, {})) == []
    assert code_named_relations(g, all_relation_words(g, {0: "instance of", 1: "subclass of", 3: "related"}, {})) == []
