"""``kgfm cypher`` without ``--write`` changes nothing: not the store, not the filesystem.

A real LadybugDB store on disk; each refused statement goes through the real CLI, and the store
folder and a watched folder (an existing CSV that ``COPY ... TO`` would overwrite, a target for
``EXPORT DATABASE``) are hashed before and after.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kgfm.cli.main import app

KGFM = [sys.executable, "-m", "kgfm.cli.main"]


def tree_digest(*roots: Path) -> dict[str, str]:
    """Every file under ``roots`` (relative name -> sha256), and every folder."""
    out: dict[str, str] = {}
    for root in roots:
        for p in sorted(root.rglob("*")):
            key = f"{root.name}/{p.relative_to(root)}"
            out[key] = "dir" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest()
    return out


@pytest.fixture(scope="module")
def built(tmp_path_factory, graphs_dir: Path) -> Path:
    root = tmp_path_factory.mktemp("ro")
    store = root / "store" / "g.lbug"
    done = subprocess.run([*KGFM, "build-graph", str(graphs_dir / "movies_kb.txt"), "--path", str(store)],
                          capture_output=True, text=True, timeout=300, cwd=root)
    assert done.returncode == 0, done.stderr
    return store


@pytest.fixture
def sandbox(built: Path, tmp_path: Path) -> tuple[Path, Path]:
    store_dir = tmp_path / "store"
    shutil.copytree(built.parent, store_dir)
    watched = tmp_path / "watched"
    watched.mkdir()
    (watched / "existing.csv").write_text("keep me\n", encoding="utf-8")
    return store_dir / built.name, watched


REFUSED = [
    "CHECKPOINT",
    "/* harmless? */ checkpoint;",
    "COPY (MATCH (n:Entity) RETURN n.id LIMIT 2) TO '{w}/existing.csv'",
    "COPY (MATCH (n:Entity) RETURN n.id) TO '{w}/new.parquet'",
    "EXPORT DATABASE '{w}/export'",
    "IMPORT DATABASE '{w}/export'",
    "INSTALL json",
    "LOAD EXTENSION json",
    "LOAD json",
    "ATTACH '{w}/other.lbug' AS other (dbtype lbug)",
    "CREATE (e:Entity {{id: 'intruder', idx: 999999}})",
    "MATCH (n:Entity) SET n.name = 'x'",
    "MATCH (n:Entity) DETACH DELETE n",
    "DROP TABLE Entity",
    "ALTER TABLE Entity ADD extra INT64",
    "CREATE NODE TABLE Extra(id STRING PRIMARY KEY)",
    "CALL threads=1",
    "MATCH (n:Entity) RETURN n.id LIMIT 1; CREATE (m:Entity {{id: 'y', idx: 999998}})",
    "MATCH (n:Entity) WITH n LIMIT 1 CALL {{ CREATE (m:Entity {{id: 'z', idx: 999997}}) }} RETURN n",
]


@pytest.mark.parametrize("statement", REFUSED)
def test_refused_statement_changes_nothing(sandbox, statement):
    store, watched = sandbox
    query = statement.format(w=watched)
    before = tree_digest(store.parent, watched)
    result = CliRunner().invoke(app, ["cypher", query, "--path", str(store)])
    assert result.exit_code == 2, result.output
    assert "--write" in result.output and "read-only query refused" in result.output
    assert tree_digest(store.parent, watched) == before
    # ...and the store still opens read-only afterwards (no recovery left pending).
    after = CliRunner().invoke(app, ["cypher", "MATCH (n:Entity) RETURN count(n) AS n", "--path", str(store), "--json"])
    assert after.exit_code == 0, after.output
    assert tree_digest(store.parent, watched) == before


def test_a_read_changes_nothing_either(sandbox):
    store, watched = sandbox
    before = tree_digest(store.parent, watched)
    out = subprocess.run([*KGFM, "cypher", "MATCH (m:Entity)-[:directed_by]->(d:Entity) RETURN d.name AS d, count(m) AS n "
                          "ORDER BY n DESC, d LIMIT 3", "--path", str(store)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "3 row(s)" in out.stdout
    assert tree_digest(store.parent, watched) == before


def test_the_watch_sees_a_write_when_write_is_given(sandbox):
    # The same COPY ... TO with --write does overwrite the file: the digest above can fail.
    store, watched = sandbox
    before = tree_digest(watched)
    query = f"COPY (MATCH (n:Entity) RETURN n.id LIMIT 2) TO '{watched}/existing.csv'"
    out = subprocess.run([*KGFM, "cypher", query, "--write", "--path", str(store)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert tree_digest(watched) != before


def test_refusal_through_a_real_process_is_one_line(sandbox):
    store, _ = sandbox
    out = subprocess.run([*KGFM, "cypher", "EXPORT DATABASE '/tmp/never'", "--path", str(store)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert out.stderr.strip().count("\n") == 0 and "Traceback" not in out.stderr
    assert "EXPORT" in out.stderr and "--write" in out.stderr


def test_pending_recovery_names_the_command_that_recovers(sandbox):
    """An interrupted checkpoint (here produced by LadybugDB's own read-only CHECKPOINT bug, the
    state a kill -9 mid-checkpoint leaves) makes read-only opens fail: the message says what to run."""
    import ladybug

    store, _ = sandbox
    query = "MATCH (n:Entity) RETURN count(n) AS n"
    first = CliRunner().invoke(app, ["cypher", query, "--path", str(store), "--json"])
    assert first.exit_code == 0, first.output
    db = ladybug.Database(str(store), read_only=True)
    conn = ladybug.Connection(db)
    try:
        conn.execute("CHECKPOINT")
    except RuntimeError:
        pass
    conn.close()
    db.close()
    if not Path(str(store) + ".wal").exists():
        pytest.skip("this LadybugDB version no longer leaves a pending recovery after a failed checkpoint")
    out = subprocess.run([*KGFM, "cypher", query, "--path", str(store)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert f"kgfm cypher --write 'RETURN 1' --path {store}" in out.stderr
    fix = subprocess.run([*KGFM, "cypher", "--write", "RETURN 1", "--path", str(store)], capture_output=True, text=True, timeout=120)
    assert fix.returncode == 0, fix.stderr
    again = subprocess.run([*KGFM, "cypher", query, "--path", str(store), "--json"], capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout) == json.loads(first.output) and json.loads(first.output)[0]["n"] > 100
