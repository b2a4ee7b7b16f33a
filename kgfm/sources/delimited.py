"""Streaming readers for delimited triple files: TSV, CSV and MetaQA pipe (``h|r|t``).

One triple per line. Line endings (LF or CRLF) are stripped, blank lines and lines
starting with ``#`` are skipped, and a first row ``head,relation,tail`` (any case, any
of the three delimiters) is taken as a header and skipped. A line with the wrong number
of fields, an empty field or invalid UTF-8 becomes a :class:`Reject`. CSV fields are
parsed by the csv module (quotes, embedded delimiters) and stripped of surrounding spaces.

Two APIs over the same rules:

* :func:`read_delimited` yields :class:`Triple` / :class:`Reject` records in file order;
* :func:`read_delimited_batches` yields ``(rows, rejects)`` lists with plain
  ``(head, relation, tail, line)`` tuples -- no per-line objects, for bulk loading.

Both stream: memory is bounded by one batch, never the file.
"""

from __future__ import annotations

import csv
import zlib
from pathlib import Path
from typing import Iterator, Literal

from kgfm.sources.formats import bad_utf8, clip, open_text, truncated
from kgfm.sources.records import Record, Reject, SourceError, Triple

DelimitedFormat = Literal["tsv", "csv", "pipe"]
Row = tuple[str, str, str, int]

_SEPARATORS = {"tsv": "\t", "pipe": "|"}
_HEADER = ("head", "relation", "tail")
_READ_ERRORS = (OSError, EOFError, zlib.error)


def _bad_line(fields: list[str], sep_name: str, raw: str) -> str | None:
    """Reason a split line is not a triple, or ``None`` when it is fine."""
    if len(fields) != 3:
        return f"expected 3 fields separated by {sep_name}, got {len(fields)}"
    for position, value in enumerate(fields, 1):
        if not value:
            return f"empty field {position} ({_HEADER[position - 1]})"
    if bad_utf8(raw):
        return "invalid UTF-8 bytes"
    return None


def _is_header(fields: list[str]) -> bool:
    return len(fields) == 3 and tuple(f.strip().lower() for f in fields) == _HEADER


def _check_format(fmt: str) -> None:
    if fmt not in ("tsv", "csv", "pipe"):
        raise ValueError(f"read_delimited handles tsv, csv and pipe, not {fmt!r}")


def read_delimited_batches(
    path: Path, fmt: DelimitedFormat, batch_size: int = 65536
) -> Iterator[tuple[list[Row], list[Reject]]]:
    """Stream ``(rows, rejects)`` batches; each row is ``(head, relation, tail, line)``.

    Args:
        path: The file (plain or ``.gz``).
        fmt: ``"tsv"``, ``"csv"`` or ``"pipe"``.
        batch_size: Rows per batch (the last batch may be shorter; a batch may carry
            rejects and no rows).

    Raises:
        SourceError: the file cannot be opened. A read failure mid-file (a truncated or
            corrupt ``.gz``) ends the stream with a final Reject naming the line; the rows
            before it are yielded.
    """
    _check_format(fmt)
    if fmt == "csv":
        yield from _csv_batches(Path(path), batch_size)
        return
    path = Path(path)
    source = str(path)
    sep = _SEPARATORS[fmt]
    sep_name = "TAB" if fmt == "tsv" else "'|'"
    rows: list[Row] = []
    rejects: list[Reject] = []
    append = rows.append
    header_pending = True
    lineno = 0
    with open_text(path, newline="\n") as handle:
        try:
            for lineno, line in enumerate(handle, 1):
                parts = line.split(sep)
                if len(parts) == 3 and line[0] != "#":
                    h, r, t = parts
                    t = t.rstrip("\r\n")
                    if h and r and t and (line.isascii() or not bad_utf8(line)) and not header_pending:
                        append((h, r, t, lineno))
                        if len(rows) >= batch_size:
                            yield rows, rejects
                            rows, rejects = [], []
                            append = rows.append
                        continue
                # slow path: blank, comment, header, or bad line
                stripped = line.strip()
                if not stripped or stripped[0] == "#":
                    continue
                parts[-1] = parts[-1].rstrip("\r\n")
                if header_pending:
                    header_pending = False
                    if _is_header(parts):
                        continue
                reason = _bad_line(parts, sep_name, line)
                if reason is None:
                    append((parts[0], parts[1], parts[2], lineno))
                else:
                    rejects.append(Reject(source, lineno, reason, clip(line)))
        except _READ_ERRORS as exc:
            rejects.append(truncated(path, exc, lineno + 1))
    if rows or rejects:
        yield rows, rejects


def _csv_batches(path: Path, batch_size: int) -> Iterator[tuple[list[Row], list[Reject]]]:
    source = str(path)
    rows: list[Row] = []
    rejects: list[Reject] = []
    header_pending = True
    start = 1
    with open_text(path, newline="") as handle:
        reader = csv.reader(handle, skipinitialspace=True, strict=True)
        try:
            while True:
                try:
                    fields = next(reader)
                except StopIteration:
                    break
                except csv.Error as exc:
                    rejects.append(Reject(source, start, f"CSV syntax error: {exc}"))
                    start = reader.line_num + 1
                    continue
                lineno, start = start, reader.line_num + 1
                fields = [value.strip() for value in fields]
                if not fields or fields == [""]:
                    continue
                if fields[0].startswith("#"):
                    continue
                if header_pending:
                    header_pending = False
                    if _is_header(fields):
                        continue
                raw = ",".join(fields)
                reason = _bad_line(fields, "','", raw)
                if reason is None:
                    rows.append((fields[0], fields[1], fields[2], lineno))
                    if len(rows) >= batch_size:
                        yield rows, rejects
                        rows, rejects = [], []
                else:
                    rejects.append(Reject(source, lineno, reason, clip(raw)))
        except _READ_ERRORS as exc:
            rejects.append(truncated(path, exc, start))
    if rows or rejects:
        yield rows, rejects


def read_delimited(path: Path, fmt: DelimitedFormat) -> Iterator[Record]:
    """Stream :class:`Triple` and :class:`Reject` records from a delimited file, in line order.

    Args:
        path: The file (plain or ``.gz``).
        fmt: ``"tsv"`` (``h<TAB>r<TAB>t``), ``"csv"`` (csv module: quoted fields work)
            or ``"pipe"`` (MetaQA ``h|r|t``).

    Raises:
        SourceError: the file cannot be opened or read.
    """
    source = str(Path(path))
    for rows, rejects in read_delimited_batches(path, fmt, batch_size=4096):
        if rejects:
            # restore file order between this batch's rows and rejects
            merged: list[tuple[int, Record]] = [(h[3], Triple(h[0], h[1], h[2], source, h[3])) for h in rows]
            merged.extend((r.line, r) for r in rejects)
            merged.sort(key=lambda item: item[0])
            for _, record in merged:
                yield record
        else:
            for h, r, t, line in rows:
                yield Triple(h, r, t, source, line)


__all__ = ["DelimitedFormat", "Row", "SourceError", "read_delimited", "read_delimited_batches"]
