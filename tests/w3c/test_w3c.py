"""The W3C RDF 1.1 conformance suites (N-Triples, N-Quads, Turtle, TriG, RDF/XML: 992 tests)
through the real ``kgfm build-graph`` command, in process (Typer's runner calls the same
function the console script does), and a few through the console script itself.

* negative tests: exit 2, one line on stderr ``kgfm: error: FILE:LINE[:COL]: reason``, no
  traceback, no store created;
* positive tests: exit 0, and the store exported back (``kgfm export --format nq``) equals the
  expected graph up to blank-node renaming: ``mf:result`` for evaluation tests, else the graph
  pyoxigraph itself reads (base IRI = ``mf:assumedTestBase`` + the file's path).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pyoxigraph as ox
import pytest
from typer.testing import CliRunner

import typer
import typer.testing

from kgfm.cli.main import app
from tests.w3c.manifest import FORMAT_OF_SUITE, REPO, SUITES, W3C, W3CTest, load_suite

SKIP = f"W3C RDF test suites not found at {W3C} (see ../shared/data/w3c-rdf-tests/SOURCE.md)"
ALL: list[W3CTest] = [t for suite in SUITES for t in load_suite(suite)] if W3C.is_dir() else []
CLI = typer.main.get_command(app)  # built once: the same click command the console script runs




@pytest.fixture
def store_dir(tmp_path: Path):
    """A fresh folder for the store: in ``/dev/shm`` (tmpfs) where there is one, since 680
    LadybugDB stores are created and checkpointed; the database is the same on any filesystem."""
    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK)):
        yield tmp_path
        return
    folder = Path(tempfile.mkdtemp(prefix="kgfm-w3c-", dir=shm))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def runner(monkeypatch) -> CliRunner:
    """Typer's runner, without rebuilding the click command on every call (~45 ms each)."""
    monkeypatch.setattr(typer.testing, "_get_command", lambda _app: CLI)
    return CliRunner()

RESULT_FORMAT = {".nt": ox.RdfFormat.N_TRIPLES, ".nq": ox.RdfFormat.N_QUADS}


def _canonical(quads) -> set:
    dataset = ox.Dataset(quads)
    dataset.canonicalize(ox.CanonicalizationAlgorithm.UNSTABLE)
    return set(dataset)


def expected_graph(test: W3CTest) -> set:
    if test.result is not None:
        return _canonical(ox.parse(path=str(test.result), format=RESULT_FORMAT[test.result.suffix]))
    fmt = {"nt": ox.RdfFormat.N_TRIPLES, "nquads": ox.RdfFormat.N_QUADS, "turtle": ox.RdfFormat.TURTLE,
           "trig": ox.RdfFormat.TRIG, "xml": ox.RdfFormat.RDF_XML}[FORMAT_OF_SUITE[test.suite]]
    return _canonical(ox.parse(path=str(test.action), format=fmt, base_iri=test.base or test.action.resolve().as_uri()))


def build_args(test: W3CTest, store: Path) -> list[str]:
    base = ["--base", test.base] if test.base else []
    return ["build-graph", str(test.action), "--format", FORMAT_OF_SUITE[test.suite], *base, "--path", str(store)]


def check_negative(code: int, stderr: str, test: W3CTest, store: Path) -> None:
    assert code == 2, f"{test.name}: accepted (exit {code})"
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, f"{test.name}: expected one line, got:\n{stderr}"
    assert "Traceback" not in stderr
    assert re.match(rf"kgfm: error: {re.escape(str(test.action))}:\d+(:\d+)?: \S", lines[0]), lines[0]
    assert not store.exists(), f"{test.name}: a store was written for a rejected file"


@pytest.mark.skipif(not W3C.is_dir(), reason=SKIP)
@pytest.mark.parametrize("test", ALL, ids=[f"{t.suite}/{t.name}" for t in ALL])
def test_w3c(test: W3CTest, store_dir: Path, runner: CliRunner) -> None:
    store = store_dir / "graph.lbug"
    result = runner.invoke(app, build_args(test, store))
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit), result.exc_info
    if test.negative:
        check_negative(result.exit_code, result.stderr, test, store)
        return
    assert result.exit_code == 0, f"{test.name}: rejected: {result.stderr}"
    out = store_dir / "export.nq"
    exported = runner.invoke(app, ["export", "--path", str(store), "--format", "nq", "-o", str(out)])
    assert exported.exit_code == 0, exported.stderr
    assert _canonical(ox.parse(path=str(out), format=ox.RdfFormat.N_QUADS)) == expected_graph(test)


CLI_SAMPLE = ["rdf-turtle/turtle-syntax-bad-num-01", "rdf-n-triples/nt-syntax-bad-uri-01",
              "rdf-xml/rdfms-rdf-id-error001", "rdf-trig/trig-eval-struct-01"]


@pytest.mark.skipif(not W3C.is_dir(), reason=SKIP)
@pytest.mark.parametrize("key", CLI_SAMPLE)
def test_w3c_through_console_script(key: str, tmp_path: Path) -> None:
    suite, name = key.split("/")
    test = next(t for t in ALL if t.suite == suite and t.name == name)
    store = tmp_path / "graph.lbug"
    kgfm = [sys.executable, "-c", "from kgfm.cli.main import main; main()"]
    result = subprocess.run([*kgfm, *build_args(test, store)], capture_output=True, text=True, cwd=tmp_path,
                            timeout=120, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    if test.negative:
        check_negative(result.returncode, result.stderr, test, store)
    else:
        assert result.returncode == 0, result.stderr
