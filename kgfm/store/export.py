"""Writing the stored graph back as RDF (``kgfm export``): N-Triples or N-Quads, streamed.

What is written, per entity and relationship (inverse of :mod:`kgfm.sources.rdf_terms`):

* every relationship -> ``<head> <predicate> <tail> [<graph>]``;
* every value object in an entity's ``props`` -> ``<id> <predicate> "lexical"[@lang|^^<dt>]``
  or, for ``{"@id": ...}``, ``<id> rdf:type <class>``, in its graph if it had one;
* a relationship to a value entity (``build-graph --value-entities``) -> the literal it stands for
  (``<film> <year> "1995"^^xsd:gYear``), so the source's statement comes back as it was;
* a display name or description that no literal of the source states (a name file, a TSV id
  taken as name) -> ``<id> rdfs:label "name"`` / ``<id> rdfs:comment "description"``. An RDF
  source's names come from its own literals, so its export adds nothing.

Entity ids that are absolute IRIs are written as they are; ``_:b…`` ids as blank nodes; any
other id (TSV/MetaQA strings such as ``/m/06rf7`` or ``Kismet``) and any non-IRI predicate
(``directed_by``) becomes ``<base><percent-encoded id>``, ``base`` defaulting to
:data:`DEFAULT_BASE`. Exporting a store built from RDF therefore reproduces that graph
(blank nodes up to renaming). ``nt`` merges named graphs into the default graph; ``nq`` keeps
them. Serialisation (escaping) is pyoxigraph's. The file appears atomically (temp + rename).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import quote

import pyoxigraph as ox

from kgfm.sources.rdf_terms import parse_value_id
from kgfm.store.base import GraphStore, StoreError

DEFAULT_BASE = "urn:kgfm:"
EXPORT_FORMATS = {"nt": ox.RdfFormat.N_TRIPLES, "nq": ox.RdfFormat.N_QUADS}
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
_RDF_TYPE = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
_RDFS_LABEL = ox.NamedNode("http://www.w3.org/2000/01/rdf-schema#label")
_RDFS_COMMENT = ox.NamedNode("http://www.w3.org/2000/01/rdf-schema#comment")


@dataclass
class ExportReport:
    path: str
    format: str
    statements: int = 0
    relationships: int = 0
    literals: int = 0
    names: int = 0  # rdfs:label / rdfs:comment for names and descriptions no literal of the source states
    minted: int = 0


class _Terms:
    def __init__(self, base: str, report: ExportReport) -> None:
        self.base = base
        self.report = report
        self._cache: dict[str, ox.NamedNode | ox.BlankNode] = {}

    def node(self, value: str) -> ox.NamedNode | ox.BlankNode:
        found = self._cache.get(value)
        if found is None:
            found = self._make(value)
            if len(self._cache) < 1_000_000:
                self._cache[value] = found
        return found

    def _make(self, value: str) -> ox.NamedNode | ox.BlankNode:
        if value.startswith("_:"):
            return ox.BlankNode(value[2:])
        if _SCHEME.match(value):
            try:
                return ox.NamedNode(value)
            except ValueError:
                pass
        self.report.minted += 1
        return ox.NamedNode(self.base + quote(value, safe=""))

    def obj(self, value: str) -> ox.NamedNode | ox.BlankNode | ox.Literal:
        """A relationship's tail: the literal a value entity stands for, else :meth:`node`."""
        literal = parse_value_id(value)
        if literal is None:
            return self.node(value)
        lexical, language, datatype = literal
        return ox.Literal(lexical, language=language) if language else ox.Literal(lexical, datatype=ox.NamedNode(datatype))

    def graph(self, name: str | None) -> ox.NamedNode | ox.BlankNode | ox.DefaultGraph:
        return self.node(name) if name else ox.DefaultGraph()

    def value(self, obj: dict[str, Any]) -> ox.NamedNode | ox.Literal:
        if "@id" in obj:
            return self.node(obj["@id"])
        if "@language" in obj:
            return ox.Literal(obj["@value"], language=obj["@language"])
        if "@type" in obj:
            return ox.Literal(obj["@value"], datatype=ox.NamedNode(obj["@type"]))
        return ox.Literal(obj["@value"])


def _quads(store: GraphStore, terms: _Terms, quads: bool, report: ExportReport) -> Iterator[ox.Quad | ox.Triple]:
    default = ox.DefaultGraph()
    for batch in store.iter_entity_statements():
        for entity in batch:
            if parse_value_id(entity.id) is not None:
                continue  # a value entity: written as the literal object of its relationships
            subject = terms.node(entity.id)
            for predicate, values in entity.props.items():
                p = _RDF_TYPE if predicate == _RDF_TYPE.value else terms.node(predicate)
                for obj in values:
                    report.literals += 1
                    o = terms.value(obj)
                    yield ox.Quad(subject, p, o, terms.graph(obj.get("graph"))) if quads else ox.Triple(subject, p, o)
            stated = {obj["@value"] for values in entity.props.values() for obj in values if "@value" in obj}
            for text, p in ((entity.name, _RDFS_LABEL), (entity.description, _RDFS_COMMENT)):
                if text and text not in stated:  # from a name file or the id, not from a literal of the source
                    report.names += 1
                    yield ox.Quad(subject, p, ox.Literal(text), default) if quads else ox.Triple(subject, p, ox.Literal(text))
    for batch in store.iter_relationships():
        for head, predicate, tail, graph in batch:
            report.relationships += 1
            s, p, o = terms.node(head), terms.node(predicate), terms.obj(tail)
            yield ox.Quad(s, p, o, terms.graph(graph) if graph else default) if quads else ox.Triple(s, p, o)


def export_rdf(store: GraphStore, path: Path, fmt: str = "nq", base: str = DEFAULT_BASE) -> ExportReport:
    """Write the whole stored graph to ``path`` as N-Triples (``nt``) or N-Quads (``nq``).

    Args:
        store: An open store.
        path: Output file (replaced atomically; its folder is created).
        fmt: ``"nt"`` or ``"nq"``.
        base: Namespace for ids and predicates that are not absolute IRIs.

    Raises:
        StoreError: unknown format, or ``base`` is not an absolute IRI.
    """
    if fmt not in EXPORT_FORMATS:
        raise StoreError(f"--format: expected one of {', '.join(EXPORT_FORMATS)}, got {fmt!r}")
    try:
        ox.NamedNode(base + "x")
    except ValueError as exc:
        raise StoreError(f"--base {base!r} is not an absolute IRI ({exc})") from None
    report = ExportReport(str(path), fmt)
    terms = _Terms(base, report)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as handle:
            ox.serialize(_quads(store, terms, fmt == "nq", report), handle, EXPORT_FORMATS[fmt])
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    report.statements = report.literals + report.names + report.relationships
    return report
