"""Stage 1: streaming readers for RDF, delimited triple files and entity text files.

:func:`read_source` is the one entry point for triple files: it picks the reader from
the format (:func:`detect_format`) and yields :class:`Triple`, :class:`EntityInfo` and
:class:`Reject` records. :func:`read_entity_text` reads name/description side files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from kgfm.sources.delimited import read_delimited, read_delimited_batches
from kgfm.sources.entity_text import ENTITY_TEXT_KINDS, read_entity_text
from kgfm.sources.formats import DELIMITED_FORMATS, FORMATS, RDF_FORMATS, detect_format, open_text
from kgfm.sources.records import EntityInfo, Record, Reject, SourceError, Triple


def read_rdf(path: Path, fmt: str) -> Iterator[Record]:
    """:func:`kgfm.sources.rdf.read_rdf`, imported on first use (rdflib is slow to import)."""
    from kgfm.sources.rdf import read_rdf as _read_rdf

    return _read_rdf(path, fmt)


def read_source(path: Path, fmt: str | None = None) -> Iterator[Record]:
    """Stream the records of one triple file.

    Args:
        path: The file (plain or ``.gz``).
        fmt: A ``--format`` value; ``None`` detects it from the extension.

    Raises:
        SourceError: unknown format, missing or unreadable file (raised when called for
            format problems, on first iteration for I/O problems).
    """
    path = Path(path)
    fmt = detect_format(path, fmt)
    if fmt in DELIMITED_FORMATS:
        return read_delimited(path, fmt)  # type: ignore[arg-type]
    return read_rdf(path, fmt)


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
    "read_rdf",
    "read_source",
]
