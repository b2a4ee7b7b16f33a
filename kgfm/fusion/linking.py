"""Entity linking: an alias index over entity names, longest-match detection, fuzzy fallback.

Offsets convention: :meth:`EntityLinker.link` returns character offsets into the *clean*
text, i.e. the text with MetaQA-style ``[brackets]`` removed (``strip_brackets(text)[0]``),
because that is the text the model reads. For text without brackets the clean text is the
original text, so the offsets are offsets into the original. :meth:`EntityLinker.link_text`
returns ``(clean_text, mentions)`` together.

Detection:

* bracketed spans are always mentions (``entity_idx == -1`` if nothing matches them, even
  fuzzily); when a text has brackets, only the bracketed spans are linked (``bracket_only``);
* otherwise greedy longest match over word tokens (``[^\\W_]+``), longest alias first, at most
  ``max_alias_words`` words; aliases of one or two words made only of stopwords (English
  function words, common question words and the words of the relation names), pure numbers,
  or one or two characters are skipped outside brackets;
* only when nothing matched exactly: a fuzzy fallback, cosine similarity of character-trigram
  TF-IDF vectors (scipy sparse) between word n-grams of the text and every alias.

Normalisation (aliases and text alike): unicode NFKC, casefold, punctuation dropped (words
are the ``[^\\W_]+`` runs), and a leading article (``the``/``a``/``an``) dropped (the full form
is indexed too, so "The Who" stays findable).

Ambiguity: an alias shared by several entities keeps all of them as candidates, ranked by a
popularity prior (``log1p(degree)``); the mention takes the best one and reports the others.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np

from kgfm.fusion.fuzzy import TrigramIndex
from kgfm.store.base import GraphTensors

WORD_RE = re.compile(r"[^\W_]+")
BRACKET_RE = re.compile(r"\[([^\[\]]*)\]")
ARTICLES = frozenset({"the", "a", "an"})

#: Function words and generic question words never linked on their own outside brackets.
STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be been before being below between both
    but by can could did do does doing down during each few for from further had has have having he her here
    hers herself him himself his how i if in into is it its itself just me more most my myself no nor not of
    off on once only or other our ours out over own same she should so some such than that the their theirs
    them themselves then there these they this those through to too under until up very was we were what when
    where which while who whom whose why will with would you your yours also ever many much name named
    s t d ll m re ve isn wasn aren weren don doesn didn
    movie movies film films person people one ones thing things type kind
    act acted acting appear appears appeared star stars starred starring play played direct directed write
    wrote written release released make made
    year years date language languages genre genres actor actors actress director directors writer writers
    screenwriter author producer""".split()
)


def normalize_word(word: str) -> str:
    return unicodedata.normalize("NFKC", word).casefold()


def words(text: str) -> list[tuple[str, int, int]]:
    """Word tokens of ``text`` as ``(normalised, start, end)`` with offsets into ``text``."""
    out = []
    for m in WORD_RE.finditer(text):
        norm = normalize_word(m.group())
        # NFKC may turn one run into several words (e.g. fractions); keep them as one token.
        norm = "".join(WORD_RE.findall(norm))
        if norm:
            out.append((norm, m.start(), m.end()))
    return out


def _cased_key(text: str) -> str:
    """Like :func:`normalize` but keeping case (used to break case-only ambiguities)."""
    return " ".join(unicodedata.normalize("NFKC", m.group()) for m in WORD_RE.finditer(text))


def _symbol_key(text: str) -> str:
    """Key of a name with no word characters at all (e.g. "$"): NFKC + casefold, trimmed."""
    return unicodedata.normalize("NFKC", text).casefold().strip()


def normalize(text: str) -> str:
    """Alias key: NFKC + casefold, punctuation dropped, whitespace collapsed (articles kept)."""
    return " ".join(w for w, _, _ in words(text))


def strip_brackets(text: str) -> tuple[str, list[tuple[int, int]]]:
    """Remove ``[`` ``]`` around mentions.

    Returns:
        ``(clean_text, spans)``: ``spans`` are ``(start, end)`` char offsets of each bracketed
        mention in ``clean_text``.
    """
    spans: list[tuple[int, int]] = []
    pieces: list[str] = []
    pos = 0
    length = 0
    for m in BRACKET_RE.finditer(text):
        before = text[pos : m.start()]
        pieces.append(before)
        length += len(before)
        inner = m.group(1)
        spans.append((length, length + len(inner)))
        pieces.append(inner)
        length += len(inner)
        pos = m.end()
    pieces.append(text[pos:])
    return "".join(pieces), spans


