"""Entity name / description side files."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from kgfm.sources import read_entity_text
from kgfm.sources.records import EntityInfo, Reject, SourceError


def test_plain_id_tab_name_without_trailing_newline(tmp_path: Path) -> None:
    path = tmp_path / "entity2text.txt"
    path.write_bytes(b"/m/06rf7\tSchleswig-Holstein\r\n\r\n/m/0c94fn\tGary Rydstrom\r\nnotab\n/m/x\t \n/m/016ywr\tJeremy Irons")
    records = list(read_entity_text(path))
    assert records[0] == EntityInfo("/m/06rf7", name="Schleswig-Holstein")
    assert records[1] == EntityInfo("/m/0c94fn", name="Gary Rydstrom")
    assert isinstance(records[2], Reject) and (records[2].line, records[2].reason) == (4, "expected id<TAB>text, found no TAB")
    assert isinstance(records[3], Reject) and (records[3].line, records[3].reason) == (5, "empty text")
    assert records[4] == EntityInfo("/m/016ywr", name="Jeremy Irons")
    assert len(records) == 5


def test_description_kind_and_gzip(tmp_path: Path) -> None:
    path = tmp_path / "desc.tsv.gz"
    path.write_bytes(gzip.compress("Q1\tThe universe, all of it.\n".encode()))
    assert list(read_entity_text(path, "description")) == [EntityInfo("Q1", description="The universe, all of it.")]


def test_name_gloss_wn18rr(tmp_path: Path) -> None:
    path = tmp_path / "entity2text.txt"
    path.write_text(
        "14854262\tstool, solid excretory product evacuated from the bowels\n"
        "08769179\tsaxony, an area in Germany around the upper Elbe river; the original home of the Saxons\n"
        "00001740\tentity\n"
    )
    records = list(read_entity_text(path, "name-gloss"))
    assert records == [
        EntityInfo("14854262", name="stool", description="solid excretory product evacuated from the bowels"),
        EntityInfo(
            "08769179",
            name="saxony",
            description="an area in Germany around the upper Elbe river; the original home of the Saxons",
        ),
        EntityInfo("00001740", name="entity"),
    ]
    # auto means plain names: the whole text is the name
    assert next(iter(read_entity_text(path))).name == "stool, solid excretory product evacuated from the bowels"


def test_wikidata_json(tmp_path: Path) -> None:
    path = tmp_path / "entity2wikidata.json"
    path.write_text(
        json.dumps(
            {
                "/m/010016": {"alternatives": ["Denton, Texas"], "description": "city in Texas, United States",
                              "label": "Denton", "wikidata_id": "Q128306"},
                "/m/02": {"label": "No description"},
                "/m/03": {"alternatives": []},
                "/m/04": "not an object",
            }
        )
    )
    records = list(read_entity_text(path))
    assert records[0] == EntityInfo("/m/010016", name="Denton", description="city in Texas, United States")
    assert records[0].props == {"wikidata_id": [{"@value": "Q128306"}]}
    assert records[1] == EntityInfo("/m/02", name="No description")
    assert isinstance(records[2], Reject) and "'/m/04'" in records[2].reason
    assert len(records) == 3


def test_bad_inputs(tmp_path: Path) -> None:
    bad_json = tmp_path / "e.json"
    bad_json.write_text('{"a": {"label": "x"},\n "b": }')
    with pytest.raises(SourceError, match=r"e.json:2: invalid JSON"):
        list(read_entity_text(bad_json))
    not_object = tmp_path / "l.json"
    not_object.write_text("[1, 2]")
    with pytest.raises(SourceError, match="expected a JSON object"):
        list(read_entity_text(not_object))
    with pytest.raises(SourceError, match="unknown entity text kind 'gloss'"):
        read_entity_text(tmp_path / "x.txt", "gloss")
    bad_bytes = tmp_path / "names.txt"
    bad_bytes.write_bytes(b"a\tAmy\nb\tB\xffob\n")
    records = list(read_entity_text(bad_bytes))
    assert records[0] == EntityInfo("a", name="Amy")
    assert isinstance(records[1], Reject) and (records[1].line, records[1].reason) == (2, "invalid UTF-8 bytes")
