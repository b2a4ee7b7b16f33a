"""Portable QA models, through the real CLI: a model trained with paths relative to the training
directory is copied (with its store and index) to another folder, the original is deleted, and
``kgfm qa`` answers from a third directory; a rebuilt identical store is accepted (content
fingerprint), a different graph is refused, and a wrong ``--model`` is one clear line."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from kgfm.config import StoreConfig
from tests.qa.tiny import train_tiny_qa

KGFM = [sys.executable, "-m", "kgfm.cli.main"]


def train_tiny(root: Path, kb: Path, qa: Path) -> Path:
    """Store + index + a 1-epoch tiny model under ``root`` with cwd-relative config paths."""
    return train_tiny_qa(root, kb, qa, relative=True)["model"]


def kgfm(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    return subprocess.run([*KGFM, *args], capture_output=True, timeout=300, cwd=cwd, env=env, text=True)


@pytest.fixture(scope="module")
def moved(tmp_path_factory, qa_inputs) -> Path:
    """The whole tree (store, runs/) copied elsewhere; the original deleted. Returns the new root."""
    kb, qa = qa_inputs
    first = tmp_path_factory.mktemp("trained-here")
    train_tiny(first, kb, qa)
    second = tmp_path_factory.mktemp("moved") / "copy"
    shutil.copytree(first, second)
    shutil.rmtree(first)
    return second


def test_copied_model_answers_from_another_directory(moved: Path, tmp_path: Path):
    manifest = json.loads((moved / "runs/qa/sample/model/manifest.json").read_text())
    assert manifest["refs"]["store"]["relative"] == "../../../../.kgfm/movies.lbug"
    assert manifest["refs"]["index"]["relative"] == "../../../graph/index"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = kgfm("qa", "who directed [Kismet]", "--model", str(moved / "runs/qa/sample/model"), "--json", cwd=elsewhere)
    assert out.returncode == 0, out.stderr
    payload = json.loads(out.stdout)
    assert payload["topic"]["id"] == "Kismet" and payload["answers"]


def test_rebuilt_identical_store_is_accepted_and_other_graph_refused(moved: Path, tmp_path: Path, qa_inputs):
    from kgfm.store.build import BuildGraphConfig, SourceSpec, run_build

    kb, _ = qa_inputs
    rebuilt = tmp_path / "rebuilt.lbug"
    run_build(BuildGraphConfig(store=StoreConfig(path=rebuilt), sources=[SourceSpec(path=kb)]), show_progress=False)
    model = str(moved / "runs/qa/sample/model")
    out = kgfm("qa", "who directed [Kismet]", "--model", model, "--path", str(rebuilt), "--no-evidence", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    for name, text, expect in (
        # the same facts with a film first: other entity idx, another graph
        ("other", "Zelig|directed_by|Woody Allen\n" + kb.read_text(), "trained on graph"),
        # the trained graph with a film added after it: grown, which `kgfm extend-index` handles
        ("grown", kb.read_text() + "Zelig|directed_by|Woody Allen\n", "the store has 2 entities added after the entity index"),
    ):
        (tmp_path / f"{name}.txt").write_text(text)
        store = tmp_path / f"{name}.lbug"
        run_build(BuildGraphConfig(store=StoreConfig(path=store), sources=[SourceSpec(path=tmp_path / f"{name}.txt")]),
                  show_progress=False)
        out = kgfm("qa", "who directed [Kismet]", "--model", model, "--path", str(store), cwd=tmp_path)
        assert out.returncode == 2 and "Traceback" not in out.stderr
        assert expect in out.stderr and len(out.stderr.strip().splitlines()) == 1, out.stderr


def test_missing_store_names_both_places_and_the_flag(moved: Path, tmp_path: Path):
    model = tmp_path / "lonely" / "model"
    shutil.copytree(moved / "runs/qa/sample/model", model)
    out = kgfm("qa", "who directed [Kismet]", "--model", str(model), cwd=tmp_path)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "its store is not at" in out.stderr and "--path" in out.stderr, out.stderr


@pytest.mark.parametrize("case", ["missing", "not-a-model", "parent", "graph-stage"])
def test_wrong_model_is_one_clear_line(moved: Path, tmp_path: Path, case: str):
    target = {"missing": tmp_path / "nope", "not-a-model": tmp_path, "parent": moved / "runs/qa/sample",
              "graph-stage": moved / "runs/graph/index"}[case]
    out = kgfm("qa", "who directed [Kismet]", "--model", str(target), cwd=tmp_path)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "expected a fine-tuned QA model folder" in lines[0], out.stderr
    if case == "parent":
        assert "it holds model/" in lines[0]
    if case == "graph-stage":
        assert "'entity-index' artifact" in lines[0]


@pytest.mark.parametrize("evidence", ["--evidence", "--no-evidence"])
def test_printed_cypher_runs_on_the_embedded_store_and_scores_are_shares(moved: Path, tmp_path: Path, evidence: str):
    from kgfm.store.factory import open_store

    out = kgfm("qa", "which movies did [Marlene Dietrich] act in", "--model", str(moved / "runs/qa/sample/model"),
               "--json", "-k", "4", evidence, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    payload = json.loads(out.stdout)
    answers = payload["answers"]
    assert [a["rank"] for a in answers] == [1, 2, 3, 4]
    shares = [a["score"] for a in answers]
    assert shares == sorted(shares, reverse=True)
    assert [a["cumulative"] for a in answers] == pytest.approx(list(np.cumsum(shares)), abs=1e-5)
    assert answers[-1]["cumulative"] <= 1.0 + 1e-6
    cypher = payload["cypher"]
    assert "allShortestPaths" not in cypher
    with open_store(StoreConfig(path=moved / ".kgfm/movies.lbug"), read_only=True) as store:
        rows = store.cypher(cypher)
    assert rows, cypher  # every answer is within 1 hop of the topic: at least one path comes back


def test_help_shows_the_brackets(tmp_path: Path):
    out = subprocess.run([*KGFM, "qa", "--help"], capture_output=True, text=True, timeout=120, cwd=tmp_path,
                         env={**os.environ, "COLUMNS": "200", "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    assert out.returncode == 0, out.stderr
    assert "[brackets] around the entity optional" in out.stdout, out.stdout
