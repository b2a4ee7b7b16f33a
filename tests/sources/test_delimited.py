"""TSV / CSV / pipe readers: records, line numbers, rejects, batches."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from kgfm.sources import read_source
from kgfm.sources.delimited import read_delimited, read_delimited_batches
from kgfm.sources.records import Reject, SourceError, Triple


def _split(records):
    triples = [r for r in records if isinstance(r, Triple)]
    rejects = [r for r in records if isinstance(r, Reject)]
    return triples, rejects


def test_tsv_crlf_comments_blank_lines_no_trailing_newline(tmp_path: Path) -> None:
    path = tmp_path / "g.tsv"
    path.write_bytes(b"# a comment\r\n/m/a\t/r/x\t/m/b\r\n\r\n/m/b\t/r/y\t/m/c")
    records = list(read_delimited(path, "tsv"))
    assert records == [
        Triple("/m/a", "/r/x", "/m/b", str(path), 2),
        Triple("/m/b", "/r/y", "/m/c", str(path), 4),
    ]
    assert all("\r" not in r.tail for r in records)


def test_tsv_rejects_wrong_field_count_and_empty_field(tmp_path: Path) -> None:
    path = tmp_path / "g.tsv"
    path.write_text("a\tr\tb\nonly\ttwo\na\t\tb\na\tr\tb\tc\nc\tr\td\n")
    records = list(read_delimited(path, "tsv"))
    triples, rejects = _split(records)
    assert [(t.head, t.line) for t in triples] == [("a", 1), ("c", 5)]
    assert [(r.line, r.reason) for r in rejects] == [
        (2, "expected 3 fields separated by TAB, got 2"),
        (3, "empty field 2 (relation)"),
        (4, "expected 3 fields separated by TAB, got 4"),
    ]
    assert rejects[0].text == "only\ttwo"
    assert rejects[0].message().startswith(f"{path}:2: expected 3 fields")
    # records come back in file order
    assert [r.line for r in records] == [1, 2, 3, 4, 5]


def test_bad_utf8_line_is_rejected_not_raised(tmp_path: Path) -> None:
    path = tmp_path / "g.tsv"
    path.write_bytes(b"a\tr\tb\nb\xe9\tr\tc\nd\tr\te\n")
    triples, rejects = _split(list(read_delimited(path, "tsv")))
    assert [t.head for t in triples] == ["a", "d"]
    assert [(r.line, r.reason) for r in rejects] == [(2, "invalid UTF-8 bytes")]
    assert "\\xe9" in rejects[0].text


def test_csv_quotes_header_and_spaces(tmp_path: Path) -> None:
    path = tmp_path / "g.csv"
    path.write_text(
        'Head,Relation,Tail\n"Smith, John",acted_in,"The ""Big"" One"\nx, r ,y\n\n"a",b\nm,"multi\nline",n\n'
    )
    records = list(read_delimited(path, "csv"))
    assert records[0] == Triple("Smith, John", "acted_in", 'The "Big" One', str(path), 2)
    assert records[1] == Triple("x", "r", "y", str(path), 3)
    assert isinstance(records[2], Reject) and records[2].line == 5
    assert records[2].reason == "expected 3 fields separated by ',', got 2"
    assert records[3] == Triple("m", "multi\nline", "n", str(path), 6)
    assert len(records) == 4


def test_header_only_skipped_on_first_row(tmp_path: Path) -> None:
    path = tmp_path / "g.tsv"
    path.write_text("# comment\nHEAD\tRELATION\tTAIL\na\tr\tb\nhead\trelation\ttail\n")
    heads = [r.head for r in read_delimited(path, "tsv")]
    assert heads == ["a", "head"]


def test_pipe_metaqa_and_gzip(tmp_path: Path) -> None:
    path = tmp_path / "kb.txt.gz"
    path.write_bytes(
        gzip.compress(b"Kismet|directed_by|William Dieterle\nKismet|has_tags|bd-r\nBroken|line\nA|b|c|d\n")
    )
    records = list(read_source(path))
    assert records[:2] == [
        Triple("Kismet", "directed_by", "William Dieterle", str(path), 1),
        Triple("Kismet", "has_tags", "bd-r", str(path), 2),
    ]
    assert [(r.line, r.reason) for r in records[2:]] == [
        (3, "expected 3 fields separated by '|', got 2"),
        (4, "expected 3 fields separated by '|', got 4"),
    ]


def test_batches_match_records_and_respect_size(tmp_path: Path) -> None:
    path = tmp_path / "g.tsv"
    lines = [f"e{i}\tr{i % 3}\te{i + 1}" for i in range(250)]
    lines.insert(100, "broken")
    path.write_text("\n".join(lines) + "\n")
    batches = list(read_delimited_batches(path, "tsv", batch_size=64))
    rows = [row for batch, _ in batches for row in batch]
    rejects = [rej for _, batch in batches for rej in batch]
    assert all(len(batch) <= 65 for batch, _ in batches)
    assert len(rows) == 250 and rows[0] == ("e0", "r0", "e1", 1) and rows[-1] == ("e249", "r0", "e250", 251)
    assert [(r.line, r.text) for r in rejects] == [(101, "broken")]
    triples = [r for r in read_delimited(path, "tsv") if isinstance(r, Triple)]
    assert [(t.head, t.relation, t.tail, t.line) for t in triples] == rows


def test_truncated_gzip_keeps_the_rows_before_the_break(tmp_path: Path) -> None:
    path = tmp_path / "g.tsv.gz"
    data = gzip.compress("".join(f"a{i}\tr\tb{i}\n" for i in range(50_000)).encode())
    path.write_bytes(data[: len(data) // 2])
    records = list(read_delimited(path, "tsv"))
    *rows, last = records
    assert isinstance(last, Reject) and "truncated" in last.reason and last.line == len(rows) + 1
    assert 1000 < len(rows) < 50_000 and all(isinstance(r, Triple) for r in rows)
    assert [r.head for r in rows[:2]] == ["a0", "a1"]
    not_gzip = tmp_path / "plain.txt.gz"
    not_gzip.write_text("a|r|b\n")
    with pytest.raises(SourceError, match="Not a gzipped file"):
        list(read_source(not_gzip))


def test_missing_file_is_a_source_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="file not found"):
        list(read_source(tmp_path / "absent.tsv"))


def test_csv_unterminated_quote_and_format_override(tmp_path: Path) -> None:
    path = tmp_path / "g.data"
    path.write_text('a,r,b\nc,"r,d\n')
    records = list(read_source(path, "csv"))
    assert records[0] == Triple("a", "r", "b", str(path), 1)
    assert isinstance(records[1], Reject) and records[1].line == 2
    assert records[1].reason.startswith("CSV syntax error")
    assert len(records) == 2
