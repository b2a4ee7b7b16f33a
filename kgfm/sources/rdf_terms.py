"""How RDF statements become kgfm triples and entity attributes (shared by every RDF reader).

* IRIs -> the full (absolute, resolved) IRI string; blank nodes -> :func:`bnode_id`, stable
  per document IRI and first-appearance ordinal, so ids never depend on a parser's random labels;
* a statement whose object is a literal -> a value object in the subject's ``props``
  (predicate IRI -> ``[{"@value", "@language"|"@type", "graph"}...]``), lossless: ``"o"``,
  ``"o"^^ex:dt`` and ``"o"@en`` stay three values;
* ``rdf:type`` with an IRI object -> ``{"@id": class}`` in ``props`` and the class's
  :func:`local_name` in ``types`` (not an edge: classes are not graph neighbours);
* anything else (IRI or blank-node object) -> a :class:`~kgfm.sources.records.Triple`;
* with :class:`RdfOptions` ``values`` (``build-graph --value-entities``), a literal of a chosen
  predicate other than a name or description -> instead a triple to a *value entity* whose id is
  the literal's N-Triples form (:func:`value_id`: ``"1995"^^<http://www.w3.org/2001/XMLSchema#gYear>``),
  named by its lexical form and typed by its datatype's local name, so questions, link prediction
  and QA can use the value; ``kgfm export`` writes it back as the literal (:func:`parse_value_id`).

Names and descriptions are literals of :data:`NAME_PREDICATES` / :data:`DESCRIPTION_PREDICATES`.
Every language keeps its best one (``names`` / ``descriptions``: language tag -> text, ``""``
untagged). The single ``name`` used for display and entity linking is chosen by
:func:`literal_rank`: English (``en``, ``en-*``) first, then untagged, then other languages;
within a language the predicate order ``skos:prefLabel`` > ``rdfs:label`` > ``schema:name`` >
``foaf:name``; ties go to the first seen.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field

from kgfm.sources.records import EntityInfo, Triple, ValueObject

RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
RDF_LANG_STRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"

_RDFS = "http://www.w3.org/2000/01/rdf-schema#"
_SKOS = "http://www.w3.org/2004/02/skos/core#"
_FOAF = "http://xmlns.com/foaf/0.1/"
_DCT = "http://purl.org/dc/terms/"
_DCE = "http://purl.org/dc/elements/1.1/"

#: Name predicates in order of preference (lower wins a tie in language rank).
NAME_PREDICATES: dict[str, int] = {
    _SKOS + "prefLabel": 0,
    _RDFS + "label": 1,
    "http://schema.org/name": 2,
    "https://schema.org/name": 2,
    _FOAF + "name": 3,
}

#: Description predicates in order of preference.
DESCRIPTION_PREDICATES: dict[str, int] = {
    _SKOS + "definition": 0,
    "http://schema.org/description": 1,
    "https://schema.org/description": 1,
    _DCT + "description": 2,
    _DCE + "description": 2,
    _RDFS + "comment": 3,
}


@dataclass
class RdfOptions:
    """How an RDF source's literals are read.

    Args:
        values: Predicates (IRIs or local names; ``"all"``: every one) whose literal objects become
            value entities instead of properties; names and descriptions never do.
        unused: Filled while reading: literal statements per predicate that stayed properties only
            (not names, descriptions or types), for the build's note.
    """

    values: frozenset[str] = frozenset()
    unused: Counter = field(default_factory=Counter)

    def makes_value(self, predicate: str) -> bool:
        return bool(self.values) and ("all" in self.values or predicate in self.values
                                      or local_name(predicate) in self.values)


_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r"}
_UNESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f"}
_VALUE_ID = re.compile(r'"((?:[^"\\]|\\.)*)"(?:@([A-Za-z]+(?:-[A-Za-z0-9]+)*)|\^\^<([^<>"{}|^`\\\s]+)>)?', re.S)


def value_id(lexical: str, language: str, datatype: str) -> str:
    """The entity id of a literal made a value entity: its N-Triples form (``"Heat"@en``, ``"7"^^<…#integer>``,
    ``"plain"``)."""
    body = '"' + "".join(_ESCAPES.get(ch, ch) for ch in lexical) + '"'
    if language:
        return f"{body}@{language}"
    return body if datatype in ("", XSD_STRING) else f"{body}^^<{datatype}>"


def parse_value_id(entity_id: str) -> tuple[str, str, str] | None:
    """``(lexical, language, datatype)`` of a :func:`value_id`, ``None`` for any other id."""
    if not entity_id.startswith('"'):
        return None
    m = _VALUE_ID.fullmatch(entity_id)
    if m is None:
        return None
    lexical = re.sub(r"\\(.)", lambda e: _UNESCAPES.get(e.group(1), e.group(1)), m.group(1), flags=re.S)
    return lexical, m.group(2) or "", m.group(3) or (RDF_LANG_STRING if m.group(2) else XSD_STRING)


def bnode_id(document: str, ordinal: int) -> str:
    """Stable entity id of a blank node: ``_:b`` + 16 hex digits of ``sha1(document NUL ordinal)``.

    Args:
        document: The document's base IRI (its absolute file IRI, or ``--base``).
        ordinal: 0-based order of the blank node's first appearance in the document.
    """
    digest = hashlib.sha1(f"{document}\x00{ordinal}".encode("utf-8", "surrogatepass")).hexdigest()
    return "_:b" + digest[:16]


def local_name(iri: str) -> str:
    """The part after the last ``#``, ``/`` or ``:`` (``http://schema.org/Film`` -> ``Film``);
    the whole IRI when that part would be empty."""
    cut = max(iri.rfind("#"), iri.rfind("/"), iri.rfind(":"))
    tail = iri[cut + 1 :]
    return tail if tail else iri


def literal_rank(language: str, predicate_rank: int) -> tuple[int, int]:
    """Sort key of a name/description candidate (lower is better): English first, then
    untagged, then other languages; then the predicate's preference."""
    lang = language.lower()
    if lang == "en" or lang.startswith("en-"):
        lang_rank = 0
    elif not lang:
        lang_rank = 1
    else:
        lang_rank = 2
    return (lang_rank, predicate_rank)


