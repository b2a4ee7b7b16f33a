"""RDF readers (rdflib): N-Triples/N-Quads streamed line by line, other syntaxes parsed whole.

* ``nt`` / ``nquads``: each line is parsed on its own with rdflib's N-Triples term
  grammar; triples are yielded as they are read and a bad line becomes one
  :class:`Reject` with its line number while the rest of the file still loads. Graph
  names of quads are dropped. Literal-valued statements (names, types, properties) are
  merged per subject and yielded as one :class:`EntityInfo` per subject after the last
  line, exactly as for the whole-document formats, so the result does not depend on
  how a loader merges repeated records. Memory grows with the attribute statements only,
  never with the triples.
* ``turtle`` / ``trig`` / ``xml`` / ``json-ld``: the document is parsed whole by rdflib
  (memory grows with the file, roughly 1-2 KB per triple in rdflib's in-memory store).
  A syntax error yields a single :class:`Reject` carrying the line rdflib reports (0
  when it reports none) and no other records, since the document is unreliable.
  All triples come first, then one merged :class:`EntityInfo` per subject with attributes.

Term mapping is in :mod:`kgfm.sources.rdf_terms`. It ignores the prefixes a document
declares (property keys use a fixed table of well-known prefixes, else the local name), so
the same graph gives the same records in every syntax.
"""

from __future__ import annotations

import json
import logging
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator
from xml.sax import SAXParseException

from rdflib import Dataset, Graph
from rdflib.plugins.parsers.notation3 import BadSyntax
from rdflib.plugins.parsers.ntriples import W3CNTriplesParser, r_nodeid, r_tail, r_wspace
from rdflib.plugins.stores.memory import Memory
from rdflib.term import BNode, Literal, Node

from kgfm.sources.formats import READ_ERRORS, bad_utf8, clip, open_text, read_error, read_whole_text
from kgfm.sources.rdf_terms import (
    DESCRIPTION_PREDICATES,
    NAME_PREDICATES,
    RDF_TYPE,
    WELL_KNOWN_PREFIXES,
    TermMapper,
    literal_rank,
    local_name,
)
from kgfm.sources.records import EntityInfo, Record, Reject, SourceError, Triple

LINE_FORMATS = frozenset({"nt", "nquads"})
DOCUMENT_FORMATS = {"turtle": "turtle", "trig": "trig", "xml": "xml", "json-ld": "json-ld"}
_PROP_JOIN = "; "


# ---------------------------------------------------------------------------------------
# statement classification (shared)
# ---------------------------------------------------------------------------------------
@dataclass
class _Attrs:
    """Attributes collected for one subject."""

    name: str | None = None
    name_rank: tuple[int, int] | None = None
    description: str | None = None
    description_rank: tuple[int, int] | None = None
    types: list[str] = field(default_factory=list)
    props: dict[str, list[str]] = field(default_factory=dict)

    def offer_name(self, value: str, rank: tuple[int, int]) -> None:
        """Keep ``value`` if it ranks strictly better (ties: the first one seen stays)."""
        if self.name_rank is None or rank < self.name_rank:
            self.name, self.name_rank = value, rank

    def offer_description(self, value: str, rank: tuple[int, int]) -> None:
        if self.description_rank is None or rank < self.description_rank:
            self.description, self.description_rank = value, rank

    def to_info(self, entity_id: str) -> EntityInfo:
        return EntityInfo(
            id=entity_id,
            name=self.name,
            description=self.description,
            types=tuple(self.types),
            props={key: _PROP_JOIN.join(values) for key, values in self.props.items()},
        )


def _classify(
    s: Node, p: Node, o: Node, mapper: TermMapper, attrs: dict[str, _Attrs], source: str, line: int
) -> Triple | None:
    """Map one statement: attributes are merged into ``attrs`` (``None`` is returned),
    anything else comes back as a :class:`Triple`."""
    subject = mapper.node(s)
    predicate = str(p)
    if isinstance(o, Literal):
        value = str(o)
        acc = attrs.get(subject)
        if acc is None:
            acc = attrs[subject] = _Attrs()
        rank = NAME_PREDICATES.get(predicate)
        if rank is not None:
            acc.offer_name(value, literal_rank(o, rank))
            return None
        rank = DESCRIPTION_PREDICATES.get(predicate)
        if rank is not None:
            acc.offer_description(value, literal_rank(o, rank))
            return None
        key = mapper.prop_key(predicate)
        values = acc.props.setdefault(key, [])
        if value not in values:
            values.append(value)
        return None
    if predicate == RDF_TYPE and not isinstance(o, BNode):
        type_name = local_name(str(o))
        acc = attrs.get(subject)
        if acc is None:
            acc = attrs[subject] = _Attrs()
        if type_name not in acc.types:
            acc.types.append(type_name)
        return None
    return Triple(subject, predicate, mapper.node(o), source, line)


