"""Relation names -> words: splitting, light English morphology, relation-text files.

Everything here is general English and general naming conventions (snake_case, camelCase,
IRI local names, Freebase-style ``/domain/type/property`` paths); nothing is tuned to one
dataset. A relation is read as one of three shapes:

* ``passive`` -- ``directed by``, ``written_by``: ``head <participle> by tail``; the tail is the
  agent (``director``, ``writer``), the head is what the verb produced.
* ``verbal`` -- ``starred actors``, ``hasTag`` minus ``has``...: a verb followed by a noun.
* ``noun`` -- ``genre``, ``release year``, ``in language``, ``director``: the tail is the head's
  ``<noun>``. ``is <noun> of`` (``isCitizenOf``, ``isPartOf``) is the same noun the other way round
  (``flip``): the head is the tail's ``<noun>``.
* ``active`` -- ``worksFor``, ``reportsTo``, ``knows``, ``actedIn``, ``created``: ``head <verb>
  [<preposition>] tail``, the verb in the present third person or the past.
* ``stative`` -- ``isLocatedIn``, ``wasBornIn``, ``marriedTo``: ``head is/was <participle>
  <preposition> tail``.

The ``active``/``stative`` shapes cover YAGO-, schema.org- and FOAF-style names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from kgfm.sources.records import SourceError

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_NON_WORD = re.compile(r"[^0-9A-Za-z]+")

# Common irregular English verbs: participle -> (base, past). General English, not a dataset's words.
IRREGULAR = {
    "written": ("write", "wrote"), "sung": ("sing", "sang"), "drawn": ("draw", "drew"),
    "made": ("make", "made"), "given": ("give", "gave"), "taken": ("take", "took"),
    "shot": ("shoot", "shot"), "begun": ("begin", "began"), "chosen": ("choose", "chose"),
    "done": ("do", "did"), "driven": ("drive", "drove"), "eaten": ("eat", "ate"),
    "found": ("find", "found"), "founded": ("found", "founded"), "held": ("hold", "held"),
    "known": ("know", "knew"), "led": ("lead", "led"), "lost": ("lose", "lost"),
    "won": ("win", "won"), "played": ("play", "played"), "spoken": ("speak", "spoke"),
    "built": ("build", "built"), "bought": ("buy", "bought"), "sold": ("sell", "sold"),
    "taught": ("teach", "taught"), "brought": ("bring", "brought"), "born": ("bear", "bore"),
    "told": ("tell", "told"), "seen": ("see", "saw"), "run": ("run", "ran"), "read": ("read", "read"),
    "composed": ("compose", "composed"), "produced": ("produce", "produced"), "set": ("set", "set"),
    "died": ("die", "died"), "lied": ("lie", "lied"), "tied": ("tie", "tied"), "wrote": ("write", "wrote"),
}
ARTICLES = {"the", "a", "an"}
PREPOSITIONS = {"in", "of", "on", "at", "to", "from", "for", "with", "into", "about", "as"}
LEADING_VERBS = {"has", "have", "had", "is", "was", "are", "were", "hasa", "isa"}
TIME_NOUNS = {"year", "date", "time", "day", "month", "decade", "century"}
PLACE_NOUNS = {"place", "location", "country", "city", "region", "state", "area", "site", "venue"}
BE_WORDS = {"is", "was", "are", "were"}
# Present-tense verbs common as relation names on their own (``knows``, ``contains``): a lone word
# ending in -s is otherwise read as a plural noun (``tags``). General English.
VERBS_3RD = {
    "knows", "manages", "owns", "employs", "influences", "contains", "includes", "follows", "likes", "loves",
    "hates", "uses", "causes", "treats", "affects", "precedes", "succeeds", "supports", "requires", "speaks",
    "plays", "directs", "writes", "teaches", "produces", "creates", "cites", "mentions", "visits", "trusts",
    "marries", "imports", "exports", "borders", "hosts", "governs", "leads", "sponsors", "funds", "publishes",
    "develops", "designs", "invents", "discovers", "prevents", "inhibits", "activates", "regulates", "encodes",
    "binds", "targets", "interacts", "attends", "joins", "sells", "buys", "acquires", "replaces", "defeats",
}
# Verbs whose past participle + preposition is an action of the head (``actedIn``, ``diedIn``);
# other participles + preposition read as a state (``locatedIn``, ``bornIn``, ``marriedTo``).
INTRANSITIVE = {
    "act", "die", "graduate", "participate", "happen", "live", "work", "compete", "serve", "study", "play",
    "occur", "appear", "star", "stay", "arrive", "result", "originate", "retire", "debut", "perform", "exist",
    "emigrate", "immigrate", "reside", "move", "travel", "rank", "belong", "report", "deal", "fight", "vote",
    "teach", "sing", "win", "run", "go", "come", "lie", "sit", "stand", "sleep", "speak", "write", "contribute",
}
PERSON_NOUNS = {"person", "people", "human", "man", "woman", "author", "agent", "member", "spouse",
                "child", "parent", "friend", "artist", "star", "cast", "politician", "player"}


def split_words(name: str) -> list[str]:
    """``/film/film/genre`` -> ``[film, film, genre]``; ``inLanguage`` -> ``[in, language]``;
    ``http://x.org/v#hasTag`` -> ``[has, tag]`` (an IRI keeps only its local name)."""
    text = name.strip()
    if "://" in text or text.startswith("urn:"):
        text = re.split(r"[#/:]", text.rstrip("/#"))[-1]
    text = _CAMEL.sub(" ", text)
    return [w.lower() for w in _NON_WORD.split(text) if w]