@dataclass
class _Attrs:
    """Attributes collected for one subject."""

    name: tuple[tuple[int, int], str] | None = None
    description: tuple[tuple[int, int], str] | None = None
    names: dict[str, tuple[int, str]] = field(default_factory=dict)
    descriptions: dict[str, tuple[int, str]] = field(default_factory=dict)
    types: list[str] = field(default_factory=list)
    props: dict[str, list[ValueObject]] = field(default_factory=dict)

    def add(self, predicate: str, value: ValueObject) -> None:
        values = self.props.setdefault(predicate, [])
        if value not in values:
            values.append(value)

    def to_info(self, entity_id: str) -> EntityInfo:
        return EntityInfo(
            id=entity_id,
            name=self.name[1] if self.name else None,
            description=self.description[1] if self.description else None,
            types=tuple(self.types),
            props=self.props,
            names={lang: text for lang, (_r, text) in self.names.items()},
            descriptions={lang: text for lang, (_r, text) in self.descriptions.items()},
        )


def _offer(best: tuple[tuple[int, int], str] | None, per_lang: dict[str, tuple[int, str]],
           text: str, language: str, rank: int) -> tuple[tuple[int, int], str]:
    old = per_lang.get(language)
    if old is None or rank < old[0]:
        per_lang[language] = (rank, text)
    key = literal_rank(language, rank)
    return (key, text) if best is None or key < best[0] else best


