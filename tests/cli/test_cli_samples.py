"""Bundled samples by name (``sample:NAME``) from any directory, and ``kgfm neighbors`` output that
cannot drive the terminal."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from kgfm.cli.main import app

REPO = Path(__file__).resolve().parents[2]
KGFM = [sys.executable, "-c", "from kgfm.cli.main import main; main()"]


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    return subprocess.run([*KGFM, *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=600)


def test_sample_graph_then_sample_config_with_no_paths_given(tmp_path: Path, graphs_dir: Path):
    """The README path: `build-graph sample:movies_kb.txt`, then `train --config sample:graph` finds that store."""
    built = _run("build-graph", "sample:movies_kb.txt", cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    report = json.loads((tmp_path / ".kgfm" / "graph.build-graph.report.json").read_text())
    expected = sum(1 for line in (graphs_dir / "movies_kb.txt").read_text(encoding="utf-8").splitlines() if line.strip())
    assert report["triples_read"] == expected and report["files"] == [str(graphs_dir / "movies_kb.txt")]
    trained = _run("train", "--stage", "graph", "--config", "sample:graph", "--set", "train.epochs=2", cwd=tmp_path)
    assert trained.returncode == 0, trained.stderr
    assert (tmp_path / "runs" / "graph" / "index" / "manifest.json").is_file()


def test_train_without_a_config_uses_the_stage_defaults_or_says_what_is_missing(tmp_path: Path):
    """No `configs/` in the folder: the graph stage runs on its built-in defaults (as `kgfm auto` does);
    a stage with required fields says which, and how to pass a config, in one line."""
    assert _run("build-graph", "sample:movies_kb.txt", cwd=tmp_path).returncode == 0
    trained = _run("train", "--stage", "graph", "--set", "train.epochs=2", "--set", "model.dim=16", cwd=tmp_path)
    assert trained.returncode == 0, trained.stderr
    assert (tmp_path / "runs" / "graph" / "index" / "manifest.json").is_file()
    assert "dim: 16" in (tmp_path / "runs" / "graph" / "config.yaml").read_text(encoding="utf-8")
    missing = _run("train", "--stage", "pretrain", cwd=tmp_path)
    assert missing.returncode == 2 and "Traceback" not in missing.stderr and missing.stderr.count("\n") == 1
    assert "corpus: Field required" in missing.stderr and "--config sample:pretrain" in missing.stderr


def test_unknown_sample_is_one_line_listing_the_available_ones(tmp_path: Path):
    graph = _run("build-graph", "sample:nope.txt", cwd=tmp_path)
    assert graph.returncode == 2 and "Traceback" not in graph.stderr
    assert graph.stderr.count("\n") == 1 and "movies_kb.txt" in graph.stderr and "sample:nope.txt" in graph.stderr
    config = _run("train", "--stage", "graph", "--config", "sample:nope", cwd=tmp_path)
    assert config.returncode == 2 and "Traceback" not in config.stderr
    assert "sample:nope" in config.stderr and "graph" in config.stderr and "pretrain" in config.stderr
    assert not (tmp_path / ".kgfm").exists() and not (tmp_path / "runs").exists()


def test_neighbors_escapes_terminal_sequences_in_names(tmp_path: Path):
    from kgfm.index.entity_index import EntityIndex

    ids = ["e0", "e1\x1b]0;pwned\x07", "e2"]
    names = ["Plain", "Evil \x1b[2J\u202eName", None]
    emb = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]], np.float32)
    EntityIndex.build(emb, ids, names, metric="ip", use_gpu=False).save(tmp_path / "index")
    out = CliRunner().invoke(app, ["neighbors", "Plain", "-k", "2", "--index", str(tmp_path / "index")])
    assert out.exit_code == 0, out.output
    assert "\x1b" not in out.output and "\x07" not in out.output and "\u202e" not in out.output
    assert "Evil \\x1b[2J\\u202eName  (e1\\x1b]0;pwned\\x07)" in out.output
    missing = CliRunner().invoke(app, ["neighbors", "no\x1b[31mthing", "--index", str(tmp_path / "index")])
    assert missing.exit_code == 2 and "\x1b" not in missing.output
