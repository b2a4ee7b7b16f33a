"""RDF readers: pyoxigraph (Oxigraph's strict, streaming Rust parsers) for Turtle, TriG,
N-Triples, N-Quads and RDF/XML; rdflib for JSON-LD.

Every syntax streams: statements are yielded as they are parsed, memory grows with the
literal-valued statements only (merged per subject and yielded as one
:class:`~kgfm.sources.records.EntityInfo` each after the last statement), never with the edges.
The mapping of statements to triples and attributes is :class:`kgfm.sources.rdf_terms.StatementMapper`.

* Relative IRIs resolve against the document's absolute IRI: ``--base`` if given, else the
  file's own ``file:///abs/path`` IRI (two files with one name in different folders never collide).
* Parsing is strict (W3C RDF 1.1: the official suites pass 992/992, ``tests/w3c``). A syntax
  error becomes one :class:`~kgfm.sources.records.Reject` with ``file:line:column``
  (RDF/XML: the line the parser had reached). N-Triples/N-Quads are line based: a chunk
  holding an error is re-parsed line by line, so exactly the bad lines are rejected and every
  other line loads (``--on-error skip``); in the other syntaxes the document after an error is
  unreliable, so reading stops there (what came before it is kept).
* A read failure mid-file (truncated ``.gz``) ends the stream with a Reject naming the line.
"""

from __future__ import annotations

import gzip
import json
import logging
import re
import warnings
from pathlib import Path
from typing import IO, Iterator

import pyoxigraph as ox

from kgfm.sources.formats import READ_ERRORS, clip, read_whole_text, truncated
from kgfm.sources.rdf_terms import RDF_LANG_STRING, XSD_STRING, RdfOptions, StatementMapper
from kgfm.sources.records import Record, Reject, SourceError, Triple

OXIGRAPH_FORMATS: dict[str, ox.RdfFormat] = {
    "turtle": ox.RdfFormat.TURTLE,
    "trig": ox.RdfFormat.TRIG,
    "nt": ox.RdfFormat.N_TRIPLES,
    "nquads": ox.RdfFormat.N_QUADS,
    "xml": ox.RdfFormat.RDF_XML,
}
LINE_FORMATS = frozenset({"nt", "nquads"})
_LABELS = {"turtle": "Turtle", "trig": "TriG", "nt": "N-Triples", "nquads": "N-Quads", "xml": "RDF/XML", "json-ld": "JSON-LD"}
_POSITION = re.compile(r"^Parser error (?:at|on|between) line .*?: ")
_CHUNK = 1 << 16
_LINES = 8192


def document_iri(path: Path, base: str | None = None) -> str:
    """The IRI relative references in ``path`` resolve against: ``base``, else the file's absolute IRI."""
    return base if base else Path(path).resolve().as_uri()


class _Tracking:
    """A binary reader that remembers the last two chunks it handed out, to name the line
    (and show the text) of a parse error. ``per_line`` hands out one line per read, so the
    count of lines read is the parser's position (RDF/XML errors carry no line)."""

    def __init__(self, raw: IO[bytes], per_line: bool) -> None:
        self.raw = raw
        self.per_line = per_line
        self.before = 0  # newlines before ``prev``
        self.prev = b""
        self.cur = b""
        self.lines = 0

    def read(self, size: int = -1) -> bytes:
        data = self.raw.readline() if self.per_line else self.raw.read(_CHUNK if size is None or size < 0 else min(size, _CHUNK))
        self.before += self.prev.count(b"\n")
        self.prev, self.cur = self.cur, data
        if data:
            self.lines = self.before + self.prev.count(b"\n") + data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
        return data

    def line_text(self, line: int) -> str:
        """The text of 1-based ``line`` if it is still in the window, else ``""``."""
        rows = (self.prev + self.cur).split(b"\n")
        i = line - self.before - 1
        return clip(rows[i].decode("utf-8", "replace")) if 0 <= i < len(rows) else ""

    def close(self) -> None:
        self.raw.close()


def _open_binary(path: Path) -> IO[bytes]:
    if not path.exists():
        raise SourceError(str(path), "file not found")
    if path.is_dir():
        raise SourceError(str(path), "is a directory, expected a file")
    try:
        return gzip.open(path, "rb") if path.name.lower().endswith(".gz") else open(path, "rb")
    except OSError as exc:
        raise SourceError(str(path), f"cannot open: {exc.strerror or exc}") from None


