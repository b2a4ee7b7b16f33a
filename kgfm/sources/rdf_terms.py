"""How RDF terms and predicates become kgfm ids, names, types and properties.

Shared by the streaming (N-Triples/N-Quads) and whole-document readers in
:mod:`kgfm.sources.rdf`, so both map a statement the same way:

* IRIs -> the full IRI string; blank nodes -> :func:`bnode_id` (stable per file + label);
* name predicates (``rdfs:label``, ``skos:prefLabel``, ``schema:name``, ``foaf:name``) and
  description predicates (``rdfs:comment``, ``schema:description``, ``dcterms:description``,
  ``skos:definition``) with a literal object -> name / description, the best literal chosen
  by :func:`literal_rank` (English, then untagged, then other languages; ties by predicate
  order, then first seen);
* ``rdf:type`` -> a type given by :func:`local_name` of the class IRI;
* any other literal -> a property keyed by :func:`compact`;
* anything else -> a triple.
"""

from __future__ import annotations

import hashlib

from rdflib.term import BNode, Literal, Node, URIRef

RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"

_RDFS = "http://www.w3.org/2000/01/rdf-schema#"
_SKOS = "http://www.w3.org/2004/02/skos/core#"
_FOAF = "http://xmlns.com/foaf/0.1/"
_DCT = "http://purl.org/dc/terms/"
_DCE = "http://purl.org/dc/elements/1.1/"

#: Name predicates in order of preference (lower index wins a tie in language rank).
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

#: Prefixes used to compact property keys. Fixed, not taken from documents, so keys do not
#: depend on the syntax or on the prefixes an author happened to declare.
WELL_KNOWN_PREFIXES: dict[str, str] = {
    "http://www.w3.org/1999/02/22-rdf-syntax-ns#": "rdf",
    _RDFS: "rdfs",
    "http://www.w3.org/2002/07/owl#": "owl",
    "http://www.w3.org/2001/XMLSchema#": "xsd",
    "http://schema.org/": "schema",
    "https://schema.org/": "schema",
    _FOAF: "foaf",
    _DCT: "dcterms",
    _DCE: "dc",
    _SKOS: "skos",
    "http://www.wikidata.org/entity/": "wd",
    "http://www.wikidata.org/prop/direct/": "wdt",
    "http://dbpedia.org/ontology/": "dbo",
    "http://dbpedia.org/property/": "dbp",
}


def bnode_id(basename: str, label: str) -> str:
    """Stable entity id of a blank node: ``_:b`` + the first 16 hex digits of
    ``sha1(basename + NUL + label)``. The same file name and label give the same id in every run."""
    digest = hashlib.sha1(f"{basename}\x00{label}".encode("utf-8", "surrogatepass")).hexdigest()
    return "_:b" + digest[:16]


def local_name(iri: str) -> str:
    """The part after the last ``#``, ``/`` or ``:`` (``http://schema.org/Film`` -> ``Film``);
    the whole IRI when that part would be empty."""
    cut = max(iri.rfind("#"), iri.rfind("/"), iri.rfind(":"))
    tail = iri[cut + 1 :]
    return tail if tail else iri


def compact(iri: str, prefixes: dict[str, str]) -> str:
    """``prefix:local`` for the longest namespace of ``prefixes`` that ``iri`` starts with
    (and whose remainder has no ``/`` or ``#``), else :func:`local_name`."""
    best = ""
    for namespace in prefixes:
        if len(namespace) > len(best) and iri.startswith(namespace):
            rest = iri[len(namespace) :]
            if rest and "/" not in rest and "#" not in rest:
                best = namespace
    if best:
        return f"{prefixes[best]}:{iri[len(best):]}"
    return local_name(iri)


def literal_rank(literal: Literal, predicate_rank: int) -> tuple[int, int]:
    """Sort key of a name/description candidate: English (``en``, ``en-*``) first, then
    untagged, then other languages; then the predicate's preference."""
    lang = (literal.language or "").lower()
    if lang == "en" or lang.startswith("en-"):
        lang_rank = 0
    elif not lang:
        lang_rank = 1
    else:
        lang_rank = 2
    return (lang_rank, predicate_rank)


class TermMapper:
    """Turns rdflib terms into kgfm ids for one file.

    Args:
        basename: File name used in blank-node ids.
        prefixes: Namespace -> prefix map for property keys.
        bnode_labels: For whole-document parses, a map from rdflib's (random) blank node
            to a deterministic label (first-appearance ordinal); ``None`` to use the
            label as written (line formats).
    """

    def __init__(self, basename: str, prefixes: dict[str, str], bnode_labels: dict[BNode, str] | None = None):
        self.basename = basename
        self.prefixes = prefixes
        self.bnode_labels = bnode_labels
        self._bnode_cache: dict[str, str] = {}
        self._key_cache: dict[str, str] = {}

    def node(self, term: Node) -> str:
        """Entity id of an IRI or blank node."""
        if isinstance(term, BNode):
            label = self.bnode_labels.get(term, str(term)) if self.bnode_labels is not None else str(term)
            cached = self._bnode_cache.get(label)
            if cached is None:
                cached = self._bnode_cache[label] = bnode_id(self.basename, label)
            return cached
        return str(term)

    def prop_key(self, predicate: str) -> str:
        """Property key of a literal-valued predicate."""
        key = self._key_cache.get(predicate)
        if key is None:
            key = self._key_cache[predicate] = compact(predicate, self.prefixes)
        return key


def is_resource(term: Node) -> bool:
    return isinstance(term, (URIRef, BNode))


__all__ = [
    "DESCRIPTION_PREDICATES",
    "NAME_PREDICATES",
    "RDF_TYPE",
    "TermMapper",
    "WELL_KNOWN_PREFIXES",
    "bnode_id",
    "compact",
    "is_resource",
    "literal_rank",
    "local_name",
]
