"""``kgfm corpus`` on a real embedded store built from the bundled movie KB."""

from __future__ import annotations

import json

import pytest

from typer.testing import CliRunner

from kgfm.cli.main import app


def test_corpus_command_on_embedded_store(tmp_path, graphs_dir):
    runner = CliRunner()
    store = tmp_path / "movies.lbug"
    built = runner.invoke(app, ["build-graph", str(graphs_dir / "movies_kb.txt"), "--path", str(store)])
    assert built.exit_code == 0, built.output
    out = tmp_path / "corpus"
    res = runner.invoke(app, ["corpus", "--path", str(store), "--out", str(out), "--valid-fraction", "0.1"])
    assert res.exit_code == 0, res.output
    manifest = json.loads((out / "manifest.json").read_text())
    n = manifest["counts"]["train_triple"] + manifest["counts"].get("valid_triple", 0)
    assert n == 716
    first = json.loads((out / "train.jsonl").read_text().splitlines()[0])
    assert all(isinstance(i, int) for _, _, i in first["mentions"])  # store idx
    assert len(first["mentions"]) == 2 and first["text"].startswith(first["text"][: first["mentions"][0][1]])
    assert any(w in first["text"] for w in (" directed by ", " written by ", " starred actors ", " has genre ",
                                            " has tags ", " release year ", " in language "))


def test_corpus_command_missing_store_is_one_line(tmp_path):
    res = CliRunner().invoke(app, ["corpus", "--path", str(tmp_path / "none.lbug"), "--out", str(tmp_path / "c")])
    assert res.exit_code == 2
    assert "Traceback" not in res.output


def test_corpus_old_flags_give_a_clear_error(tmp_path):
    runner = CliRunner()
    old_path = runner.invoke(app, ["corpus", "--store", str(tmp_path / "x.lbug"), "--out", str(tmp_path / "c")])
    assert old_path.exit_code == 2 and "--path" in old_path.output and "embedded or neo4j" in old_path.output
    old_backend = runner.invoke(app, ["corpus", "--backend", "neo4j", "--out", str(tmp_path / "c")])
    assert old_backend.exit_code == 2 and "--store neo4j" in old_backend.output
    assert not (tmp_path / "c").exists()


def test_corpus_progress_total_is_exact():
    from kgfm.fusion.corpus import count_records, iter_records

    from tests.fusion.conftest import toy_graph

    graph = toy_graph(with_text=True)
    blank = sum(1 for d in graph.entity_descriptions if not d)
    assert 0 < blank < graph.num_entities  # some entities have no description: they are no records
    for kwargs in ({}, {"descriptions": False}, {"triples": False}, {"max_triples": 3}, {"max_triples": 10**6}):
        assert count_records(graph, **kwargs) == sum(1 for _ in iter_records(graph, **kwargs)), kwargs


@pytest.mark.parametrize("name", ["metaqa_relation_templates.tsv", "metaqa_relation_templates_v2.tsv"])
def test_corpus_command_with_the_metaqa_templates(tmp_path, graphs_dir, name):
    from pathlib import Path

    from kgfm.artifacts import sha256_file

    templates = Path(__file__).resolve().parents[2] / "configs" / name
    runner = CliRunner()
    store = tmp_path / "movies.lbug"
    assert runner.invoke(app, ["build-graph", str(graphs_dir / "movies_kb.txt"), "--path", str(store)]).exit_code == 0
    out = tmp_path / "corpus"
    res = runner.invoke(app, ["corpus", "--path", str(store), "--out", str(out), "--no-descriptions",
                              "--valid-fraction", "0", "--relation-text", str(templates)])
    assert res.exit_code == 0, res.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"] == {"train_triple": 716}  # every triple worded once
    assert manifest["config"]["relation_text"] == {"file": str(templates), "sha256": sha256_file(templates)}
    recs = [json.loads(line) for line in (out / "train.jsonl").read_text().splitlines()]
    directed = [r for r in recs if r["rel"] == "directed_by"]
    # the director is mention 1 (the object) whether the template puts them first or last
    assert any(r["mentions"][1][0] == 0 for r in directed) and any(r["mentions"][0][0] == 0 for r in directed)
    assert any(" is the director of " in r["text"] for r in directed)  # not only the name-derived wording
    bad = tmp_path / "bad.tsv"
    bad.write_text("directed_by\t{tail} directed\n")
    res = runner.invoke(app, ["corpus", "--path", str(store), "--out", str(tmp_path / "c2"),
                              "--relation-text", str(bad)])
    assert res.exit_code == 2 and "bad.tsv" in res.output and "line 1" in res.output and "Traceback" not in res.output
    assert not (tmp_path / "c2").exists()