def plural(noun: str) -> str:
    """English plural of the last word of ``noun`` (regular rules)."""
    words = noun.split()
    if not words:
        return noun
    w = words[-1]
    if w in {"people", "data", "media"} or (w.endswith("s") and not w.endswith(("ss", "us", "is")) and len(w) > 3):
        out = w  # already plural (actors, tags)
    elif w.endswith("person"):
        out = w[:-6] + "people"
    elif re.search(r"(s|x|z|ch|sh)$", w):
        out = w + "es"
    elif re.search(r"[^aeiou]y$", w):
        out = w[:-1] + "ies"
    else:
        out = w + "s"
    return " ".join(words[:-1] + [out])


def singular(noun: str) -> str:
    words = noun.split()
    if not words:
        return noun
    w = words[-1]
    if w.endswith("ies") and len(w) > 4:
        w = w[:-3] + "y"
    elif re.search(r"(sses|xes|ches|shes)$", w):
        w = w[:-2]
    elif w.endswith("s") and not w.endswith("ss") and len(w) > 3 and not w.endswith("us") and not w.endswith("is"):
        w = w[:-1]
    return " ".join(words[:-1] + [w])


def is_participle(word: str) -> bool:
    return word in IRREGULAR or (len(word) > 4 and word.endswith("ed"))


def verb_forms(participle: str) -> tuple[str, str]:
    """``(base, past)`` of a past participle: ``directed`` -> ``(direct, directed)``."""
    if participle in IRREGULAR:
        return IRREGULAR[participle]
    stem = participle[:-2] if participle.endswith("ed") else participle
    if len(stem) > 2 and stem[-1] == stem[-2] and stem[-1] not in "lsaeiou":
        stem = stem[:-1]  # starred -> star
    elif stem.endswith("i"):
        stem = stem[:-1] + "y"  # married -> marry
    elif re.search(r"(at|iz|is|ov|v|c|g|ur|bl|pl|tl|dl|uc|rs|ns|ut|id|ir|ak|ok|ib)$", stem):
        stem = stem + "e"  # created, composed, produced, loved...
    return stem, participle


def present_base(word: str) -> str:
    """``works`` -> ``work``; ``manages`` -> ``manage``; ``teaches`` -> ``teach``; ``studies`` -> ``study``."""
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if re.search(r"(ches|shes|sses|xes|zes|oes)$", word):
        return word[:-2]
    return word[:-1] if word.endswith("s") else word


