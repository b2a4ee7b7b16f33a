"""A user's graph grows after `kgfm auto`: new films are answerable after `kgfm extend-index`, no retraining.

Real subprocesses in a fresh folder: the bundled sample KB without three films, `kgfm auto`, then
`build-graph` of those films' facts. `kgfm qa` must refuse in one line naming the fix, then answer
the new films' directors after `kgfm extend-index` (the model was never trained on these films).
A `kgfm serve` started before the new facts keeps answering throughout: SIGHUP before
`extend-index` fails in one line and changes nothing; SIGHUP after it serves the new films.
On both stores: the embedded one, and a Bolt server (marked neo4j; CI: ArcadeDB speaking Bolt,
`scripts/bolt_server.sh`; its data is deleted).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

KGFM = [sys.executable, "-m", "kgfm.cli.main"]
HELD = ("Kingdom of Kyoto", "The Velvet Garden", "Return to Bruges")


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([*KGFM, *args], capture_output=True, text=True, cwd=cwd, timeout=600)


def _store_options(backend: str, cwd: Path, request: pytest.FixtureRequest) -> list[str]:
    """``--store neo4j`` on an emptied Bolt server (skips without one), nothing for the embedded store."""
    if backend == "embedded":
        return []
    request.getfixturevalue("neo4j_env")  # tests/conftest.py: skips (or fails) without a Bolt server
    wiped = run("cypher", "--write", "MATCH (n) DETACH DELETE n", "--store", "neo4j", cwd=cwd)
    assert wiped.returncode == 0, wiped.stderr
    return ["--store", "neo4j"]


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["embedded", pytest.param("neo4j", marks=pytest.mark.neo4j)])
def test_films_added_after_training_are_answered_after_extend_index(tmp_path: Path, graphs_dir: Path, backend: str,
                                                                    request: pytest.FixtureRequest):
    lines = (graphs_dir / "movies_kb.txt").read_text(encoding="utf-8").splitlines()
    (tmp_path / "base.txt").write_text("\n".join(x for x in lines if x.split("|")[0] not in HELD) + "\n", encoding="utf-8")
    new = [x for x in lines if x.split("|")[0] in HELD]
    (tmp_path / "new.txt").write_text("\n".join(new) + "\n", encoding="utf-8")
    directors = {x.split("|")[0]: x.split("|")[2] for x in new if x.split("|")[1] == "directed_by"}
    assert set(directors) == set(HELD)
    store = _store_options(backend, tmp_path, request)
    assert run("build-graph", "base.txt", *store, cwd=tmp_path).returncode == 0
    res = run("auto", "--graph-minutes", "0.3", "--qa-minutes", "1", "--set", "run.threads=1", *store, cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    model = "runs/auto/qa/model"
    server, url, log = _serve(model, tmp_path)
    try:
        _grow_and_extend(tmp_path, model, directors, server, url, log, store)
    finally:
        server.send_signal(signal.SIGINT)
        assert server.wait(timeout=60) == 0, log.read_text(encoding="utf-8")[-2000:]


def _grow_and_extend(tmp_path: Path, model: str, directors: dict, server: subprocess.Popen, url: str,
                     log: Path, store: list[str]) -> None:
    entities = httpx.get(url + "/health", timeout=30).json()["entities"]
    assert run("build-graph", "new.txt", *store, cwd=tmp_path).returncode == 0

    refused = run("qa", "--model", model, "who directed [Kingdom of Kyoto]", cwd=tmp_path)
    assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1, refused.stderr
    assert f"`kgfm extend-index --model {model}` embeds them" in refused.stderr
    failed = _hangup(server, log, "reload failed")
    assert "still serving the model loaded at" in failed and "kgfm extend-index" in failed, failed
    assert httpx.get(url + "/health", timeout=30).json()["entities"] == entities

    index = tmp_path / "runs" / "auto" / "graph" / "index" / "embeddings.safetensors"
    trained_bytes = index.read_bytes()
    extended = run("extend-index", "--model", model, cwd=tmp_path)
    assert extended.returncode == 0 and "added, embedded by the trained graph encoder" in extended.stdout, extended.stderr
    assert index.read_bytes() != trained_bytes

    for film, director in directors.items():
        ask = run("qa", "--model", model, "--json", f"who directed [{film}]", cwd=tmp_path)
        assert ask.returncode == 0, ask.stderr[-2000:]
        answer = json.loads(ask.stdout)
        assert answer["topic"]["id"] == film and answer["answers"][0]["id"] == director, answer["answers"][:3]
        assert answer["answers"][0]["paths"], "evidence read from the grown store"

    reloaded = _hangup(server, log, "reloaded in")
    health = httpx.get(url + "/health", timeout=30).json()
    assert health["reloads"] == 1 and health["entities"] > entities and f"(was {entities:,})" in reloaded
    for film, director in directors.items():
        got = httpx.post(url + "/qa", json={"question": f"who directed [{film}]", "top_k": 3}, timeout=60).json()
        assert got["topic"]["id"] == film and got["answers"][0]["id"] == director, got


def _serve(model: str, cwd: Path) -> tuple[subprocess.Popen, str, Path]:
    """`kgfm serve` on a free port in ``cwd``; returns (process, url, log)."""
    log = cwd / "serve.log"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.Popen([*KGFM, "serve", "--model", model, "--port", "0", "--threads", "1", "--no-access-log"],
                            stdout=log.open("w", encoding="utf-8"), stderr=subprocess.STDOUT, cwd=cwd, env=env)
    line = _wait_for(proc, log, "ready on ")
    return proc, re.search(r"ready on (http://[\d.]+:\d+)", line).group(1), log


def _hangup(proc: subprocess.Popen, log: Path, needle: str) -> str:
    """Send SIGHUP; the server's line containing ``needle``."""
    done = len(log.read_text(encoding="utf-8").splitlines())
    proc.send_signal(signal.SIGHUP)
    return _wait_for(proc, log, needle, after=done)


def _wait_for(proc: subprocess.Popen, log: Path, needle: str, after: int = 0, timeout: float = 300) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        lines = log.read_text(encoding="utf-8").splitlines()[after:]
        found = [x for x in lines if needle in x]
        if found:
            return found[0]
        time.sleep(0.1)
    raise AssertionError(f"no {needle!r} from kgfm serve:\n{log.read_text(encoding='utf-8')[-3000:]}")