# ---------------------------------------------------------------------------------------
# N-Triples / N-Quads, line by line
# ---------------------------------------------------------------------------------------
class _LineParser(W3CNTriplesParser):
    """rdflib's N-Triples term grammar applied to one line; blank nodes keep their label."""

    __slots__ = ()

    def nodeid(self, bnode_context=None):  # type: ignore[override]
        if self.peek("_"):
            return BNode(self.eat(r_nodeid).group(1))
        return False

    def parse_line(self, text: str, quads: bool) -> tuple[Node, Node, Node] | None:
        """The statement on ``text``, ``None`` for blank/comment lines.

        Raises:
            ValueError: with a short reason when the line is not valid.
        """
        self.line = text
        self.eat(r_wspace)
        if not self.line or self.line.startswith("#"):
            return None
        step = "subject (expected <IRI> or _:label)"
        try:
            s = self.subject()
            self.eat(r_wspace)
            step = "predicate (expected <IRI>)"
            p = self.predicate()
            self.eat(r_wspace)
            step = "object (expected <IRI>, _:label or a literal)"
            o = self.object()
            self.eat(r_wspace)
            if quads and not self.peek("."):
                step = "graph name (expected <IRI> or _:label)"
                if not (self.uriref() or self.nodeid()):
                    raise ValueError(step)
            step = "statement end (expected ' .')"
            self.eat(r_tail)
        except Exception:  # rdflib raises ParseError, and ValueError/KeyError on bad escapes
            raise ValueError(f"bad {step}") from None
        if self.line:
            raise ValueError("trailing text after the final '.'")
        return s, p, o


def _read_lines(path: Path, fmt: str) -> Iterator[Record]:
    source = str(path)
    quads = fmt == "nquads"
    label = "N-Quads" if quads else "N-Triples"
    mapper = TermMapper(path.name, WELL_KNOWN_PREFIXES)
    attrs: dict[str, _Attrs] = {}
    parser = _LineParser()
    lineno = 0
    with open_text(path) as handle:
        try:
            for lineno, raw in enumerate(handle, 1):
                text = raw.rstrip("\r\n")
                if not raw.isascii() and bad_utf8(raw):
                    yield Reject(source, lineno, "invalid UTF-8 bytes", clip(raw))
                    continue
                try:
                    statement = parser.parse_line(text, quads)
                except ValueError as exc:
                    yield Reject(source, lineno, f"{label} syntax error: {exc}", clip(text))
                    continue
                if statement is None:
                    continue
                record = _classify(*statement, mapper, attrs, source, lineno)
                if isinstance(record, Triple):
                    yield record
        except READ_ERRORS as exc:
            raise read_error(path, exc, lineno + 1) from None
    for entity_id, acc in attrs.items():
        yield acc.to_info(entity_id)


# ---------------------------------------------------------------------------------------
# Turtle / TriG / RDF-XML / JSON-LD, whole document
# ---------------------------------------------------------------------------------------
class _OrderedMemory(Memory):
    """rdflib's in-memory store that also remembers first-insertion order of statements
    (its own iteration order follows a set, so it differs between runs)."""

    def __init__(self) -> None:
        super().__init__()
        self.order: list[tuple[Node, Node, Node]] = []
        self._seen: set[tuple[Node, Node, Node]] = set()

    def add(self, triple, context, quoted=False):  # type: ignore[override]
        super().add(triple, context, quoted)
        if not quoted and triple not in self._seen:
            self._seen.add(triple)
            self.order.append(triple)


_LINE_IN_MESSAGE = re.compile(r"\bline[: ]+(\d+)", re.IGNORECASE)