def is_third_person(word: str) -> bool:
    """A present third-person verb form: ``works`` -- only where a preposition follows, or listed."""
    return len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is"))


def agent_noun(base: str) -> str:
    """``direct`` -> ``director``; ``write`` -> ``writer``; ``produce`` -> ``producer``."""
    if re.search(r"(ct|it|ut)$", base) and not base.endswith("eat"):
        return base + "or"  # director, editor, creditor
    if base.endswith("ate"):
        return base[:-1] + "or"  # creator, narrator
    if base.endswith("e"):
        return base + "r"
    if re.search(r"[^aeiou][aeiou][bdgmnpt]$", base) and len(base) <= 4:
        return base + base[-1] + "er"  # run -> runner, star -> (kept) starrer
    return base + "er"


@dataclass(frozen=True)
class RelationWords:
    """How one relation is talked about.

    Args:
        phrase: The relation text as words (``directed by``).
        shape: ``passive``, ``verbal`` or ``noun`` (module docstring).
        tail_noun: Noun for the tail side (``director``, ``genre``), singular.
        head_noun: Noun for the head side when known (Freebase type segment, rdf:type), else ``None``.
        base / past / participle: Verb forms for ``passive``, ``verbal``, ``active`` and ``stative`` shapes.
        tail_person: The tail is a person-like agent (picks ``who``).
        verb: ``active``: the verb as the relation has it (``works``, ``acted``); ``present`` says which tense.
        prep: ``active``/``stative``: the preposition after the verb (``for``, ``in``), or empty.
        be: ``stative``: ``is`` or ``was``.
        flip: ``noun`` read the other way round (``is citizen of``: the head is the tail's noun).
    """

    phrase: str
    shape: str
    tail_noun: str
    head_noun: str | None = None
    base: str = ""
    past: str = ""
    participle: str = ""
    tail_person: bool = False
    verb: str = ""
    present: bool = False
    prep: str = ""
    be: str = ""
    flip: bool = False


def analyse(words: list[str], head_noun: str | None = None) -> RelationWords:
    """Classify a relation's words into a :class:`RelationWords`."""
    words = [w for w in words if w] or ["related"]
    phrase = " ".join(words)
    core = words[1:] if words[0] in LEADING_VERBS and len(words) > 1 else list(words)
    if len(core) >= 2 and core[-1] == "by" and is_participle(core[-2]):
        base, past = verb_forms(core[-2])
        return RelationWords(phrase, "passive", agent_noun(base), head_noun, base, past, core[-2], True)
    if len(core) >= 2 and is_participle(core[0]) and core[1] not in PREPOSITIONS:
        base, past = verb_forms(core[0])
        noun = singular(" ".join(core[1:]))
        return RelationWords(phrase, "verbal", noun, head_noun, base, past, core[0], _personish(noun))
    lead = words[0] if len(core) < len(words) else ""  # has / is / was, stripped above
    prep = core[1] if len(core) == 2 and core[1] in PREPOSITIONS else ""
    if lead in BE_WORDS and is_participle(core[0]) and (len(core) == 1 or prep):
        base, past = verb_forms(core[0])  # isLocatedIn, wasBornIn, isMarriedTo
        return RelationWords(phrase, "stative", "", head_noun, base, past, core[0], prep=prep,
                             be="was" if lead in {"was", "were"} else "is")
    if lead in BE_WORDS and core in (["a"], ["an"]):
        return RelationWords(phrase, "noun", "kind", head_noun)  # isA: the tail is the head's kind
    if (lead in BE_WORDS and len(core) >= 2 and core[-1] in {"of", "for", "to"}) or (
            not lead and len(core) >= 2 and core[-1] == "of" and core[0] not in PREPOSITIONS):
        noun_words = [w for w in core[:-1] if w not in ARTICLES] or core[:-1]
        noun = singular(" ".join(noun_words))  # isCitizenOf, memberOf: the head is the tail's noun
        return RelationWords(phrase, "noun", noun, head_noun, tail_person=_personish(noun), flip=True)
    if not lead and (len(core) == 1 or prep):
        word = core[0]
        if (prep and is_third_person(word)) or (len(core) == 1 and word in VERBS_3RD):
            return RelationWords(phrase, "active", "", head_noun, present_base(word), verb=word, present=True,
                                 prep=prep)  # worksFor, knows
        if is_participle(word):
            base, past = verb_forms(word)
            if len(core) == 1 or base in INTRANSITIVE:  # created, actedIn, diedIn
                return RelationWords(phrase, "active", "", head_noun, base, past, word, verb=past, prep=prep)
            return RelationWords(phrase, "stative", "", head_noun, base, past, word, prep=prep,
                                 be="was" if word == "born" else "is")  # locatedIn, bornIn
    while len(core) > 1 and core[0] in PREPOSITIONS | ARTICLES:
        core = core[1:]
    noun = singular(" ".join(core))
    return RelationWords(phrase, "noun", noun, head_noun, tail_person=_personish(noun))


