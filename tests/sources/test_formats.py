"""Format detection and text opening (gzip, bad UTF-8)."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from kgfm.sources.formats import FORMATS, bad_utf8, detect_format, normalize_format, open_text
from kgfm.sources.records import SourceError


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("g.ttl", "turtle"),
        ("g.TTL", "turtle"),
        ("g.nt", "nt"),
        ("g.nt.gz", "nt"),
        ("g.nq", "nquads"),
        ("g.trig", "trig"),
        ("g.rdf", "xml"),
        ("g.owl", "xml"),
        ("g.xml", "xml"),
        ("g.jsonld", "json-ld"),
        ("g.json-ld", "json-ld"),
        ("g.json-ld.gz", "json-ld"),
        ("g.tsv", "tsv"),
        ("g.csv", "csv"),
    ],
)
def test_detect_by_extension(tmp_path: Path, name: str, expected: str) -> None:
    assert detect_format(tmp_path / name) == expected


def test_txt_sniffs_pipe_versus_tab(tmp_path: Path) -> None:
    pipe = tmp_path / "kb.txt"
    pipe.write_text("\n# a\tcomment\n\nKismet|directed_by|William Dieterle\n")
    tab = tmp_path / "train.txt"
    tab.write_text("/m/a\t/r\t/m/b\r\n")
    three_pipes = tmp_path / "odd.txt"
    three_pipes.write_text("a|b|c|d\n")
    pipe_with_tab = tmp_path / "mixed.txt"
    pipe_with_tab.write_text("a|b\tc|d\n")
    gz = tmp_path / "kb.txt.gz"
    gz.write_bytes(gzip.compress(b"a|r|b\n"))
    assert detect_format(pipe) == "pipe"
    assert detect_format(tab) == "tsv"
    assert detect_format(three_pipes) == "tsv"
    assert detect_format(pipe_with_tab) == "tsv"
    assert detect_format(gz) == "pipe"


def test_unknown_extension_names_file_and_lists_formats(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as info:
        detect_format(tmp_path / "graph.parquet")
    message = str(info.value)
    assert "graph.parquet" in message and "'.parquet'" in message
    for fmt in FORMATS:
        assert fmt in message


def test_override_wins_and_aliases(tmp_path: Path) -> None:
    assert detect_format(tmp_path / "x.txt", "csv") == "csv"
    assert detect_format(tmp_path / "x.data", "NTriples") == "nt"
    assert normalize_format("ttl") == "turtle"
    assert normalize_format("rdfxml") == "xml"
    with pytest.raises(SourceError, match="unknown format 'yaml'.*turtle, nt"):
        detect_format(tmp_path / "x.ttl", "yaml")


def test_open_text_gzip_crlf_and_missing(tmp_path: Path) -> None:
    gz = tmp_path / "a.tsv.gz"
    gz.write_bytes(gzip.compress("é\tr\tb\r\nc\tr\td\r\n".encode()))
    with open_text(gz) as handle:
        assert handle.read() == "é\tr\tb\nc\tr\td\n"
    with pytest.raises(SourceError, match="file not found"):
        open_text(tmp_path / "nope.tsv")
    with pytest.raises(SourceError, match="is a directory"):
        open_text(tmp_path)


def test_bad_utf8_survives_reading_and_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "bad.tsv"
    path.write_bytes(b"ok\tr\tb\nbad\xff\tr\tb\n")
    with open_text(path) as handle:
        lines = handle.readlines()
    assert [bad_utf8(line) for line in lines] == [False, True]
    assert not bad_utf8("Amélie")
