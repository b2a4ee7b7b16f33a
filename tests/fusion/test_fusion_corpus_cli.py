"""``kgfm corpus`` on a real embedded store built from the bundled movie KB."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from kgfm.cli.main import app


def test_corpus_command_on_embedded_store(tmp_path, graphs_dir):
    runner = CliRunner()
    store = tmp_path / "movies.lbug"
    built = runner.invoke(app, ["build-graph", str(graphs_dir / "movies_kb.txt"), "--path", str(store)])
    assert built.exit_code == 0, built.output
    out = tmp_path / "corpus"
    res = runner.invoke(app, ["corpus", "--store", str(store), "--out", str(out), "--valid-fraction", "0.1"])
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
    res = CliRunner().invoke(app, ["corpus", "--store", str(tmp_path / "none.lbug"), "--out", str(tmp_path / "c")])
    assert res.exit_code == 2
    assert "Traceback" not in res.output