def _personish(noun: str) -> bool:
    last = noun.split()[-1] if noun.split() else noun
    return last in PERSON_NOUNS or bool(re.search(r"(or|er|ist|ian)$", last)) and last not in {
        "number", "order", "letter", "color", "colour", "water", "power", "center", "chapter", "character",
        "paper", "winter", "summer", "film", "cover", "border", "member", "flavor", "floor", "river"}


def relation_words(predicate: str, rel_type: str, text: str | None = None, head_noun: str | None = None) -> RelationWords:
    """Words for a relation from (in order) a user text, a Freebase-style path, or its name.

    Args:
        predicate: The original predicate string (IRI or name).
        rel_type: The store's relationship type name.
        text: A relation text (relation-text file, ``rdfs:label``), used verbatim when given, unless
            its words are exactly the name's words (then the name is parsed as a path).
        head_noun: A noun for the head side known from types (``rdf:type``).
    """
    path_head: str | None = None
    last_words: list[str] | None = None
    if predicate.startswith("/") and predicate.count("/") >= 3:
        parts = [p for p in predicate.split(".") if p.strip("/")]
        first = [s for s in parts[0].split("/") if s]
        last = [s for s in parts[-1].split("/") if s]
        if len(first) >= 3:
            path_head = " ".join(split_words(first[-2]))
        last_words = split_words(last[-1])
    if text and split_words(text) == split_words(predicate):
        text = None  # the text only restates the name (FB15k-237's relation2text.txt): parse the name
    if text and text.strip():
        words = split_words(text)
    elif last_words:
        words = last_words
    else:
        words = split_words(predicate) or split_words(rel_type)
    return analyse(words, head_noun or path_head)


class RelationTextError(SourceError):
    """A relation-text file that cannot be used at all."""


@dataclass
class RelationTextFile:
    """``id<TAB>text`` rows read from a file, with what was rejected.

    Args:
        texts: id -> text for the good rows.
        bad_lines: 1-based line numbers without a TAB or with an empty id or text.
    """

    path: Path
    texts: dict[str, str]
    bad_lines: list[int]


def read_relation_text(path: Path) -> RelationTextFile:
    """Read a relation-text file (``id<TAB>text``, UTF-8); bad lines are counted, not fatal.

    Raises:
        RelationTextError: the file is missing, not UTF-8, or has no usable row.
    """
    path = Path(path)
    if not path.is_file():
        raise RelationTextError(str(path), "relation-text file not found")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise RelationTextError(str(path), f"not UTF-8 ({exc.reason})") from None
    texts: dict[str, str] = {}
    bad: list[int] = []
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        rid, sep, text = line.partition("\t")
        if not sep or not rid.strip() or not split_words(text):
            bad.append(lineno)
            continue
        texts[rid.strip()] = text.strip()
    if not texts:
        raise RelationTextError(str(path), f"no 'id<TAB>text' row ({len(bad)} bad lines)", bad[0] if bad else 0)
    return RelationTextFile(path, texts, bad)