def _syntax_reject(source: str, fmt: str, exc: SyntaxError, reader: _Tracking) -> Reject:
    message = str(exc.msg if exc.msg else exc)
    line, column = int(exc.lineno or 0), int(exc.offset or 0)
    if not line and fmt == "xml":
        line = reader.lines
    detail = _POSITION.sub("", message.splitlines()[0] if message else "syntax error")
    return Reject(source, line, f"{_LABELS[fmt]} syntax error: {detail}", reader.line_text(line) if line else "", column)


XML_LITERAL = "http://www.w3.org/1999/02/22-rdf-syntax-ns#XMLLiteral"


def _c14n(fragment: str) -> str:
    """RDF/XML ``parseType="Literal"`` content in canonical form (the RDF/XML spec asks for exclusive
    canonicalisation: only namespace declarations the fragment uses are kept); unchanged if not XML."""
    if "<" not in fragment:
        return fragment
    import xml.etree.ElementTree as ET

    try:
        return ET.canonicalize(f"<kgfm-wrap>{fragment}</kgfm-wrap>")[len("<kgfm-wrap>") : -len("</kgfm-wrap>")]
    except ET.ParseError:
        return fragment


def _term(term: object, mapper: StatementMapper) -> str:
    if isinstance(term, ox.NamedNode):
        return term.value
    if isinstance(term, ox.BlankNode):
        return mapper.bnode(term.value)
    raise ValueError("RDF 1.2 triple terms are not supported")


def _emit(q, mapper: StatementMapper, fmt: str) -> Triple | None:
    """Map one pyoxigraph triple/quad (subject, object, graph: blank-node ordinals in that order)."""
    s, o = q.subject, q.object
    subject = s.value if isinstance(s, ox.NamedNode) else _term(s, mapper)
    if isinstance(o, ox.Literal):
        datatype = o.datatype.value
        value = _c14n(o.value) if datatype == XML_LITERAL and fmt == "xml" else o.value
        obj, literal = value, (o.language or "", datatype)
    else:
        obj, literal = _term(o, mapper), None
    g = getattr(q, "graph_name", None)
    graph = "" if g is None or isinstance(g, ox.DefaultGraph) else _term(g, mapper)
    return mapper.add(subject, q.predicate.value, obj, literal, graph)


def _read_document(path: Path, fmt: str, base: str | None, options: RdfOptions | None) -> Iterator[Record]:
    """Turtle, TriG, RDF/XML: one streaming parse; the first error ends the document."""
    source = str(path)
    document = document_iri(path, base)
    mapper = StatementMapper(source, document, options)
    reader = _Tracking(_open_binary(path), per_line=fmt == "xml")
    try:
        statements = ox.parse(reader, OXIGRAPH_FORMATS[fmt], base_iri=document)
        while True:
            try:
                q = next(statements)
            except StopIteration:
                break
            except SyntaxError as exc:
                yield _syntax_reject(source, fmt, exc, reader)
                break
            except READ_ERRORS as exc:
                yield truncated(path, exc, reader.lines + 1)
                break
            record = _emit(q, mapper, fmt)
            if record is not None:
                yield record
    except ValueError as exc:
        yield Reject(source, reader.lines, f"{_LABELS[fmt]}: {exc}")
    finally:
        reader.close()
    yield from mapper.infos()


def _read_lines(path: Path, fmt: str, base: str | None, options: RdfOptions | None) -> Iterator[Record]:
    """N-Triples, N-Quads: parsed in chunks of :data:`_LINES` lines; a chunk with an error is
    parsed again line by line, so exactly the bad lines become rejects and every good line loads."""
    source = str(path)
    document = document_iri(path, base)
    mapper = StatementMapper(source, document, options)
    oxfmt = OXIGRAPH_FORMATS[fmt]
    handle = _open_binary(path)
    lineno = 0
    try:
        while True:
            lines: list[bytes] = []
            broken: BaseException | None = None
            try:
                for raw in handle:
                    lines.append(raw)
                    if len(lines) >= _LINES:
                        break
            except READ_ERRORS as exc:
                broken = exc
            try:
                parsed: list | None = list(ox.parse(b"".join(lines), oxfmt, base_iri=document))
            except SyntaxError:
                parsed = None
            if parsed is not None:
                for q in parsed:
                    record = _emit(q, mapper, fmt)
                    if record is not None:
                        yield record
            else:
                yield from _line_by_line(lines, lineno, mapper, fmt, document)
            lineno += len(lines)
            if broken is not None:
                yield truncated(path, broken, lineno + 1)
                break
            if len(lines) < _LINES:
                break
    except ValueError as exc:
        yield Reject(source, lineno, f"{_LABELS[fmt]}: {exc}")
    finally:
        handle.close()
    yield from mapper.infos()


