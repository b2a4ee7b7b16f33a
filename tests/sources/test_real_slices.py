"""Readers against slices of the real benchmark files in ../shared/data."""

from __future__ import annotations

import gzip
import itertools
from pathlib import Path

from kgfm.sources import detect_format, read_entity_text, read_source
from kgfm.sources.records import EntityInfo, Reject, Triple


def _slice(src: Path, dest: Path, lines: int) -> None:
    opener = gzip.open if src.suffix == ".gz" else open
    with opener(src, "rb") as handle:
        head = b"".join(itertools.islice(handle, lines))
    dest.write_bytes(gzip.compress(head) if dest.suffix == ".gz" else head)


def test_fb15k237_train_slice(shared_data: Path, tmp_path: Path) -> None:
    path = tmp_path / "train.txt.gz"
    _slice(shared_data / "FB15k-237" / "train.txt.gz", path, 1000)
    assert detect_format(path) == "tsv"
    records = list(read_source(path))
    assert len(records) == 1000 and all(isinstance(r, Triple) for r in records)
    first = records[0]
    assert (first.head, first.relation, first.tail, first.line) == (
        "/m/027rn", "/location/country/form_of_government", "/m/06cx9", 1)
    assert all(r.head.startswith("/m/") and r.tail.startswith("/m/") and r.relation.startswith("/") for r in records)
    assert not any("\r" in r.tail for r in records)


def test_metaqa_kb_slice(shared_data: Path, tmp_path: Path) -> None:
    path = tmp_path / "kb_partial.txt.gz"
    _slice(shared_data / "MetaQA" / "kb_partial.txt.gz", path, 1000)
    assert detect_format(path) == "pipe"
    records = list(read_source(path))
    assert len(records) == 1000 and all(isinstance(r, Triple) for r in records)
    assert (records[0].head, records[0].relation, records[0].tail) == ("Something Borrowed", "written_by", "Emily Giffin")
    relations = {r.relation for r in records}
    assert relations <= {"directed_by", "written_by", "starred_actors", "release_year", "in_language",
                         "has_tags", "has_genre", "has_imdb_votes", "has_imdb_rating"}
    assert {"directed_by", "starred_actors", "has_tags"} <= relations


def test_real_entity_text_files(shared_data: Path, tmp_path: Path) -> None:
    fb = tmp_path / "fb_entity2text.txt"
    _slice(shared_data / "FB15k-237" / "entity2text.txt", fb, 200)
    names = list(read_entity_text(fb))
    assert len(names) == 200 and names[0] == EntityInfo("/m/06rf7", name="Schleswig-Holstein")
    wn = tmp_path / "wn_entity2text.txt"
    _slice(shared_data / "WN18RR" / "entity2text.txt", wn, 200)
    glosses = list(read_entity_text(wn, "name-gloss"))
    assert not any(isinstance(r, Reject) for r in glosses)
    assert glosses[0] == EntityInfo("14854262", name="stool", description="solid excretory product evacuated from the bowels")
    assert sum(r.description is not None for r in glosses) == 200
    # the full wikidata JSON (4 MB) parses; 14,515 of FB15k-237's entities have an entry
    infos = list(read_entity_text(shared_data / "FB15k-237" / "entity2wikidata.json"))
    assert not any(isinstance(r, Reject) for r in infos)
    denton = next(r for r in infos if r.id == "/m/010016")
    assert (denton.name, denton.description) == ("Denton", "city in Texas, United States")
    assert len(infos) >= 14515
