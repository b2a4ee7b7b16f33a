"""Surface forms: questions and noun phrases built from relation words, composed over paths.

Each step (a relation in one direction) has *question* templates with a subject slot ``{S}``
and *description* templates (a noun phrase for the step's answer set). A k-hop question is
the last step's question with ``{S}`` set to the description of the path so far, starting from
the bracketed topic -- so ``the genre of the director of [T]`` and ``who directed the ones
written by [T]`` come from the same two tables. The templates are general English around
the relation's own words; none is specific to a dataset.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from kgfm.questions.lexicon import INTRANSITIVE, PERSON_NOUNS, PLACE_NOUNS, TIME_NOUNS, RelationWords, plural

# (shape, direction) -> question templates. Fields: S subject, wh/whom wh-word (whS: as a subject, so
# never where/when), N noun, Ns plural, H/Hs the head side's noun, T/Ts the tail side's, phrase, base,
# past, part (participle), prep (prepQ: dropped after where/when), verb (as named; verbP plural, verbS
# agreeing with S, verbingP -ing or "that ..."), doS (does/do/did), be/beP/beS (is/are, was/were).
ASK: dict[tuple[str, str], list[str]] = {
    ("passive", "fwd"): [
        "{wh} {past} {S}", "{S} was {part} by {whom}", "{wh} is the {N} of {S}", "{wh} are the {Ns} of {S}",
        "list the {Ns} of {S}", "the {N} of {S}", "name the {N} of {S}", "{S} {N}", "{S} {phrase} {wh}",
        "by {whom} was {S} {part}", "{wh} was {S} {part} by", "give me the {Ns} of {S}",
    ],
    ("passive", "inv"): [
        "what was {part} by {S}", "what did {S} {base}", "which {Hs} did {S} {base}", "which {H} was {part} by {S}",
        "list the {Hs} {part} by {S}", "{Hs} {part} by {S}", "what {Hs} has {S} {part}", "{S} {past} what",
        "{S} is the {N} of which {Hs}", "what is {S} the {N} of", "{Hs} with {N} {S}", "name the {Hs} that {S} {past}",
    ],
    ("verbal", "fwd"): [
        "which {Ns} did {S} {base}", "what are the {Ns} of {S}", "list the {Ns} of {S}", "the {Ns} of {S}",
        "{S} {phrase}", "{S} {Ns}", "{S} {past} which {Ns}", "which {Ns} were {part} by {S}", "which {N} did {S} {base}",
        "name the {Ns} of {S}", "{wh} are the {Ns} in {S}", "give me the {Ns} of {S}",
    ],
    ("verbal", "inv"): [
        "what {past} {S}", "which {Hs} {past} {S}", "list the {Hs} that {past} {S}", "{Hs} that {past} {S}",
        "what has {S} as {aN}", "{S} is {aN} of which {Hs}", "which {Hs} have {S} as {N}", "{S} {N} of what",
        "what {Hs} {past} {S}", "name the {Hs} with {N} {S}", "{S} appears in which {Hs}", "the {Hs} that {past} {S}",
    ],
    ("noun", "fwd"): [
        "{wh} is the {N} of {S}", "what are the {Ns} of {S}", "list the {Ns} of {S}", "the {N} of {S}", "{S} {N}",
        "what {N} does {S} have", "{S} has which {N}", "{S} {phrase} {wh}", "name the {N} of {S}",
        "which {N} is {S}", "{wh} is {S} 's {N}", "give me the {N} of {S}",
    ],
    ("noun", "inv"): [
        "what has the {N} {S}", "which {Hs} have {N} {S}", "what {Hs} have {S} as {N}", "list the {Hs} whose {N} is {S}",
        "{Hs} with the {N} {S}", "{S} is the {N} of what", "{S} is the {N} of which {Hs}", "what is {S} the {N} of",
        "{Hs} whose {N} is {S}", "which {H} has {S} as its {N}", "name the {Hs} with {N} {S}", "{S} is the {N} of which {H}",
    ],
    ("active", "fwd"): [
        "{wh} {doS} {S} {base} {prepQ}", "{S} {verbS} {prepQ} {whom}", "which {T} {doS} {S} {base} {prep}",
        "list the {Ts} {S} {verbS} {prep}", "name the {Ts} that {S} {verbS} {prep}", "{S} {verbS} {prep}",
        "{S} {verbS} {prep} which {Ts}", "give me the {Ts} {S} {verbS} {prep}",
    ],
    ("active", "inv"): [
        "{whS} {verb} {prep} {S}", "which {Hs} {verbP} {prep} {S}", "list the {Hs} that {verbP} {prep} {S}",
        "name the {Hs} that {verbP} {prep} {S}", "{Hs} that {verbP} {prep} {S}", "{Hs} {verbingP} {prep} {S}",
        "give me the {Hs} that {verbP} {prep} {S}", "which {H} {verb} {prep} {S}",
    ],
    ("stative", "fwd"): [
        "{wh} {beS} {S} {part} {prepQ}", "{S} {beS} {part} {prepQ} {whom}", "which {T} {beS} {S} {part} {prep}",
        "list the {Ts} {S} {beS} {part} {prep}", "{S} {part} {prep}", "name the {T} {S} {beS} {part} {prep}",
        "{S} {beS} {part} {prep} which {T}", "give me the {Ts} that {S} {beS} {part} {prep}",
    ],
    ("stative", "inv"): [
        "{whS} {be} {part} {prep} {S}", "which {Hs} {beP} {part} {prep} {S}", "list the {Hs} {part} {prep} {S}",
        "{Hs} {part} {prep} {S}", "name the {Hs} that {beP} {part} {prep} {S}", "give me the {Hs} {part} {prep} {S}",
        "which {H} {be} {part} {prep} {S}",
    ],
}
DESCRIBE: dict[tuple[str, str], list[str]] = {
    ("passive", "fwd"): ["the {N} of {S}", "the {Ns} of {S}", "{S} 's {N}", "the {who} that {past} {S}"],
    ("passive", "inv"): ["the {Hs} {part} by {S}", "the {Hs} that {S} {past}", "the {Hs} {S} {past}",
                         "the {Hs} with {N} {S}"],
    ("verbal", "fwd"): ["the {Ns} of {S}", "the {Ns} {S} {past}", "{S} 's {Ns}", "the {Ns} in {S}"],
    ("verbal", "inv"): ["the {Hs} that {past} {S}", "the {Hs} with {S} as {N}", "the {Hs} {S} is in",
                        "the {Hs} that have {N} {S}"],
    ("noun", "fwd"): ["the {N} of {S}", "the {Ns} of {S}", "{S} 's {N}", "the {N} that {S} has"],
    ("noun", "inv"): ["the {Hs} whose {N} is {S}", "the {Hs} with {N} {S}", "the {Hs} that have {N} {S}",
                      "the {Hs} of {N} {S}"],
    ("active", "fwd"): ["the {Ts} {S} {verbS} {prep}", "the {Ts} that {S} {verbS} {prep}"],
    ("active", "inv"): ["the {Hs} that {verbP} {prep} {S}", "the {Hs} {verbingP} {prep} {S}"],
    ("stative", "fwd"): ["the {Ts} {S} {beS} {part} {prep}", "the {Ts} that {S} {beS} {part} {prep}"],
    ("stative", "inv"): ["the {Hs} {part} {prep} {S}", "the {Hs} that {beP} {part} {prep} {S}"],
}
GENERIC_HEAD = ("one", "ones")
TOPIC_SLOT = "\ue000"  # stands for the topic while templates are filled, so their whitespace clean-up never touches it


@dataclass(frozen=True)
class StepWords:
    """The words of one step: the relation's words, its direction and the nouns of both ends.

    Args:
        words: The relation's :class:`RelationWords`.
        inverse: The step goes tail -> head.
        head_type: Type noun of the relation's head side (``rdf:type``), if known.
        tail_type: Type noun of the tail side, if known.
    """

    words: RelationWords
    inverse: bool
    head_type: str | None = None
    tail_type: str | None = None

    @property
    def reads_inverse(self) -> bool:
        """The direction the templates read: a flipped noun (``isCitizenOf``) reads the other way."""
        return self.inverse != self.words.flip

    @property
    def key(self) -> tuple[str, str]:
        return self.words.shape, "inv" if self.reads_inverse else "fwd"

    def fields(self, subject: str) -> dict[str, str]:
        w = self.words
        noun = w.tail_noun
        inverse = self.reads_inverse
        head_type, tail_type = (self.tail_type, self.head_type) if w.flip else (self.head_type, self.tail_type)
        head = head_type or (None if w.flip else w.head_noun)
        answer_noun = (head if inverse else (tail_type or noun)) or ""
        wh = wh_word(answer_noun, w.tail_person and not inverse)
        h, hs = (head, plural(head)) if head else GENERIC_HEAD
        t, ts = (tail_type, plural(tail_type)) if tail_type else GENERIC_HEAD
        single = subject == TOPIC_SLOT  # a topic is one thing; a description ("the ones ...") is several
        plural_verb = w.base if w.present else w.verb
        plural_be = {"is": "are", "was": "were"}.get(w.be, w.be)
        return {
            "S": subject, "wh": wh, "whom": "whom" if wh == "who" else wh, "who": "one" if wh != "who" else "person",
            "N": noun, "aN": ("an " if noun[:1] in "aeiou" else "a ") + noun, "Ns": plural(noun), "H": h, "Hs": hs,
            "T": t, "Ts": ts, "phrase": w.phrase, "base": w.base or noun, "whS": "what" if wh in ("where", "when") else wh,
            "prepQ": "" if wh in ("where", "when") else w.prep,
            "past": w.past or w.phrase, "part": w.participle or w.phrase, "prep": w.prep,
            "verb": w.verb, "verbP": plural_verb, "verbS": w.verb if single else plural_verb,
            "verbingP": ing_form(w.base) if w.present or w.base in INTRANSITIVE else f"that {plural_verb}",
            "doS": ("does" if single else "do") if w.present else "did",
            "be": w.be, "beP": plural_be, "beS": w.be if single else plural_be,
        }


def ing_form(base: str) -> str:
    """``work`` -> ``working``; ``manage`` -> ``managing``; ``die`` -> ``dying``; ``star`` -> ``starring``."""
    if base.endswith("ie"):
        return base[:-2] + "ying"
    if base.endswith("e") and not base.endswith(("ee", "ye", "oe")):
        return base[:-1] + "ing"
    if re.search(r"[^aeiou][aeiou][bdgmnprt]$", base) and len(base) <= 4:
        return base + base[-1] + "ing"
    return base + "ing"


def wh_word(noun: str, person: bool) -> str:
    last = noun.split()[-1] if noun.split() else ""
    if person or last in PERSON_NOUNS:
        return "who"
    if last in TIME_NOUNS:
        return "when"
    if last in PLACE_NOUNS:
        return "where"
    return "what"


def _usable(options: list[str], plain_subject: bool, flip: bool = False) -> list[tuple[int, str]]:
    """``(template id, template)``; a possessive ``{S} 's`` reads well after a name only, and the
    relation's own words (``{phrase}``: ``is citizen of``) read the wrong way round for a flipped noun."""
    return [(i, o) for i, o in enumerate(options)
            if (plain_subject or "{S} 's" not in o) and not (flip and "{phrase}" in o)]


