"""The graph commands on the Neo4j backend, through the real CLI against a real Bolt server
(CI: ArcadeDB speaking Bolt, scripts/bolt_server.sh; or Neo4j 5 from docker/compose.yaml).
The server's data is deleted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

KGFM = [sys.executable, "-m", "kgfm.cli.main"]

pytestmark = pytest.mark.neo4j


def run(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([*KGFM, *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=600)


def test_build_graph_on_bolt_matches_embedded(tmp_path: Path, graphs_dir: Path, neo4j_env):
    kb = graphs_dir / "movies_kb.txt"
    wiped = run("cypher", "--write", "MATCH (n) DETACH DELETE n", "--store", "neo4j", cwd=tmp_path, env=neo4j_env)
    assert wiped.returncode == 0, wiped.stderr
    embedded = run("build-graph", str(kb), "--path", str(tmp_path / ".kgfm" / "e.lbug"), cwd=tmp_path, env=neo4j_env)
    assert embedded.returncode == 0, embedded.stderr
    e_report = json.loads((tmp_path / ".kgfm" / "e.build-graph.report.json").read_text())
    bolt = run("build-graph", str(kb), "--store", "neo4j", cwd=tmp_path, env=neo4j_env)
    assert bolt.returncode == 0, bolt.stderr
    b_report = json.loads((tmp_path / ".kgfm" / f"neo4j-{neo4j_env.get('KGFM_NEO4J_DATABASE') or 'neo4j'}.build-graph.report.json").read_text())
    keys = ("entities_total", "relations_total", "triples_total", "triples_new", "rejected")
    assert {k: b_report[k] for k in keys} == {k: e_report[k] for k in keys}
    query = "MATCH (m:Entity)-[:directed_by]->(d:Entity) RETURN d.name AS d, count(m) AS n ORDER BY n DESC, d LIMIT 5"
    rows = [json.loads(run("cypher", query, *where, "--json", cwd=tmp_path, env=neo4j_env).stdout)
            for where in (("--path", str(tmp_path / ".kgfm" / "e.lbug")), ("--store", "neo4j"))]
    assert rows[0] == rows[1] and len(rows[0]) == 5
    again = run("build-graph", str(kb), "--store", "neo4j", cwd=tmp_path, env=neo4j_env)
    assert again.returncode == 0, again.stderr
    assert json.loads((tmp_path / ".kgfm" / f"neo4j-{neo4j_env.get('KGFM_NEO4J_DATABASE') or 'neo4j'}.build-graph.report.json").read_text())["triples_new"] == 0
    refused = run("cypher", "MATCH (n) DETACH DELETE n", "--store", "neo4j", cwd=tmp_path, env=neo4j_env)
    assert refused.returncode == 2 and "--write" in refused.stderr and "Traceback" not in refused.stderr
    count = run("cypher", "MATCH (n:Entity) RETURN count(n) AS n", "--store", "neo4j", "--json", cwd=tmp_path, env=neo4j_env)
    assert json.loads(count.stdout) == [{"n": e_report["entities_total"]}]
