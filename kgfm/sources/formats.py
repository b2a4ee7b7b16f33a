"""Which reader a file needs, and how to open it as text.

:func:`detect_format` maps a file name (``.gz`` stripped first) to one of
:data:`FORMATS`; :func:`open_text` opens plain or gzipped UTF-8 text so that invalid
bytes survive as lone surrogates (``surrogateescape``) instead of raising mid-stream.
Readers call :func:`bad_utf8` on non-ASCII lines to turn those into a
:class:`~kgfm.sources.records.Reject` naming the line.
"""

from __future__ import annotations

import gzip
import io
import zlib
from pathlib import Path
from typing import TextIO

from kgfm.sources.records import SourceError

#: Canonical ``--format`` values, in the order shown to users.
FORMATS: tuple[str, ...] = ("turtle", "nt", "nquads", "trig", "xml", "json-ld", "tsv", "csv", "pipe")

RDF_FORMATS: frozenset[str] = frozenset({"turtle", "nt", "nquads", "trig", "xml", "json-ld"})
DELIMITED_FORMATS: frozenset[str] = frozenset({"tsv", "csv", "pipe"})

_BY_SUFFIX: dict[str, str] = {
    ".ttl": "turtle",
    ".nt": "nt",
    ".nq": "nquads",
    ".trig": "trig",
    ".rdf": "xml",
    ".owl": "xml",
    ".xml": "xml",
    ".jsonld": "json-ld",
    ".json-ld": "json-ld",
    ".tsv": "tsv",
    ".txt": "tsv",
    ".csv": "csv",
}

# Spellings accepted for ``--format`` besides the canonical names.
_ALIASES: dict[str, str] = {
    "ttl": "turtle",
    "n3": "turtle",
    "ntriples": "nt",
    "n-triples": "nt",
    "nq": "nquads",
    "n-quads": "nquads",
    "rdf": "xml",
    "rdfxml": "xml",
    "rdf-xml": "xml",
    "rdf/xml": "xml",
    "owl": "xml",
    "jsonld": "json-ld",
    "json_ld": "json-ld",
    "tab": "tsv",
    "metaqa": "pipe",
}

#: Longest raw text a Reject carries.
MAX_REJECT_TEXT = 200


def _valid_list() -> str:
    return ", ".join(FORMATS)


def normalize_format(name: str, source: str = "--format") -> str:
    """Canonical format name for a user-given ``--format`` value (aliases accepted).

    Raises:
        SourceError: the name is not a known format.
    """
    key = name.strip().lower()
    key = _ALIASES.get(key, key)
    if key not in FORMATS:
        raise SourceError(source, f"unknown format {name!r}; valid --format values: {_valid_list()}")
    return key


def base_suffix(path: Path) -> str:
    """The lower-case extension that decides the format, ignoring a trailing ``.gz``."""
    name = path.name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    if name.endswith(".json-ld"):
        return ".json-ld"
    return Path(name).suffix


def detect_format(path: Path, override: str | None = None) -> str:
    """The format of ``path``: ``override`` if given, else from the extension.

    ``.txt`` files are ``pipe`` (MetaQA ``head|relation|tail``) when their first
    non-empty, non-``#`` line has exactly two ``|`` and no TAB, else ``tsv``.

    Args:
        path: The file (``.gz`` is stripped before looking at the extension).
        override: A ``--format`` value; wins over the extension.

    Raises:
        SourceError: unknown extension or format name (the message lists valid values),
            or a ``.txt`` file that cannot be opened to sniff it.
    """
    path = Path(path)
    if override:
        return normalize_format(override, str(path))
    suffix = base_suffix(path)
    fmt = _BY_SUFFIX.get(suffix)
    if fmt is None:
        shown = suffix or "(none)"
        raise SourceError(
            str(path),
            f"cannot tell the format from the extension {shown!r}; pass --format, one of: {_valid_list()}",
        )
    if suffix == ".txt" and _looks_like_pipe(path):
        return "pipe"
    return fmt


def _looks_like_pipe(path: Path) -> bool:
    with open_text(path) as handle:
        try:
            for line in handle:
                if line.strip() and not line.startswith("#"):
                    return "\t" not in line and line.count("|") == 2
        except (OSError, EOFError) as exc:
            raise SourceError(str(path), f"cannot read: {exc}") from None
    return False


def open_text(path: Path, newline: str | None = None) -> TextIO:
    """Open ``path`` (plain or ``.gz``) as UTF-8 text for streaming.

    Invalid UTF-8 bytes are decoded with ``surrogateescape``, so iteration never raises
    ``UnicodeDecodeError``; check suspicious lines with :func:`bad_utf8`.

    Args:
        path: The file.
        newline: As for :func:`open`; ``None`` (universal newlines: CRLF -> LF) by default,
            ``""`` for the csv module.

    Raises:
        SourceError: the file is missing, a directory, or unreadable.
    """
    path = Path(path)
    if not path.exists():
        raise SourceError(str(path), "file not found")
    if path.is_dir():
        raise SourceError(str(path), "is a directory, expected a file")
    try:
        if path.name.lower().endswith(".gz"):
            raw = gzip.open(path, "rb")
            return io.TextIOWrapper(raw, encoding="utf-8", errors="surrogateescape", newline=newline)
        return open(path, encoding="utf-8", errors="surrogateescape", newline=newline)
    except OSError as exc:
        raise SourceError(str(path), f"cannot open: {exc.strerror or exc}") from None


def bad_utf8(text: str) -> bool:
    """True when ``text`` holds bytes that were not valid UTF-8 (lone surrogates)."""
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def clip(text: str) -> str:
    """``text`` cut to :data:`MAX_REJECT_TEXT` characters, invalid bytes shown as ``\\x..``."""
    text = text.rstrip("\r\n")
    if len(text) > MAX_REJECT_TEXT:
        text = text[:MAX_REJECT_TEXT] + "..."
    if not text.isascii():
        text = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return text


READ_ERRORS = (OSError, EOFError, zlib.error)


def read_whole_text(path: Path) -> tuple[str, int]:
    """The whole file as text, and the 1-based line of its first invalid UTF-8 byte (0 if none).

    Raises:
        SourceError: the file is missing or unreadable (I/O or gzip failure).
    """
    try:
        with open_text(path) as handle:
            text = handle.read()
    except READ_ERRORS as exc:
        raise read_error(path, exc) from None
    if not bad_utf8(text):
        return text, 0
    position = next(i for i, ch in enumerate(text) if "\udc80" <= ch <= "\udcff")
    return text, text.count("\n", 0, position) + 1


def truncated(path: Path, exc: BaseException, line: int) -> "Reject":
    """The Reject that ends a stream whose file cannot be read past ``line`` (truncated ``.gz``)."""
    from kgfm.sources.records import Reject

    return Reject(str(path), line, f"cannot read further ({type(exc).__name__}: {exc}); the file is truncated or corrupt here")


def read_error(path: Path, exc: BaseException, line: int = 0) -> SourceError:
    """A :class:`SourceError` for an I/O or gzip failure in the middle of a file."""
    return SourceError(str(path), f"cannot read ({type(exc).__name__}: {exc})", line)
