"""``kgfm questions`` as a user runs it: real subprocesses, a real LadybugDB store on disk."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from kgfm.artifacts import read_manifest
from kgfm.qa.metaqa import read_qa_file

KGFM = [sys.executable, "-m", "kgfm.cli.main"]


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([*KGFM, *args], capture_output=True, text=True, cwd=cwd, timeout=300)


@pytest.fixture(scope="module")
def sample_store(tmp_path_factory, graphs_dir: Path) -> Path:
    root = tmp_path_factory.mktemp("sample")
    out = run("build-graph", str(graphs_dir / "movies_kb.txt"), "--path", str(root / "movies.lbug"), cwd=root)
    assert out.returncode == 0, out.stderr
    return root / "movies.lbug"


def kb_index(graphs_dir: Path) -> tuple[dict, dict]:
    fwd: dict[tuple[str, str], set[str]] = {}
    inv: dict[tuple[str, str], set[str]] = {}
    for line in (graphs_dir / "movies_kb.txt").read_text(encoding="utf-8").splitlines():
        h, r, t = line.split("|")
        fwd.setdefault((h, r), set()).add(t)
        inv.setdefault((t, r), set()).add(h)
    return fwd, inv


def test_cli_end_to_end_on_the_bundled_sample(sample_store: Path, graphs_dir: Path, tmp_path: Path):
    out_dir = tmp_path / "q"
    res = run("questions", "--path", str(sample_store), "--out", str(out_dir), "--topics", "200", "--hops", "1,2",
              "--per-hop", "400", "--seed", "1", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)
    manifest = read_manifest(out_dir, "generated-questions")  # every checksum verified
    assert set(manifest["files"]) == {"questions.jsonl", "train.txt", "valid.txt", "train_qtype.txt", "valid_qtype.txt"}
    rows = [json.loads(line) for line in (out_dir / "questions.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(rows) == summary["counts"]["questions"] > 300
    assert set(rows[0]) >= {"question", "topic", "answers", "hops", "path", "template", "split"}
    # hand-check every 1-hop answer set against the kb file itself
    fwd, inv = kb_index(graphs_dir)
    one = [r for r in rows if r["hops"] == 1]
    for r in one:
        step = r["path"][0]
        table = inv if step["direction"] == "inverse" else fwd
        assert set(r["answers"]) == table[(r["topic"], step["relation"])] - {r["topic"]}, r
    assert {r["path"][0]["direction"] for r in one} == {"forward", "inverse"}
    # the MetaQA-format files are what `data.dataset: files` fine-tuning reads
    train = read_qa_file(out_dir / "train.txt", out_dir / "train_qtype.txt")
    valid = read_qa_file(out_dir / "valid.txt")
    assert len(train) + len(valid) == len(rows) and not {e.topic for e in train} & {e.topic for e in valid}
    assert all(e.qtype for e in train)
    # same seed, same bytes (the manifest's 'created' aside)
    again = tmp_path / "q2"
    assert run("questions", "--path", str(sample_store), "--out", str(again), "--topics", "200", "--hops", "1,2",
               "--per-hop", "400", "--seed", "1", cwd=tmp_path).returncode == 0
    for name in ("questions.jsonl", "train.txt", "valid.txt"):
        assert (again / name).read_bytes() == (out_dir / name).read_bytes()


def test_rdf_sample_uses_types_and_predicate_names(tmp_path: Path, graphs_dir: Path):
    store = tmp_path / "ttl.lbug"
    assert run("build-graph", str(graphs_dir / "movies.ttl"), "--path", str(store), cwd=tmp_path).returncode == 0
    res = run("questions", "--path", str(store), "--out", str(tmp_path / "q"), "--topics", "100", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    manifest = read_manifest(tmp_path / "q")
    words = manifest["relation_words"]
    assert words["director"]["head_noun"] == "movie" and words["inLanguage"]["noun"] == "language"
    texts = (tmp_path / "q" / "train.txt").read_text(encoding="utf-8")
    assert "movie" in texts and "_:b" not in texts  # rdf:type noun used; nameless blank nodes never asked about


def test_bad_inputs_one_line_errors_and_warnings(sample_store: Path, tmp_path: Path):
    # a store with no relations
    from kgfm.store.embedded import EmbeddedStore

    empty = tmp_path / "empty.lbug"
    with EmbeddedStore(empty) as db:
        db.ensure_schema()
    res = run("questions", "--path", str(empty), "--out", str(tmp_path / "e"), cwd=tmp_path)
    assert res.returncode == 2 and "no relations" in res.stderr and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and not (tmp_path / "e").exists()
    # a relation-text file with unknown ids and bad lines: warnings with counts, still written
    rel = tmp_path / "rel.txt"
    rel.write_text("directed_by\tdirected by\nbogus_rel\tx\nno tab\n", encoding="utf-8")
    res = run("questions", "--path", str(sample_store), "--out", str(tmp_path / "w"), "--relation-text", str(rel),
              "--topics", "99999", "--per-hop", "100", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "1 bad line(s) skipped" in res.stderr and "1 of 2 id(s) are not relations" in res.stderr
    assert "--topics 99999 is more than the" in res.stderr and "Traceback" not in res.stderr
    # unusable relation-text file / bad --hops: one line, exit 2
    bad = tmp_path / "bad.txt"
    bad.write_text("nothing useful\n", encoding="utf-8")
    for args in (["--relation-text", str(bad)], ["--hops", "1,x"], ["--hops", "4"]):
        res = run("questions", "--path", str(sample_store), "--out", str(tmp_path / "b"), *args, cwd=tmp_path)
        assert res.returncode == 2 and "Traceback" not in res.stderr, res.stderr
        assert len(res.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_auto_chain_rdf_to_qa_model(tmp_path: Path, graphs_dir: Path):
    """`kgfm build-graph my.ttl` + `kgfm auto`, then `kgfm qa` answers from the model it wrote."""
    assert run("build-graph", str(graphs_dir / "movies.ttl"), cwd=tmp_path).returncode == 0
    res = run("auto", "--out", "runs/auto", "--topics", "100", "--per-hop", "150", "--graph-minutes", "0.3",
              "--qa-minutes", "2", "--set", "train.epochs=3", "--set", "run.threads=1", cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "done: kgfm qa --model runs/auto/qa/model" in res.stdout
    assert "kgfm auto: graph encoder + index done" in res.stdout and "kgfm auto: QA fine-tune done" in res.stdout
    assert "\r" not in res.stdout + res.stderr and "0%|" not in res.stdout + res.stderr
    read_manifest(tmp_path / "runs" / "auto" / "questions", "generated-questions")
    read_manifest(tmp_path / "runs" / "auto" / "graph" / "index")
    cfg = (tmp_path / "runs" / "auto" / "qa" / "config.yaml").read_text(encoding="utf-8")
    assert "runs/auto/questions/train.txt" in cfg and "kind: plain" in cfg
    ask = run("qa", "--model", "runs/auto/qa/model", "--json", "--no-evidence", "who is the director of Orchard of Havana",
              cwd=tmp_path)
    assert ask.returncode == 0, ask.stderr[-2000:]
    answer = json.loads(ask.stdout)
    assert answer["answers"] and "Orchard" in json.dumps(answer)  # linked the topic, ranked candidates


def test_auto_bad_store_is_one_line(tmp_path: Path):
    from kgfm.store.embedded import EmbeddedStore

    with EmbeddedStore(tmp_path / "empty.lbug") as db:
        db.ensure_schema()
    res = run("auto", "--path", str(tmp_path / "empty.lbug"), "--out", str(tmp_path / "a"), cwd=tmp_path)
    assert res.returncode == 2 and "no relations" in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "a").exists()