def _error_line(exc: BaseException) -> int:
    """The 1-based line an rdflib parse error points at, 0 if it gives none."""
    if isinstance(exc, BadSyntax):
        # rdflib's own line counter over-counts after backtracking; the character offset
        # into the (whole) document it keeps is exact.
        try:
            return exc._str.decode("utf-8", "replace")[: exc._i].count("\n") + 1
        except (AttributeError, TypeError):
            return int(exc.lines) + 1
    if isinstance(exc, SAXParseException):
        return int(exc.getLineNumber() or 0)
    if isinstance(exc, json.JSONDecodeError):
        return int(exc.lineno)
    match = _LINE_IN_MESSAGE.search(str(exc))
    return int(match.group(1)) if match else 0


def _error_reason(fmt: str, exc: BaseException) -> str:
    if isinstance(exc, BadSyntax):
        detail = exc._why  # the bare reason, without rdflib's multi-line context dump
    elif isinstance(exc, SAXParseException):
        detail = exc.getMessage()
    elif isinstance(exc, json.JSONDecodeError):
        detail = exc.msg
    else:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return f"{fmt} syntax error: {detail}"


def _remote_context(node: object) -> str | None:
    """The first remote context reference (a string ``@context`` or an ``@import``) in a JSON-LD tree."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "@context":
                for entry in value if isinstance(value, list) else [value]:
                    if isinstance(entry, str):
                        return entry
                    if isinstance(entry, dict) and isinstance(entry.get("@import"), str):
                        return entry["@import"]
            found = _remote_context(value)
            if found is not None:
                return found
    elif isinstance(node, list):
        for item in node:
            found = _remote_context(item)
            if found is not None:
                return found
    return None


def _jsonld_problem(text: str) -> tuple[int, str] | None:
    """``(line, reason)`` when the JSON-LD text is not JSON or needs a remote context
    (rdflib would fetch it over the network; kgfm reads offline)."""
    try:
        tree = json.loads(text)
    except json.JSONDecodeError as exc:
        return exc.lineno, f"json-ld syntax error: {exc.msg} (column {exc.colno})"
    remote = _remote_context(tree)
    if remote is not None:
        return 0, f"json-ld uses the remote context {remote!r}, which is not fetched (no network); inline the context object"
    return None


def _read_document(path: Path, fmt: str) -> Iterator[Record]:
    source = str(path)
    text, bad_line = read_whole_text(path)
    if bad_line:
        yield Reject(source, bad_line, "invalid UTF-8 bytes")
        return
    if fmt == "json-ld":
        problem = _jsonld_problem(text)
        if problem is not None:
            line, reason = problem
            yield Reject(source, line, reason)
            return
    store = _OrderedMemory()
    graph: Graph = Dataset(store=store, default_union=True) if fmt in ("trig", "json-ld") else Graph(store=store)
    rdflib_log = logging.getLogger("rdflib")
    previous = rdflib_log.level
    rdflib_log.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # rdflib's own ConjunctiveGraph use
            graph.parse(data=text, format=DOCUMENT_FORMATS[fmt], publicID=f"file:///{path.name}")
    except Exception as exc:  # rdflib surfaces syntax errors as many exception types
        line = _error_line(exc)
        lines = text.split("\n")
        shown = clip(lines[line - 1]) if 0 < line <= len(lines) else ""
        yield Reject(source, line, _error_reason(fmt, exc), shown)
        return
    finally:
        rdflib_log.setLevel(previous)
    del text
    labels: dict[BNode, str] = {}
    for triple in store.order:
        for term in triple:
            if isinstance(term, BNode) and term not in labels:
                labels[term] = f"#{len(labels)}"
    mapper = TermMapper(path.name, WELL_KNOWN_PREFIXES, labels)
    attrs: dict[str, _Attrs] = {}
    for s, p, o in store.order:
        record = _classify(s, p, o, mapper, attrs, source, 0)
        if record is not None:
            yield record
    for entity_id, acc in attrs.items():
        yield acc.to_info(entity_id)


def read_rdf(path: Path, fmt: str) -> Iterator[Record]:
    """Stream records from an RDF file (plain or ``.gz``).

    Args:
        path: The file.
        fmt: ``"nt"``, ``"nquads"`` (streamed per line) or ``"turtle"``, ``"trig"``,
            ``"xml"``, ``"json-ld"`` (parsed whole).

    Raises:
        SourceError: the file cannot be opened or read.
    """
    path = Path(path)
    if fmt in LINE_FORMATS:
        return _read_lines(path, fmt)
    if fmt in DOCUMENT_FORMATS:
        return _read_document(path, fmt)
    raise SourceError(str(path), f"read_rdf cannot read format {fmt!r}")


__all__ = ["read_rdf"]