@dataclass
class Mention:
    """A linked mention. ``start``/``end`` are char offsets into the clean (bracket-free) text.

    ``entity_idx == -1`` (and ``entity_id == ""``) marks a bracketed span nothing matched.
    ``candidates`` are ``(entity_idx, score)``, best first.
    """

    start: int
    end: int
    surface: str
    entity_idx: int
    entity_id: str
    score: float
    candidates: list[tuple[int, float]] = field(default_factory=list)
    bracketed: bool = False
    fuzzy: bool = False


class EntityLinker:
    """Alias index over entity names (and ids) with longest-match and fuzzy linking.

    Args:
        entity_ids: Entity id per entity idx.
        entity_names: Display names (``None`` -> the id is the only alias).
        degree: Optional ``[num_entities]`` popularity prior (e.g. graph degree).
        extra_stopwords: Words added to :data:`STOPWORDS` (e.g. relation-name words).
        index_ids: Also index the entity ids as aliases (useful when ids are readable).
        max_alias_words: Longest alias considered, in words.
        fuzzy_threshold: Minimum trigram cosine for a fuzzy link.
        bracket_only: With brackets present, link only the bracketed spans.
    """

    def __init__(
        self,
        entity_ids: Sequence[str],
        entity_names: Sequence[str | None],
        degree: np.ndarray | None = None,
        extra_stopwords: Iterable[str] = (),
        index_ids: bool = True,
        max_alias_words: int = 12,
        fuzzy_threshold: float = 0.6,
        bracket_only: bool = True,
    ):
        if len(entity_ids) != len(entity_names):
            raise ValueError(f"entity_ids ({len(entity_ids)}) and entity_names ({len(entity_names)}) differ in length")
        self.entity_ids = list(entity_ids)
        self.entity_names = list(entity_names)
        n = len(self.entity_ids)
        deg = np.zeros(n, dtype=np.float64) if degree is None else np.asarray(degree, dtype=np.float64)
        if deg.shape != (n,):
            raise ValueError(f"degree has shape {deg.shape}, expected ({n},)")
        self.prior = np.log1p(np.maximum(deg, 0.0)) + 1.0
        self.stopwords = STOPWORDS | {normalize_word(w) for w in extra_stopwords}
        self.fuzzy_threshold = fuzzy_threshold
        self.bracket_only = bracket_only
        self.max_alias_words = 1
        # key -> {idx: form weight}; full names weigh 1, article-dropped forms 0.5
        table: dict[str, dict[int, float]] = {}
        id_table: dict[str, dict[int, float]] = {}
        self._cased: dict[int, str] = {}
        self._raw: dict[int, str] = {}

        def add(tab: dict[str, dict[int, float]], key: str, idx: int, weight: float) -> None:
            if key:
                bucket = tab.setdefault(key, {})
                bucket[idx] = max(bucket.get(idx, 0.0), weight)

        for idx in range(n):
            name = self.entity_names[idx]
            sources = [(table, name)] if name else []
            if index_ids or not name:
                sources.append((id_table if name else table, self.entity_ids[idx]))
            for tab, text in sources:
                toks = normalize(text).split() or [_symbol_key(text)]
                if not toks[0] or len(toks) > max_alias_words:
                    continue
                add(tab, " ".join(toks), idx, 1.0)
                if len(toks) > 1 and toks[0] in ARTICLES:
                    add(tab, " ".join(toks[1:]), idx, 0.5)
                self.max_alias_words = max(self.max_alias_words, len(toks))
            if name:
                self._cased[idx] = _cased_key(name)
                self._raw[idx] = unicodedata.normalize("NFKC", name).strip()
        # names first; an id is an alias only where no name claims the same key
        for key, bucket in id_table.items():
            table.setdefault(key, bucket)
        self.aliases: dict[str, list[tuple[int, float]]] = {
            key: sorted(((i, w * float(self.prior[i])) for i, w in bucket.items()), key=lambda c: -c[1])
            for key, bucket in table.items()
        }
        self._keys = list(self.aliases)
        self._fuzzy: TrigramIndex | None = None

    def candidates(self, key: str, surface: str | None = None) -> list[tuple[int, float]]:
        """Candidates of alias ``key`` with scores summing to 1, best first.

        Each candidate weighs ``prior * form`` (form 1 for the full name, 0.5 for the name
        without its leading article), times 10 when ``surface`` is exactly its name (case and
        punctuation), times 3 when only the words match case-exactly.
        """
        cands = self.aliases.get(key, [])
        if not cands:
            return []
        if surface is not None and len(cands) > 1:
            cased, raw = _cased_key(surface), unicodedata.normalize("NFKC", surface).strip()
            cands = [(i, w * (10.0 if self._raw.get(i) == raw else 3.0 if self._cased.get(i) == cased else 1.0))
                     for i, w in cands]
            cands.sort(key=lambda c: -c[1])
        total = sum(w for _, w in cands)
        return [(i, w / total) for i, w in cands]

    @classmethod
    def from_tensors(cls, graph: GraphTensors, degree: np.ndarray | None = None, **kwargs) -> "EntityLinker":
        """Build from exported graph tensors; relation-name words become stopwords.

        Args:
            graph: :class:`GraphTensors` (names, ids, relation vocabulary).
            degree: Popularity prior; default: in+out degree from the triples.
        """
        if degree is None and graph.num_triples:
            degree = np.bincount(graph.head_index, minlength=graph.num_entities) + np.bincount(
                graph.tail_index, minlength=graph.num_entities
            )
        rel_words = {w for rel in graph.relation_types for w, _, _ in words(rel.replace("_", " "))}
        extra = set(kwargs.pop("extra_stopwords", ())) | rel_words
        return cls(graph.entity_ids, graph.entity_names, degree=degree, extra_stopwords=extra, **kwargs)

    # ------------------------------------------------------------------ linking
    def _skippable(self, toks: Sequence[str]) -> bool:
        """Outside brackets: 1-2 word aliases made only of stopwords, numbers, <= 2 characters.
        Longer all-stopword names ("To Be or Not to Be", "Down to You") are distinctive enough."""
        if len(toks) <= 2 and all(t in self.stopwords for t in toks):
            return True
        joined = "".join(toks)
        return joined.isdigit() or len(joined) <= 2

    def _mention(self, clean: str, start: int, end: int, cands: list[tuple[int, float]], quality: float,
                 bracketed: bool, fuzzy: bool) -> Mention:
        best = cands[0][0] if cands else -1
        return Mention(
            start=start,
            end=end,
            surface=clean[start:end],
            entity_idx=best,
            entity_id=self.entity_ids[best] if best >= 0 else "",
            score=float(quality * (cands[0][1] if cands else 0.0)),
            candidates=[(i, float(quality * s)) for i, s in cands],
            bracketed=bracketed,
            fuzzy=fuzzy,
        )

    @staticmethod
    def _length_quality(key: str) -> float:
        n = len(key.replace(" ", ""))
        return n / (n + 4.0)

    def fuzzy_lookup(self, texts: Sequence[str]) -> list[tuple[str | None, float]]:
        """Closest alias key and cosine for each (normalised) text."""
        if self._fuzzy is None:
            self._fuzzy = TrigramIndex(self._keys)
        rows, sims = self._fuzzy.query(texts)
        return [(self._keys[r] if r >= 0 else None, float(s)) for r, s in zip(rows, sims)]

    def _link_span(self, clean: str, start: int, end: int) -> Mention:
        key = normalize(clean[start:end]) or _symbol_key(clean[start:end])
        toks = key.split()
        for k in (key, " ".join(toks[1:]) if len(toks) > 1 and toks[0] in ARTICLES else None):
            if k and k in self.aliases:
                return self._mention(clean, start, end, self.candidates(k, clean[start:end]), 1.0, True, False)
        if key:
            alias, sim = self.fuzzy_lookup([key])[0]
            if alias is not None and sim >= self.fuzzy_threshold:
                return self._mention(clean, start, end, self.candidates(alias), sim, True, True)
        return self._mention(clean, start, end, [], 0.0, True, False)

    def _detect(self, clean: str) -> list[Mention]:
        toks = words(clean)
        # the longest alias starting at each word, then longest-first without overlaps
        found: list[tuple[int, int, int, str]] = []
        for i in range(len(toks)):
            for n in range(min(self.max_alias_words, len(toks) - i), 0, -1):
                span = [t for t, _, _ in toks[i : i + n]]
                key = " ".join(span)
                if key in self.aliases and not self._skippable(span):
                    found.append((len(key), i, n, key))
                    break
        taken: set[int] = set()
        out: list[tuple[int, int, Mention]] = []
        for _, i, n, key in sorted(found, key=lambda f: (-f[0], f[1])):
            if taken.intersection(range(i, i + n)):
                continue
            taken.update(range(i, i + n))
            start, end = toks[i][1], toks[i + n - 1][2]
            cands = self.candidates(key, clean[start:end])
            out.append((i, n, self._mention(clean, start, end, cands, self._length_quality(key), False, False)))
        if not out:
            return self._detect_fuzzy(clean, toks)
        return self._repair(clean, toks, out, taken)

    def _repair(self, clean: str, toks: list[tuple[str, int, int]], exact: list[tuple[int, int, Mention]],
                taken: set[int]) -> list[Mention]:
        """Misspelled names next to exact partial hits ("Evelyn Vnable" -> "Evelyn" exact): a run of
        non-stopword words with a word no exact mention covers is looked up fuzzily as a whole, and
        a confident fuzzy alias replaces the exact mentions inside the run."""
        runs, i = [], 0
        while i < len(toks):
            j = i
            while j < len(toks) and toks[j][0] not in self.stopwords and j - i < 6:
                j += 1
            if j - i >= 2 and any(k not in taken for k in range(i, j)):
                runs.append((i, j))
            i = max(j, i + 1)
        if not runs:
            return sorted((m for _, _, m in exact), key=lambda m: m.start)
        found = self.fuzzy_lookup([" ".join(t for t, _, _ in toks[a:b]) for a, b in runs])
        for (a, b), (alias, sim) in zip(runs, found):
            if alias is None or sim < max(self.fuzzy_threshold, 0.7) or len(alias.split()) < 2:
                continue
            exact = [e for e in exact if not (a <= e[0] and e[0] + e[1] <= b)]
            s, e = toks[a][1], toks[b - 1][2]
            m = self._mention(clean, s, e, self.candidates(alias), sim * self._length_quality(alias), False, True)
            exact.append((a, b - a, m))
        return sorted((m for _, _, m in exact), key=lambda m: m.start)

    def _detect_fuzzy(self, clean: str, toks: list[tuple[str, int, int]]) -> list[Mention]:
        spans = []
        for i in range(len(toks)):
            for n in range(1, min(self.max_alias_words, len(toks) - i, 6) + 1):
                span = [t for t, _, _ in toks[i : i + n]]
                if not self._skippable(span) and span[0] not in self.stopwords and span[-1] not in self.stopwords:
                    spans.append((i, n, " ".join(span)))
        if not spans:
            return []
        found = self.fuzzy_lookup([s for _, _, s in spans])
        scored = sorted(
            ((sim * self._length_quality(alias), sim, i, n, alias) for (i, n, _), (alias, sim) in zip(spans, found)
             if alias is not None and sim >= self.fuzzy_threshold),
            reverse=True,
        )
        taken: set[int] = set()
        out = []
        for quality, _, i, n, alias in scored:
            if taken.intersection(range(i, i + n)):
                continue
            taken.update(range(i, i + n))
            s, e = toks[i][1], toks[i + n - 1][2]
            out.append(self._mention(clean, s, e, self.candidates(alias), quality, False, True))
        return sorted(out, key=lambda m: m.start)

    def link_text(self, text: str) -> tuple[str, list[Mention]]:
        """``(clean_text, mentions)``; mention offsets index ``clean_text``."""
        clean, spans = strip_brackets(text)
        mentions = [self._link_span(clean, s, e) for s, e in spans]
        if not spans or not self.bracket_only:
            occupied = [(m.start, m.end) for m in mentions]
            for m in self._detect(clean):
                if not any(m.start < e and s < m.end for s, e in occupied):
                    mentions.append(m)
            mentions.sort(key=lambda m: m.start)
        return clean, mentions

    def link(self, text: str) -> list[Mention]:
        """Mentions with offsets into ``strip_brackets(text)[0]`` (== ``text`` without brackets)."""
        return self.link_text(text)[1]

    def topic(self, text: str) -> Mention | None:
        """The topic entity of ``text`` (:func:`topic_mention` of its mentions), or ``None``."""
        return topic_mention(self.link(text))


def topic_mention(mentions: Sequence[Mention]) -> Mention | None:
    """The one topic-entity rule: the linked mention that is bracketed, then most confident, then longest."""
    linked = [m for m in mentions if m.entity_idx >= 0]
    if not linked:
        return None
    return max(linked, key=lambda m: (m.bracketed, m.score, m.end - m.start))
