"""Stage 1: streaming readers for RDF, delimited triple files and entity text files.

Two entry points for triple files, both picking the reader from the format
(:func:`detect_format`):

* :func:`read_source` yields :class:`Triple`, :class:`EntityInfo` and :class:`Reject`
  records (what ``build-graph`` loads; rejects are data, the loader applies ``--on-error``);
* :func:`read_triples` yields plain ``(head, relation, tail)`` tuples and raises
  :class:`SourceError` (``file:line``) at the first bad line -- for split files read by
  training and evaluation code (link-prediction splits, corpora).

:func:`read_entity_text` reads name/description side files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from kgfm.sources.delimited import read_delimited, read_delimited_batches
from kgfm.sources.entity_text import ENTITY_TEXT_KINDS, read_entity_text
from kgfm.sources.formats import DELIMITED_FORMATS, FORMATS, RDF_FORMATS, detect_format, open_text
from kgfm.sources.rdf_terms import RdfOptions
from kgfm.sources.records import EntityInfo, Record, Reject, SourceError, Triple


def read_rdf(path: Path, fmt: str, base: str | None = None, options: RdfOptions | None = None) -> Iterator[Record]:
    """:func:`kgfm.sources.rdf.read_rdf`, imported on first use."""
    from kgfm.sources.rdf import read_rdf as _read_rdf

    return _read_rdf(path, fmt, base, options)


def read_source(path: Path, fmt: str | None = None, base: str | None = None,
                options: RdfOptions | None = None) -> Iterator[Record]:
    """Stream the records of one triple file.

    Args:
        path: The file (plain or ``.gz``).
        fmt: A ``--format`` value; ``None`` detects it from the extension.
        base: RDF only: base IRI for relative references (default: the file's absolute IRI).
        options: RDF only: literals that become value entities (:class:`~kgfm.sources.rdf_terms.RdfOptions`).

    Raises:
        SourceError: unknown format, missing or unreadable file (raised when called for
            format problems, on first iteration for I/O problems).
    """
    path = Path(path)
    fmt = detect_format(path, fmt)
    if fmt in DELIMITED_FORMATS:
        return read_delimited(path, fmt)  # type: ignore[arg-type]
    return read_rdf(path, fmt, base, options)


def read_triples(path: Path, fmt: str | None = None) -> Iterator[tuple[str, str, str]]:
    """Every ``(head, relation, tail)`` of a triple file, in file order.

    Delimited files (TSV, CSV, MetaQA pipe; ``.txt`` sniffed) give their rows; RDF files give
    their edges (literal-valued statements are attributes, not triples, and are skipped).

    Args:
        path: The file (plain or ``.gz``).
        fmt: A ``--format`` value; ``None`` detects it from the extension.

    Raises:
        SourceError: missing/unreadable file, unknown format, or the first bad line
            (``file:line: reason``).
    """
    path = Path(path)
    fmt = detect_format(path, fmt)
    if fmt in DELIMITED_FORMATS:
        for rows, rejects in read_delimited_batches(path, fmt):  # type: ignore[arg-type]
            if rejects:
                first = rejects[0]
                raise SourceError(first.source, first.reason, first.line)
            for h, r, t, _line in rows:
                yield h, r, t
        return
    for record in read_rdf(path, fmt):
        if isinstance(record, Triple):
            yield record.head, record.relation, record.tail
        elif isinstance(record, Reject):
            raise SourceError(record.source, record.reason, record.line, record.column)


__all__ = [
    "DELIMITED_FORMATS",
    "ENTITY_TEXT_KINDS",
    "FORMATS",
    "RDF_FORMATS",
    "EntityInfo",
    "Record",
    "Reject",
    "SourceError",
    "Triple",
    "detect_format",
    "open_text",
    "read_delimited",
    "read_delimited_batches",
    "read_entity_text",
    "RdfOptions",
    "read_rdf",
    "read_source",
    "read_triples",
]
