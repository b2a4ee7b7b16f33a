"""KG-aligned corpus: descriptions + verbalised triples with entity spans, stable split."""

from __future__ import annotations

import json

import pytest

from kgfm.artifacts import ArtifactError
from kgfm.index.entity_index import entity_ids_digest
from kgfm.fusion.corpus import build_corpus, read_corpus, read_relation_text, relation_words
from kgfm.sources.records import SourceError


def test_relation_words():
    assert relation_words("directed_by") == "directed by"
    assert relation_words("_hypernym") == "hypernym"
    assert relation_words("film_genre", predicate="/film/film/genre") == "film genre"
    assert relation_words("x", predicate="http://schema.org/birthPlace") == "birth place"
    assert relation_words("directed_by", {"directed_by": "was directed by"}) == "was directed by"


def test_corpus_records_and_spans(tmp_path, graph):
    manifest = build_corpus(graph, tmp_path / "c", valid_fraction=0.3, seed=0)
    train, valid = read_corpus(tmp_path / "c", "train"), read_corpus(tmp_path / "c", "valid")
    assert len(train) + len(valid) == graph.num_triples + sum(d is not None for d in graph.entity_descriptions)
    assert manifest["counts"]["train_triple"] + manifest["counts"].get("valid_triple", 0) == graph.num_triples
    texts = {r["text"]: r for r in train + valid}
    rec = texts["Kismet directed by William Dieterle"]
    assert [rec["text"][s:e] for s, e, _ in rec["mentions"]] == ["Kismet", "William Dieterle"]
    # mentions carry the store idx (== index row), and the manifest the digest of the id order
    assert [graph.entity_ids[i] for _, _, i in rec["mentions"]] == ["m0", "m1"]
    assert manifest["entity_ids_digest"] == entity_ids_digest(graph.entity_ids)
    desc = [r for r in train + valid if r["kind"] == "description"]
    assert desc and all(r["text"][r["mentions"][0][0]:r["mentions"][0][1]] in graph.entity_names for r in desc)
    # the split is a pure function of the record key: rebuilding gives the same files
    build_corpus(graph, tmp_path / "c2", valid_fraction=0.3, seed=0)
    assert (tmp_path / "c" / "valid.jsonl").read_text() == (tmp_path / "c2" / "valid.jsonl").read_text()


def test_max_triples_and_no_descriptions(tmp_path, graph):
    m = build_corpus(graph, tmp_path / "c", valid_fraction=0.0, descriptions=False, max_triples=5)
    assert m["counts"] == {"train_triple": 5}


def test_bad_records_name_file_and_line(tmp_path, graph):
    build_corpus(graph, tmp_path / "c", valid_fraction=0.0)
    path = tmp_path / "c" / "train.jsonl"
    lines = path.read_text().splitlines()
    lines[2] = json.dumps({"text": "abc", "mentions": [[0, 9, "m1"]]})
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ArtifactError, match="checksum"):
        read_corpus(tmp_path / "c")
    from kgfm.artifacts import sha256_file

    man = json.loads((tmp_path / "c" / "manifest.json").read_text())
    man["files"]["train.jsonl"] = sha256_file(path)
    (tmp_path / "c" / "manifest.json").write_text(json.dumps(man))
    with pytest.raises(SourceError, match="line 3"):
        read_corpus(tmp_path / "c")
    lines[2] = json.dumps({"text": "abc", "mentions": [[0, 2, "m1"]]})  # an entity id, not a store idx
    path.write_text("\n".join(lines) + "\n")
    man["files"]["train.jsonl"] = sha256_file(path)
    (tmp_path / "c" / "manifest.json").write_text(json.dumps(man))
    with pytest.raises(SourceError, match="line 3.*store idx"):
        read_corpus(tmp_path / "c")


def test_relation_text_file(tmp_path):
    f = tmp_path / "relation2text.txt"
    f.write_text("_hypernym\thypernym\n_has_part\thas part\n")
    assert read_relation_text(f) == {"_hypernym": ["hypernym"], "_has_part": ["has part"]}
    f.write_text("no tab here\n")
    with pytest.raises(SourceError, match="line 1"):
        read_relation_text(f)


def test_relation_templates_several_wordings(tmp_path, graph):
    from kgfm.fusion.corpus import verbalise

    # a template puts the ends anywhere; spans are hand-counted
    assert verbalise("{tail} directed {head}", "Kismet", "W D") == ("W D directed Kismet", (13, 19), (0, 3))
    assert verbalise("directed by", "Kismet", "W D") == ("Kismet directed by W D", (0, 6), (19, 22))
    f = tmp_path / "templates.tsv"
    f.write_text("# comment\ndirected_by\tdirected by\ndirected_by\t{tail} directed {head}\ndirected_by\tdirected by\n")
    mapping = read_relation_text(f)
    assert mapping == {"directed_by": ["directed by", "{tail} directed {head}"]}  # repeats kept once, in order
    build_corpus(graph, tmp_path / "c", mapping, valid_fraction=0.0, descriptions=False)
    recs = [r for r in read_corpus(tmp_path / "c") if r["rel"] == "directed_by"]
    texts = {r["text"] for r in recs}
    assert any(" directed by " in t for t in texts) and any(" directed " in t and " by " not in t for t in texts)
    triples = {(int(h), graph.relation_types[int(r)], int(t))
               for h, r, t in zip(graph.head_index, graph.rel_type, graph.tail_index)}
    for r in recs:  # the subject stays mention 0 (the KG head's relation direction depends on it)
        (hs, he, h), (ts, te, t) = r["mentions"]
        assert (h, r["rel"], t) in triples
        assert r["text"][hs:he] == (graph.entity_names[h] or graph.entity_ids[h])
        assert r["text"][ts:te] == (graph.entity_names[t] or graph.entity_ids[t])
    # the wording of each triple is a function of the triple: rebuilding gives the same file
    build_corpus(graph, tmp_path / "c2", mapping, valid_fraction=0.0, descriptions=False)
    assert (tmp_path / "c" / "train.jsonl").read_bytes() == (tmp_path / "c2" / "train.jsonl").read_bytes()


@pytest.mark.parametrize("line,why", [("directed_by\t{tail} directed\n", "once each"),
                                      ("directed_by\t{head} {obj} {tail}\n", "braces"),
                                      ("directed_by\t \n", "no words")])
def test_bad_templates_name_the_line(tmp_path, line, why):
    f = tmp_path / "t.tsv"
    f.write_text("written_by\twritten by\n" + line)
    with pytest.raises(SourceError, match=f"line 2: .*{why}"):
        read_relation_text(f)
