"""Question and description templates filled for one step: exact sentences, hand-written."""

from __future__ import annotations

import pytest

from kgfm.questions.lexicon import relation_words
from kgfm.questions.surface import ASK, DESCRIBE, TOPIC_SLOT, StepWords, _fill, _usable, ing_form


def sentences(name: str, inverse: bool, head_type: str | None, tail_type: str | None, table=ASK,
              subject: str = TOPIC_SLOT) -> set[str]:
    step = StepWords(relation_words(name, name), inverse, head_type, tail_type)
    fields = step.fields(subject)
    usable = _usable(table[step.key], subject == TOPIC_SLOT, step.words.flip)
    return {_fill(t, fields).replace(TOPIC_SLOT, "[X]") for _, t in usable}


@pytest.mark.parametrize("name,inverse,head,tail,expected", [
    ("worksFor", False, "person", "organization",
     {"what does [X] work for", "which organization does [X] work for", "[X] works for which organizations"}),
    ("worksFor", True, "person", "organization",
     {"who works for [X]", "which people work for [X]", "people working for [X]"}),
    ("knows", False, "person", "person", {"who does [X] know", "[X] knows whom"}),
    ("actedIn", True, "person", "film", {"who acted in [X]", "which people acted in [X]"}),
    ("created", False, None, None, {"what did [X] create", "[X] created which ones"}),
    # a place or a time answer drops the trailing preposition, and is never the subject
    ("livesIn", False, "person", "city", {"where does [X] live", "which city does [X] live in"}),
    ("diedIn", False, "person", "year", {"when did [X] die"}),
    ("isLocatedIn", False, "city", "country", {"where is [X] located", "which country is [X] located in"}),
    ("isLocatedIn", True, "city", "country", {"what is located in [X]", "which cities are located in [X]"}),
    ("wasBornIn", True, "person", "city", {"who was born in [X]", "which people were born in [X]"}),
    # isCitizenOf: a person is the citizen of a country, so from the person it asks for the country
    ("isCitizenOf", False, "person", "country",
     {"[X] is the citizen of which countries", "what is [X] the citizen of"}),
    ("isCitizenOf", True, "person", "country", {"who is the citizen of [X]", "list the citizens of [X]"}),
])
def test_step_questions_read_as_english(name, inverse, head, tail, expected):
    got = sentences(name, inverse, head, tail)
    assert expected <= got, sorted(got)


def test_no_template_leaves_a_dangling_preposition_after_where_or_a_wrong_way_phrase():
    for name, inverse, head, tail in [("livesIn", False, "person", "city"), ("isLocatedIn", True, "city", "country"),
                                      ("isCitizenOf", True, "person", "country")]:
        for q in sentences(name, inverse, head, tail):
            assert not q.endswith(" in") or not q.startswith("where"), q
            assert not q.startswith("where is located"), q
            assert "citizen of who" not in q and "is citizen of" not in q, q


def test_a_description_subject_takes_the_plural_verb():
    assert "the organizations the ones Y work for" in sentences(
        "worksFor", False, "person", "organization", DESCRIBE, subject="the ones Y")
    assert "the countries the ones Y are located in" in sentences(
        "isLocatedIn", False, "city", "country", DESCRIBE, subject="the ones Y")
    assert "the organizations [X] works for" in sentences("worksFor", False, "person", "organization", DESCRIBE)
    asked = sentences("worksFor", False, "person", "organization", subject="the ones Y")
    assert "the ones Y work for" in asked and not any("works" in q for q in asked)


@pytest.mark.parametrize("base,ing", [("work", "working"), ("manage", "managing"), ("die", "dying"),
                                      ("star", "starring"), ("see", "seeing"), ("act", "acting")])
def test_ing_form(base, ing):
    assert ing_form(base) == ing
