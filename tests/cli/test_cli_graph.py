"""The graph commands as a user runs them: real subprocesses, real store on disk."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

KGFM = [sys.executable, "-m", "kgfm.cli.main"]


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([*KGFM, *args], capture_output=True, text=True, cwd=cwd, timeout=300)


def test_help_does_not_import_torch():
    code = "import sys, kgfm.cli.main as m; sys.argv=['kgfm','--help']\ntry: m.main()\nexcept SystemExit: pass\nprint('torch' in sys.modules, 'transformers' in sys.modules, 'ladybug' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip().splitlines()[-1] == "False False False", out.stdout + out.stderr


def test_build_graph_cypher_stats(tmp_path: Path, graphs_dir: Path):
    kb = graphs_dir / "movies_kb.txt"
    first = run("build-graph", str(kb), cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    report = json.loads((tmp_path / ".kgfm" / "graph.build-graph.report.json").read_text())
    assert report["triples_new"] == report["triples_read"] > 500 and report["rejected"] == 0
    assert (tmp_path / ".kgfm" / "graph.build-graph.yaml").is_file()
    again = run("build-graph", str(kb), cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    report2 = json.loads((tmp_path / ".kgfm" / "graph.build-graph.report.json").read_text())
    assert report2["triples_new"] == 0 and report2["triples_total"] == report["triples_total"]
    movie = kb.read_text(encoding="utf-8").splitlines()[0].split("|")[0]
    out = run("cypher", "MATCH (m:Entity {id: $id})-[r]->(x:Entity) RETURN x.id AS tail ORDER BY tail", "--param", f"id={movie}", "--json", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    expected = sorted({line.split("|")[2] for line in kb.read_text(encoding="utf-8").splitlines() if line.startswith(movie + "|")})
    assert [row["tail"] for row in json.loads(out.stdout)] == expected
    as_csv = run("cypher", "MATCH (m:Entity {id: $id}) RETURN m.id AS id, m.types AS types, m.description AS d",
                 "--param", f"id={movie}", "--csv", cwd=tmp_path)
    assert as_csv.returncode == 0 and as_csv.stdout == f"id,types,d\n{movie},[],\n"  # a list as JSON, null empty
    refused = run("cypher", "CREATE (e:Entity {id: 'x'})", cwd=tmp_path)
    assert refused.returncode == 2 and "read-only" in refused.stderr and "Traceback" not in refused.stderr
    label = run("cypher", "MATCH (m:Movie) RETURN m.name", cwd=tmp_path)
    assert label.returncode == 2 and "Traceback" not in label.stderr and len(label.stderr.strip().splitlines()) == 1
    assert "directed_by, has_genre," in label.stderr and "WHERE 'Movie' IN e.types" in label.stderr
    rel = run("cypher", "MATCH (m:Entity)-[:directed_by|DIRECTOR]->(d) RETURN d.name", cwd=tmp_path)
    assert rel.returncode == 2 and "directed_by, has_genre," in rel.stderr and "e.types" not in rel.stderr
    # Neo4j habits on the embedded store: one line saying what LadybugDB's Cypher wants instead
    for query, hint in (
        ("MATCH (m:Entity)-[r]->() RETURN type(r) LIMIT 1", "for type() write label(r), or r.predicate"),
        ("MATCH p = shortestPath((a:Entity)-[*..3]-(b:Entity)) RETURN p", "write the pattern (a)-[* SHORTEST 1..5]-(b)"),
        ("MATCH (m:Entity) RETURN [t IN m.types | toUpper(t)]", "list_transform(list, x -> f(x))"),
    ):
        out = run("cypher", query, cwd=tmp_path)
        assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1, out.stderr
        assert "the embedded store speaks LadybugDB's Cypher: " in out.stderr and hint in out.stderr, out.stderr
    # columns are named as Neo4j names them (LadybugDB's own: COUNT_STAR(), LOWER(m.name)), and two of one name refused
    out = run("cypher", "MATCH (m:Entity)-[r:directed_by]->(d:Entity) RETURN toLower(d.name), lower(d.name), count(*) "
              "ORDER BY count(*) DESC, toLower(d.name) LIMIT 1", "--json", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert list(json.loads(out.stdout)[0]) == ["toLower(d.name)", "lower(d.name)", "count(*)"]
    twice = run("cypher", "MATCH (m:Entity) RETURN m.name, m.name LIMIT 1", cwd=tmp_path)
    assert twice.returncode == 2 and "two result columns are named 'm.name'" in twice.stderr
    stats = run("stats", cwd=tmp_path)
    assert stats.returncode == 0, stats.stderr
    result = json.loads((tmp_path / ".kgfm" / "graph.stats" / "stats.json").read_text())
    assert result["triples"] == report["triples_total"]
    assert (tmp_path / ".kgfm" / "graph.stats" / "stats.png").stat().st_size > 1000


def test_bad_input_is_one_clear_line(tmp_path: Path, graphs_dir: Path):
    bad = graphs_dir / "bad" / "bad_fields.tsv"
    failed = run("build-graph", str(bad), cwd=tmp_path)
    assert failed.returncode == 2 and "Traceback" not in failed.stderr
    assert f"{bad}:3" in failed.stderr
    skipped = run("build-graph", str(bad), "--on-error", "skip", cwd=tmp_path)
    assert skipped.returncode == 0, skipped.stderr
    assert len((tmp_path / ".kgfm" / "graph.rejects.tsv").read_text().splitlines()) == 2
    unknown = run("build-graph", "x.unknown", cwd=tmp_path)
    assert unknown.returncode == 2 and "--format" in unknown.stderr


def test_two_stores_in_one_folder_keep_their_own_reports(tmp_path: Path, graphs_dir: Path):
    kb, ttl = graphs_dir / "movies_kb.txt", graphs_dir / "movies.ttl"
    assert run("build-graph", str(kb), cwd=tmp_path).returncode == 0
    rdf = run("build-graph", str(ttl), "--path", ".kgfm/rdf.lbug", cwd=tmp_path)
    assert rdf.returncode == 0, rdf.stderr
    default = json.loads((tmp_path / ".kgfm" / "graph.build-graph.report.json").read_text())
    other = json.loads((tmp_path / ".kgfm" / "rdf.build-graph.report.json").read_text())
    assert default["files"] == [str(kb)] and other["files"] == [str(ttl)]
    assert "rdf.lbug" in (tmp_path / ".kgfm" / "rdf.build-graph.yaml").read_text()
    assert "rdf.lbug" not in (tmp_path / ".kgfm" / "graph.build-graph.yaml").read_text()
    assert not (tmp_path / ".kgfm" / "build-graph.report.json").exists()
