"""``kgfm.start_server``: the same server from Python, in a background thread of this process (a
notebook keeps working while it answers), stopped cleanly."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]


def test_start_server_answers_like_the_cli_and_stops(sample_model: Path, fds):
    import kgfm

    question = "who directed [Orchard of Havana]"
    cli = subprocess.run([sys.executable, "-m", "kgfm.cli.main", "qa", question, "--model", str(sample_model),
                          "--json", "-k", "3"], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert cli.returncode == 0, cli.stderr
    expected = json.loads(cli.stdout)
    before = {t.name for t in threading.enumerate()}
    assert fds(sample_model.parents[1] / "movies.lbug") == 0  # tests/serve/conftest.py: <root>/movies.lbug
    server = kgfm.start_server(sample_model, limits={"max_rows": 3})
    try:
        assert fds(sample_model.parents[1] / "movies.lbug") >= 1
        assert server.running and server.url.startswith("http://127.0.0.1:") and not server.url.endswith(":0")
        got = httpx.post(server.url + "/qa", json={"question": question, "top_k": 3}, timeout=60).json()
        expected.pop("seconds"), got.pop("seconds")
        assert got == expected
        rows = httpx.post(server.url + "/cypher", json={"query": "MATCH (e:Entity) RETURN count(*)"}, timeout=60).json()
        assert rows["columns"] == ["count(*)"] and rows["rows"] == [{"count(*)": 266}]
        capped = httpx.post(server.url + "/cypher", json={"query": "MATCH (e:Entity) RETURN e.id"}, timeout=60).json()
        assert capped["row_count"] == 3 and capped["truncated"] is True  # the limits given here
    finally:
        server.stop()
    assert not server.running and {t.name for t in threading.enumerate()} == before
    with pytest.raises(httpx.ConnectError):
        httpx.get(server.url + "/health", timeout=5)
    assert fds(sample_model.parents[1] / "movies.lbug") == 0  # the server closed its store


def test_start_server_on_a_busy_port_is_one_error_before_loading(sample_model: Path):
    import kgfm
    from kgfm.serve.server import BindError

    with kgfm.start_server(sample_model) as first:
        port = int(first.url.rsplit(":", 1)[1])
        with pytest.raises(BindError, match=rf"127.0.0.1:{port}: cannot listen here"):
            kgfm.start_server(sample_model, port=port)
        assert httpx.get(first.url + "/health", timeout=30).json()["status"] == "ok"
