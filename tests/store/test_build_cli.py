"""``kgfm build-graph`` / ``kgfm export`` as a user runs them (real subprocesses, real store):
hostile inputs end in one clear line, and an RDF file survives the round trip."""

from __future__ import annotations

import csv as csv_module
import gzip
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pyoxigraph as ox
import pytest

REPO = Path(__file__).resolve().parents[2]
KGFM = [sys.executable, "-c", "from kgfm.cli.main import main; main()"]


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([*KGFM, *args], capture_output=True, text=True, cwd=cwd, timeout=300, env=env)


def _report(folder: Path) -> dict:
    return json.loads((folder / ".kgfm" / "graph.build-graph.report.json").read_text())


def test_truncated_gzip_with_skip_writes_the_good_rows_and_names_the_break(tmp_path: Path) -> None:
    path = tmp_path / "kb.tsv.gz"
    data = gzip.compress("".join(f"e{i}\tr{i % 3}\te{i + 1}\n" for i in range(40_000)).encode())
    path.write_bytes(data[: len(data) * 2 // 3])
    out = run("build-graph", str(path), "--on-error", "skip", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    report = _report(tmp_path)
    assert 1_000 < report["triples_new"] < 40_000 and report["rejected"] == 1
    break_line = report["triples_new"] + 1
    warning = [line for line in out.stderr.splitlines() if "truncated" in line and "no name" not in line]
    assert warning == [f"kgfm: warning: {path}:{break_line}: " + warning[0].split(f"{path}:{break_line}: ", 1)[1]]
    rejects = (tmp_path / ".kgfm" / "graph.rejects.tsv").read_text().splitlines()
    assert rejects[0].split("\t")[:2] == [str(path), str(break_line)]
    failed = run("build-graph", str(path), "--path", "other/graph.lbug", cwd=tmp_path)
    assert failed.returncode == 2 and f"{path}:{break_line}" in failed.stderr and "Traceback" not in failed.stderr


def test_empty_input_exits_zero_with_a_warning(tmp_path: Path) -> None:
    empty = tmp_path / "empty.nt"
    empty.write_text("# nothing here\n")
    out = run("build-graph", str(empty), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert f"kgfm: warning: {empty}: no triples or entities in this file (empty?)" in out.stderr.splitlines()
    assert _report(tmp_path)["warnings"] == [f"{empty}: no triples or entities in this file (empty?)"]


def test_csv_ids_become_names_only_when_asked_and_an_unnamed_build_says_so(tmp_path: Path) -> None:
    csv = tmp_path / "people.csv"
    csv.write_text('head,relation,tail\n"Smith, John",works_at,Acme\nJane Doe,knows,"Smith, John"\n', encoding="utf-8")
    query = ["cypher", "MATCH (a:Entity)-[r]->(b:Entity) RETURN a.name AS head, b.name AS tail ORDER BY head, tail", "--json"]
    plain = run("build-graph", str(csv), cwd=tmp_path)
    assert plain.returncode == 0, plain.stderr
    warning = [line for line in plain.stderr.splitlines() if "no name" in line]
    assert len(warning) == 1 and f"{csv}: its 3 new entities have no name" in warning[0] and "--ids-as-names" in warning[0]
    assert json.loads(run(*query, cwd=tmp_path).stdout) == [{"head": None, "tail": None}] * 2
    named = run("build-graph", str(csv), "--ids-as-names", "--path", "named/graph.lbug", cwd=tmp_path)
    assert named.returncode == 0 and "no name" not in named.stderr, named.stderr
    rows = json.loads(run(*query, "--path", "named/graph.lbug", cwd=tmp_path).stdout)
    assert rows == [{"head": "Jane Doe", "tail": "Smith, John"}, {"head": "Smith, John", "tail": "Acme"}]
    as_csv = run(*query[:2], "--csv", "--path", "named/graph.lbug", cwd=tmp_path)  # a comma inside a name
    assert as_csv.returncode == 0 and list(csv_module.DictReader(io.StringIO(as_csv.stdout))) == rows
    ttl = tmp_path / "g.ttl"
    ttl.write_text("<urn:a> <urn:r> <urn:b> .\n", encoding="utf-8")
    refused = run("build-graph", str(ttl), "--ids-as-names", "--path", "rdf/graph.lbug", cwd=tmp_path)
    assert refused.returncode == 2 and "--ids-as-names is for TSV/CSV/pipe files" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1 and not (tmp_path / "rdf" / "graph.lbug").exists()


def test_rejects_pointing_at_a_directory_is_one_line(tmp_path: Path, graphs_dir: Path) -> None:
    (tmp_path / "rej").mkdir()
    out = run("build-graph", str(graphs_dir / "movies_kb.txt"), "--rejects", "rej", cwd=tmp_path)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == ["kgfm: error: rej: is a directory; --rejects needs a file path"]
    assert not (tmp_path / ".kgfm" / "graph.lbug").exists()


def test_rdf_syntax_error_writes_nothing(tmp_path: Path, graphs_dir: Path) -> None:
    bad = graphs_dir / "bad" / "syntax_error.ttl"
    out = run("build-graph", str(bad), cwd=tmp_path)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        f"kgfm: error: {bad}:6:22: Turtle syntax error: ; is not a valid RDF object; nothing was written"
    ]
    assert not (tmp_path / ".kgfm").exists()


def test_export_reproduces_the_rdf_file(tmp_path: Path, graphs_dir: Path) -> None:
    src = tmp_path / "g.ttl"
    src.write_text(
        (graphs_dir / "movies.ttl").read_text(encoding="utf-8")
        + '<rel/x> <http://e/p> "o", "o"^^<http://e/dt>, "o"@en, "line\\r\\nbreak" .\n',
        encoding="utf-8",
    )
    assert run("build-graph", str(src), "--base", "http://base.example/doc", cwd=tmp_path).returncode == 0
    for fmt in ("nq", "nt"):
        out = run("export", "--format", fmt, "-o", f"out.{fmt}", cwd=tmp_path)
        assert out.returncode == 0, out.stderr
        exported = ox.Dataset(ox.parse(path=str(tmp_path / f"out.{fmt}")))
        expected = ox.Dataset(ox.parse(path=str(src), base_iri="http://base.example/doc"))
        for d in (exported, expected):
            d.canonicalize(ox.CanonicalizationAlgorithm.UNSTABLE)
        assert set(exported) == set(expected)
    text = (tmp_path / "out.nq").read_text(encoding="utf-8")
    assert '<http://base.example/rel/x> <http://e/p> "line\\r\\nbreak" .' in text


def test_export_of_a_tsv_store_mints_iris(tmp_path: Path) -> None:
    kb = tmp_path / "kb.tsv"
    kb.write_text("/m/01\t/film/film/genre\t/m/02 x\n", encoding="utf-8")
    assert run("build-graph", str(kb), cwd=tmp_path).returncode == 0
    assert run("export", "--format", "nt", "-o", "out.nt", cwd=tmp_path).returncode == 0
    assert (tmp_path / "out.nt").read_text() == "<urn:kgfm:%2Fm%2F01> <urn:kgfm:%2Ffilm%2Ffilm%2Fgenre> <urn:kgfm:%2Fm%2F02%20x> .\n"
    # names and descriptions from a name file travel as rdfs:label / rdfs:comment, and read back as names
    names = tmp_path / "names.tsv"
    names.write_text("/m/01\tHeat\n", encoding="utf-8")
    named = run("build-graph", str(kb), "--names", f"{names}:name", "--path", "named/g.lbug", cwd=tmp_path)
    assert named.returncode == 0, named.stderr
    out = run("export", "--path", "named/g.lbug", "--format", "nt", "-o", "named.nt", cwd=tmp_path)
    assert out.returncode == 0 and "1 names/descriptions as rdfs:label/comment" in out.stdout, out.stdout
    label = '<urn:kgfm:%2Fm%2F01> <http://www.w3.org/2000/01/rdf-schema#label> "Heat" .'
    assert label in (tmp_path / "named.nt").read_text().splitlines()
    back = run("build-graph", "named.nt", "--path", "back/g.lbug", cwd=tmp_path)
    assert back.returncode == 0, back.stderr
    rows = json.loads(run("cypher", "MATCH (e:Entity) WHERE e.name IS NOT NULL RETURN e.name AS name", "--json",
                          "--path", "back/g.lbug", cwd=tmp_path).stdout)
    assert rows == [{"name": "Heat"}]


def test_build_pauses_automatic_gc_only_while_loading(tmp_path: Path, monkeypatch) -> None:
    """build_graph loads with automatic collection off (young collections by the loader) and
    gives the caller's gc state back, whether it was on or off and whether the load failed."""
    import gc

    from kgfm.store import loader as loader_mod
    from kgfm.store.build import BuildGraphConfig, run_build

    seen: list[bool] = []
    batch_done = loader_mod.GraphLoader._batch_done

    def spy(self, *args, **kwargs):
        seen.append(gc.isenabled())
        return batch_done(self, *args, **kwargs)

    monkeypatch.setattr(loader_mod.GraphLoader, "_batch_done", spy)
    kb = tmp_path / "kb.tsv"
    kb.write_text("a\tr\tb\nb\tr\tc\n", encoding="utf-8")
    config = BuildGraphConfig.model_validate({"sources": [{"path": str(kb)}], "store": {"path": str(tmp_path / "s.lbug")}})
    assert gc.isenabled()
    run_build(config, show_progress=False)
    assert seen and not any(seen) and gc.isenabled()
    gc.disable()
    try:
        run_build(config, show_progress=False)
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_bad_line_anywhere_writes_nothing_to_a_store_that_exists(tmp_path: Path) -> None:
    """``--on-error fail`` reads every file before the first write: a bad line past the first batch
    (65,536 lines) of a TSV, or in a name file read after the sources, leaves the store as it was."""
    good = tmp_path / "good.tsv"
    good.write_text("a\tr\tb\n", encoding="utf-8")
    assert run("build-graph", str(good), cwd=tmp_path).returncode == 0
    store = tmp_path / ".kgfm" / "graph.lbug"
    before = store.read_bytes(), _report(tmp_path)
    big = tmp_path / "big.tsv"
    big.write_text("".join(f"e{i}\tr\te{i + 1}\n" for i in range(70_000)) + "no tabs here\n", encoding="utf-8")
    names = tmp_path / "names.tsv"
    names.write_text("a\tAlpha\nb\n", encoding="utf-8")
    for args, where in (([str(big)], f"{big}:70001: expected 3 fields separated by TAB, got 1 -- 'no tabs here'"),
                        ([str(good), "--names", f"{names}:name"], f"{names}:2: expected id<TAB>text, found no TAB -- 'b'")):
        out = run("build-graph", *args, cwd=tmp_path)
        assert out.returncode == 2
        assert out.stderr.strip().splitlines()[-1] == (
            f"kgfm: error: {where} -- nothing was written (--on-error fail checks every file before the first "
            "write); fix the line, or use --on-error skip (in Python: on_error=\"skip\") to load the good rows and "
            "list the rejects")
        assert (store.read_bytes(), _report(tmp_path)) == before


def test_an_interrupted_replace_leaves_the_old_store_as_it_was(tmp_path: Path, monkeypatch) -> None:
    """``--replace`` builds beside the store and swaps it in only when complete: Ctrl-C in the middle
    changes nothing, and a staging file left by a killed run is not read into the next one."""
    import kgfm
    from kgfm.store import build

    old, new = tmp_path / "old.tsv", tmp_path / "new.tsv"
    old.write_text("a\tr\tb\nb\tr\tc\n", encoding="utf-8")
    new.write_text("x\tr\ty\n", encoding="utf-8")
    path = tmp_path / "g.lbug"
    kgfm.build_graph(old, path=path)
    before = path.read_bytes(), (tmp_path / "g.build-graph.report.json").read_bytes()
    loaded = build._load_source

    def interrupted(loader, spec, named_elsewhere=False):
        loaded(loader, spec, named_elsewhere)
        raise KeyboardInterrupt

    monkeypatch.setattr(build, "_load_source", interrupted)
    with pytest.raises(KeyboardInterrupt):
        kgfm.build_graph(new, path=path, replace=True)
    assert (path.read_bytes(), (tmp_path / "g.build-graph.report.json").read_bytes()) == before
    assert not (tmp_path / "g.lbug.replacing").exists() and not (tmp_path / "g.lbug.replacing.wal").exists()
    monkeypatch.setattr(build, "_load_source", loaded)
    (tmp_path / "g.lbug.replacing").write_bytes(b"left by a killed run")
    report = kgfm.build_graph(new, path=path, replace=True)
    assert (report.triples_new, report.triples_total, report.entities_total) == (1, 1, 2)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("g.")) == [
        "g.build-graph.report.json", "g.build-graph.yaml", "g.lbug"]


def test_value_entities_from_the_cli_and_a_note_for_the_literals_left_as_properties(tmp_path: Path) -> None:
    films = tmp_path / "films.ttl"
    films.write_text(
        '@prefix ex: <http://example.org/> .\n@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .\n'
        'ex:heat ex:releaseYear "1995"^^xsd:gYear ; ex:runtime 170 ; ex:genre "crime" ; ex:directedBy ex:mann .\n'
        'ex:collateral ex:releaseYear "2004"^^xsd:gYear ; ex:runtime 120 ; ex:genre "crime" .\n', encoding="utf-8")
    plain = run("build-graph", str(films), "--path", "plain.lbug", cwd=tmp_path)
    assert plain.returncode == 0, plain.stderr
    assert (f"kgfm: warning: {films}: 6 literal statements (genre 2, releaseYear 2, runtime 2) are entity properties, "
            "not triples") in plain.stderr and "--value-entities all" in plain.stderr
    some = run("build-graph", str(films), "--path", "some.lbug", "--value-entities", "releaseYear",
               "--value-entities", "http://example.org/genre", cwd=tmp_path)
    assert some.returncode == 0, some.stderr
    assert f"kgfm: warning: {films}: 2 literal statements (runtime 2) are entity properties" in some.stderr
    out = run("cypher", "MATCH (f:Entity)-[r]->(v:Entity) WHERE v.name = '1995' RETURN f.id, v.types", "--path",
              "some.lbug", "--json", cwd=tmp_path)
    assert json.loads(out.stdout) == [{"f.id": "http://example.org/heat", "v.types": ["gYear"]}]
    tsv = tmp_path / "t.tsv"
    tsv.write_text("a\tr\tb\n", encoding="utf-8")
    refused = run("build-graph", str(tsv), "--value-entities", "all", cwd=tmp_path)
    assert refused.returncode == 2 and refused.stderr.strip().splitlines() == [
        f"kgfm: error: {tsv}: --value-entities is for RDF files, not tsv: in TSV/CSV/pipe files every object is an "
        "entity already"]
    assert not (tmp_path / ".kgfm").exists()


def test_a_store_another_process_is_writing_is_refused_in_one_line(tmp_path: Path) -> None:
    """LadybugDB locks a store opened for writing; adding to it, or replacing it (which would swap the file
    from under that writer), is refused naming the writer's PID, and nothing changes."""
    good = tmp_path / "good.tsv"
    good.write_text("a\tr\tb\n", encoding="utf-8")
    assert run("build-graph", str(good), cwd=tmp_path).returncode == 0
    store = tmp_path / ".kgfm" / "graph.lbug"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import ladybug, sys; db = ladybug.Database(sys.argv[1]); c = ladybug.Connection(db); "
         "print('open', flush=True); sys.stdin.read()", str(store)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        more = tmp_path / "more.tsv"
        more.write_text("c\tr\td\n", encoding="utf-8")
        for extra in ((), ("--replace",)):
            out = run("build-graph", str(more), *extra, cwd=tmp_path)
            assert out.returncode == 2, out.stderr
            assert out.stderr.strip().splitlines() == [
                f"kgfm: error: .kgfm/graph.lbug: another process is writing this store (PID {holder.pid}: a "
                "build-graph or kgfm cypher --write); wait for it to finish"]
            assert not (tmp_path / ".kgfm" / "graph.lbug.replacing").exists()
    finally:
        holder.communicate("", timeout=60)
    count = run("cypher", "MATCH (:Entity)-[r]->(:Entity) RETURN count(*) AS n", "--json", cwd=tmp_path)
    assert json.loads(count.stdout) == [{"n": 1}]  # the refused builds wrote nothing (c -r-> d is not there)


def test_a_build_in_a_log_prints_a_line_per_interval_and_no_spinner(tmp_path: Path, monkeypatch, capsys) -> None:
    """Not on a terminal: no spinner frame in the log, and a line every ``BUILD_LOG_SECONDS`` with
    the records read (none for a build shorter than that)."""
    import kgfm.store.build as build
    from kgfm.config import StoreConfig

    kbs = [tmp_path / "kb1.tsv", tmp_path / "kb2.tsv"]
    for k, kb in enumerate(kbs):
        kb.write_text("".join(f"e{i}\tr{k}\te{i + 1}\n" for i in range(25)), encoding="utf-8")
    monkeypatch.setenv("KGFM_PROGRESS", "log")

    def run_in_process(store: str) -> list[str]:
        capsys.readouterr()
        cfg = build.BuildGraphConfig(store=StoreConfig(path=tmp_path / store),
                                     sources=[build.SourceSpec(path=kb) for kb in kbs])
        assert build.run_build(cfg).triples_new == 50
        return capsys.readouterr().err.splitlines()

    monkeypatch.setattr(build, "BUILD_LOG_SECONDS", 0.0)  # a line at every phase and batch (and tick)
    lines = [line.split(" in ")[0] for line in run_in_process("a.lbug")]
    phases = [line for k, line in enumerate(lines) if k == 0 or line != lines[k - 1]]  # a tick repeats a line
    assert phases == [f"build-graph: {what}" for what in (
        "checking kb1.tsv: 0 records read", "checking kb2.tsv: 0 records read",
        "loading kb1.tsv: 0 records read", "loading kb1.tsv: 25 records read",
        "loading kb2.tsv: 25 records read", "loading kb2.tsv: 50 records read",
        "writing the store (checkpoint): 50 records read")]
    monkeypatch.setattr(build, "BUILD_LOG_SECONDS", 30.0)
    assert run_in_process("b.lbug") == []