def _fill(template: str, fields: dict[str, str]) -> str:
    return re.sub(r"\s+", " ", template.format(**fields)).strip()


def compose(steps: list[StepWords], topic: str, rng: np.random.Generator) -> tuple[str, str]:
    """A question for the path ``steps`` from ``topic`` (already bracketed or not, kept exactly:
    a name with a double space keeps it), and its template id."""
    subject, ids = TOPIC_SLOT, []
    for step in steps[:-1]:
        options = _usable(DESCRIBE[step.key], subject == TOPIC_SLOT, step.words.flip)
        k, template = options[int(rng.integers(len(options)))]
        subject = _fill(template, step.fields(subject))
        ids.append(f"d.{step.key[0]}.{step.key[1]}.{k}")
    last = steps[-1]
    options = _usable(ASK[last.key], subject == TOPIC_SLOT, last.words.flip)
    k, template = options[int(rng.integers(len(options)))]
    ids.append(f"q.{last.key[0]}.{last.key[1]}.{k}")
    return _fill(template, last.fields(subject)).replace(TOPIC_SLOT, topic), ">".join(ids)


NOISE_KINDS = ("lower", "capitalize", "question_mark", "drop_article", "misspell")


def add_noise(question: str, topic: str, rng: np.random.Generator, rate: float) -> tuple[str, list[str]]:
    """Light, seeded noise that never touches the topic span: a dropped article, one misspelt
    word (two inner letters swapped), lower case or a capital first letter, a trailing ``?``.

    Args:
        question: The question text containing ``topic`` once.
        topic: The topic span (bracketed or not), kept exactly.
        rng: Seeded generator.
        rate: Probability of each kind of noise.
    """
    applied: list[str] = []
    start = question.find(topic)
    pieces = [question[:start], question[start + len(topic):]] if start >= 0 else [question, ""]
    if rng.random() < rate:
        words = [p.split(" ") for p in pieces]
        slots = [(i, j) for i, ws in enumerate(words) for j, w in enumerate(ws) if w in ("the", "a", "an")]
        if slots:
            i, j = slots[int(rng.integers(len(slots)))]
            del words[i][j]
            pieces = [" ".join(ws) for ws in words]
            applied.append("drop_article")
    if rng.random() < rate:
        cands = [(i, m.start(), m.end()) for i, p in enumerate(pieces) for m in re.finditer(r"[a-z]{4,}", p)]
        if cands:
            i, s, e = cands[int(rng.integers(len(cands)))]
            pos = s + int(rng.integers(1, e - s - 2))
            w = pieces[i]
            pieces[i] = w[:pos] + w[pos + 1] + w[pos] + w[pos + 2:]
            applied.append("misspell")
    r = rng.random()
    if r < rate / 2:
        pieces = [p.lower() for p in pieces]
        applied.append("lower")
    elif r < rate and pieces[0]:
        pieces[0] = pieces[0][:1].upper() + pieces[0][1:]
        applied.append("capitalize")
    norm = lambda piece: re.sub(r"\s+", " ", piece)  # noqa: E731  (the topic keeps its own whitespace)
    text = (norm(pieces[0]).lstrip() + topic + norm(pieces[1]).rstrip()) if start >= 0 else norm(pieces[0]).strip()
    if rng.random() < rate:
        text += "?"
        applied.append("question_mark")
    return text, applied