def _line_by_line(lines: list[bytes], first: int, mapper: StatementMapper, fmt: str, document: str) -> Iterator[Record]:
    oxfmt = OXIGRAPH_FORMATS[fmt]
    for i, raw in enumerate(lines, first + 1):
        try:
            parsed = list(ox.parse(raw, oxfmt, base_iri=document))
        except SyntaxError as exc:
            detail = _POSITION.sub("", str(exc.msg or exc).splitlines()[0])
            yield Reject(mapper.source, i, f"{_LABELS[fmt]} syntax error: {detail}",
                         clip(raw.decode("utf-8", "replace")), int(exc.offset or 0))
            continue
        for q in parsed:
            record = _emit(q, mapper, fmt)
            if record is not None:
                yield record


# ---------------------------------------------------------------------------------------
# JSON-LD (rdflib: pyoxigraph's JSON-LD reader is newer; rdflib's handles JSON-LD 1.1 contexts)
# ---------------------------------------------------------------------------------------
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


def _read_jsonld(path: Path, base: str | None, options: RdfOptions | None) -> Iterator[Record]:
    from rdflib import BNode, Dataset, Literal

    source = str(path)
    text, bad_line = read_whole_text(path)
    if bad_line:
        yield Reject(source, bad_line, "invalid UTF-8 bytes")
        return
    try:
        tree = json.loads(text)
    except json.JSONDecodeError as exc:
        yield Reject(source, exc.lineno, f"JSON-LD syntax error: {exc.msg}", column=exc.colno)
        return
    remote = _remote_context(tree)
    if remote is not None:
        yield Reject(source, 0, f"JSON-LD uses the remote context {remote!r}, which is not fetched (no network); inline the context object")
        return
    document = document_iri(path, base)
    store = _ordered_memory()
    dataset = Dataset(store=store)
    rdflib_log = logging.getLogger("rdflib")
    previous = rdflib_log.level
    rdflib_log.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            dataset.parse(data=text, format="json-ld", publicID=document)
    except Exception as exc:  # rdflib surfaces JSON-LD problems as many exception types
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        yield Reject(source, 0, f"JSON-LD error: {detail}")
        return
    finally:
        rdflib_log.setLevel(previous)
    mapper = StatementMapper(source, document, options)

    def node(term) -> str:
        return mapper.bnode(str(term)) if isinstance(term, BNode) else str(term)

    for (s, p, o), graph_id in store.order:
        graph = "" if graph_id is None or str(graph_id) == _RDFLIB_DEFAULT else node(graph_id)
        if isinstance(o, Literal):
            datatype = str(o.datatype) if o.datatype else (RDF_LANG_STRING if o.language else XSD_STRING)
            record = mapper.add(node(s), str(p), str(o), (o.language or "", datatype), graph)
        else:
            record = mapper.add(node(s), str(p), node(o), None, graph)
        if isinstance(record, Triple):
            yield record
    yield from mapper.infos()


_RDFLIB_DEFAULT = "urn:x-rdflib:default"


def _ordered_memory():
    """rdflib's in-memory store that also remembers first-insertion order of statements
    (its own iteration follows hash order, which differs between runs)."""
    from rdflib.plugins.stores.memory import Memory

    class OrderedMemory(Memory):
        def __init__(self) -> None:
            super().__init__()
            self.order: list = []
            self._seen: set = set()

        def add(self, triple, context, quoted=False):  # type: ignore[override]
            super().add(triple, context, quoted)
            key = (triple, getattr(context, "identifier", context))
            if not quoted and key not in self._seen:
                self._seen.add(key)
                self.order.append(key)

    return OrderedMemory()


def read_rdf(path: Path, fmt: str, base: str | None = None, options: RdfOptions | None = None) -> Iterator[Record]:
    """Stream records from an RDF file (plain or ``.gz``).

    Args:
        path: The file.
        fmt: ``"turtle"``, ``"trig"``, ``"nt"``, ``"nquads"``, ``"xml"`` or ``"json-ld"``.
        base: Base IRI for relative references (default: the file's absolute ``file:`` IRI).
        options: Which literals become value entities; counts the ones that stay properties.

    Raises:
        SourceError: the file is missing, a directory, or the format is not RDF.
    """
    path = Path(path)
    if fmt in OXIGRAPH_FORMATS:
        _open_binary(path).close()  # missing/unreadable: raise now, not on first iteration
        return _read_lines(path, fmt, base, options) if fmt in LINE_FORMATS else _read_document(path, fmt, base, options)
    if fmt == "json-ld":
        return _read_jsonld(path, base, options)
    raise SourceError(str(path), f"read_rdf cannot read format {fmt!r}")


__all__ = ["OXIGRAPH_FORMATS", "document_iri", "read_rdf"]