class StatementMapper:
    """Maps one document's statements; literal-valued ones accumulate per subject.

    Terms arrive already split into plain values (see :meth:`add`), so any parser can feed it.

    Args:
        source: The file path (for records).
        document: The document's base IRI (blank-node ids are derived from it).
    """

    def __init__(self, source: str, document: str, options: RdfOptions | None = None) -> None:
        self.source = source
        self.document = document
        self.options = options or RdfOptions()
        self.attrs: dict[str, _Attrs] = {}
        self.values: dict[str, EntityInfo] = {}  # value entities, first seen first
        self._bnodes: dict[str, str] = {}

    def bnode(self, label: str) -> str:
        """Entity id of the blank node labelled ``label`` in this document."""
        found = self._bnodes.get(label)
        if found is None:
            found = self._bnodes[label] = bnode_id(self.document, len(self._bnodes))
        return found

    def add(self, subject: str, predicate: str, obj: str, literal: tuple[str, str] | None, graph: str,
            line: int = 0) -> Triple | None:
        """Map one statement; returns a :class:`Triple`, or ``None`` when it became an attribute.

        Args:
            subject: Subject entity id (IRI or mapped blank node).
            predicate: Predicate IRI.
            obj: Object entity id, or the literal's lexical form when ``literal`` is given.
            literal: ``(language, datatype)`` of a literal object, ``None`` for IRIs/blank nodes.
            graph: Graph name id, ``""`` for the default graph.
            line: Line of the statement (0 when unknown).
        """
        if literal is None:
            if predicate == RDF_TYPE and not obj.startswith("_:"):
                acc = self._acc(subject)
                value: ValueObject = {"@id": obj}
                if graph:
                    value["graph"] = graph
                acc.add(predicate, value)
                type_name = local_name(obj)
                if type_name not in acc.types:
                    acc.types.append(type_name)
                return None
            return Triple(subject, predicate, obj, self.source, line, graph)
        language, datatype = literal
        plain = datatype in (XSD_STRING, RDF_LANG_STRING)
        if not (plain and (predicate in NAME_PREDICATES or predicate in DESCRIPTION_PREDICATES)):
            if self.options.makes_value(predicate):
                return self._value_triple(subject, predicate, obj, language, datatype, graph, line)
            self.options.unused[predicate] += 1
        value = {"@value": obj}
        if language:
            value["@language"] = language
        elif datatype != XSD_STRING:
            value["@type"] = datatype
        if graph:
            value["graph"] = graph
        acc = self._acc(subject)
        acc.add(predicate, value)
        if plain:
            rank = NAME_PREDICATES.get(predicate)
            if rank is not None:
                acc.name = _offer(acc.name, acc.names, obj, language, rank)
            rank = DESCRIPTION_PREDICATES.get(predicate)
            if rank is not None:
                acc.description = _offer(acc.description, acc.descriptions, obj, language, rank)
        return None

    def _value_triple(self, subject: str, predicate: str, lexical: str, language: str, datatype: str, graph: str,
                      line: int) -> Triple:
        entity_id = value_id(lexical, language, datatype)
        if entity_id not in self.values:
            kind = "langString" if language else local_name(datatype)
            self.values[entity_id] = EntityInfo(id=entity_id, name=lexical, types=(kind,))
        return Triple(subject, predicate, entity_id, self.source, line, graph)

    def _acc(self, subject: str) -> _Attrs:
        acc = self.attrs.get(subject)
        if acc is None:
            acc = self.attrs[subject] = _Attrs()
        return acc

    def infos(self) -> list[EntityInfo]:
        """One merged :class:`EntityInfo` per subject with attributes, first seen first."""
        return [*self.values.values(), *(acc.to_info(entity_id) for entity_id, acc in self.attrs.items())]


__all__ = [
    "DESCRIPTION_PREDICATES",
    "NAME_PREDICATES",
    "RDF_TYPE",
    "RdfOptions",
    "StatementMapper",
    "XSD_STRING",
    "bnode_id",
    "literal_rank",
    "local_name",
    "parse_value_id",
    "value_id",
]
