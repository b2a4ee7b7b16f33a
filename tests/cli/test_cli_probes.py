"""The hostile-probe inputs of issue 9, fed to the real CLI: each ends as correct behaviour or one
clear line on stderr (exit 2), never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

KGFM = [sys.executable, "-m", "kgfm.cli.main"]


def run(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*KGFM, *args], capture_output=True, text=True, cwd=cwd, timeout=300,
                          env={**os.environ, **(env or {})})


def one_line_error(out: subprocess.CompletedProcess, *needles: str) -> None:
    assert out.returncode == 2, (out.stdout, out.stderr)
    assert "Traceback" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kgfm: error: "), out.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("probe")
    kb = root / "kb.tsv"
    kb.write_text("Jazz: Part 1\tgenre\tJazz\nevil\x1b[31mred[/x]\tgenre\tJazz\n", encoding="utf-8")
    out = run("build-graph", str(kb), "--path", str(root / "g.lbug"), cwd=root)
    assert out.returncode == 0, out.stderr
    return root / "g.lbug"


@pytest.mark.parametrize("value", ["Jazz: Part 1", "Yes", "~", "0x10", "#x", "' OR 1=1 //", "[1, 2]", "", "null"])
def test_param_values_are_strings_as_written(store: Path, value: str):
    out = run("cypher", "RETURN $n AS v", "--param", f"n={value}", "--path", str(store), "--json", cwd=store.parent)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == [{"v": value}]


def test_param_string_finds_the_entity(store: Path):
    out = run("cypher", "MATCH (e:Entity {id: $n})-[:genre]->(g) RETURN g.id AS g", "--param", "n=Jazz: Part 1",
              "--path", str(store), "--json", cwd=store.parent)
    assert json.loads(out.stdout) == [{"g": "Jazz"}]


def test_typed_params_on_request(store: Path):
    out = run("cypher", "RETURN $a AS a, $b AS b, $c AS c, $d AS d, $e AS e", "--param", "a:int=0x10",
              "--param", "b:float=2.5", "--param", "c:bool=true", "--param", 'd:json={"k": [1, null]}',
              "--param", "e:str=3", "--path", str(store), "--json", cwd=store.parent)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == [{"a": 16, "b": 2.5, "c": True, "d": {"k": [1, None]}, "e": "3"}]


@pytest.mark.parametrize("param,needle", [
    ("n:int=abc", "not an integer"), ("n:bool=Yes", "expected true or false"), ("n:json={bad", "invalid JSON"),
    ("n:date=2020", "unknown type"), ("novalue", "expected NAME=VALUE"), ("1x=3", "not a parameter name"),
])
def test_bad_params_are_one_line(store: Path, param: str, needle: str):
    one_line_error(run("cypher", "RETURN $n AS v", "--param", param, "--path", str(store), cwd=store.parent), needle)


def test_missing_param_is_an_error_naming_it(store: Path):
    out = run("cypher", "MATCH (e:Entity {id: $name}) RETURN e.id LIMIT $k", "--param", "k:int=1", "--path", str(store),
              cwd=store.parent)
    one_line_error(out, "$name", "--param name=VALUE")


def test_escape_sequences_in_ids_are_printed_escaped(store: Path):
    query = "MATCH (e:Entity) WHERE e.id STARTS WITH 'evil' RETURN e.id AS id"
    table = run("cypher", query, "--path", str(store), cwd=store.parent)
    assert table.returncode == 0, table.stderr
    assert "\x1b" not in table.stdout and "evil\\x1b[31mred[/x]" in table.stdout
    as_json = run("cypher", query, "--path", str(store), "--json", cwd=store.parent)
    assert "\x1b" not in as_json.stdout and json.loads(as_json.stdout) == [{"id": "evil\x1b[31mred[/x]"}]


@pytest.mark.parametrize("override,needle", [("on_error='x", "cannot read"), ("=3", "empty KEY"), ("on_error", "KEY=VALUE")])
def test_bad_set_overrides_are_one_line(tmp_path: Path, graphs_dir: Path, override: str, needle: str):
    one_line_error(run("build-graph", str(graphs_dir / "movies_kb.txt"), "--set", override, cwd=tmp_path), "--set", needle)


def test_set_keeps_typed_scalars(tmp_path: Path, graphs_dir: Path):
    out = run("build-graph", str(graphs_dir / "movies_kb.txt"), "--set", "batch_size=100", "--set", "store.buffer_pool_mb=128",
              cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    wrong = run("build-graph", str(graphs_dir / "movies_kb.txt"), "--set", "batch_size=Jazz: Part 1", cwd=tmp_path)
    one_line_error(wrong, "batch_size")


def test_duplicate_yaml_keys_are_an_error_naming_key_and_line(tmp_path: Path, graphs_dir: Path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("store:\n  path: a.lbug\non_error: fail\nstore:\n  path: b.lbug\n", encoding="utf-8")
    one_line_error(run("build-graph", str(graphs_dir / "movies_kb.txt"), "--config", str(cfg), cwd=tmp_path),
                   f"{cfg}:4", "duplicate key 'store'", "line 1")
    nested = tmp_path / "n.yaml"
    nested.write_text("store:\n  path: a.lbug\n  path: b.lbug\n", encoding="utf-8")
    one_line_error(run("build-graph", str(graphs_dir / "movies_kb.txt"), "--config", str(nested), cwd=tmp_path),
                   f"{nested}:3", "'path'")


def test_config_that_is_a_directory_or_bad_yaml(tmp_path: Path, graphs_dir: Path):
    one_line_error(run("build-graph", str(graphs_dir / "movies_kb.txt"), "--config", str(tmp_path), cwd=tmp_path),
                   "is a directory")
    bad = tmp_path / "bad.yaml"
    bad.write_text("store: [unclosed\n", encoding="utf-8")
    one_line_error(run("stats", "--config", str(bad), cwd=tmp_path), f"{bad}:", "invalid YAML")


@pytest.mark.parametrize("uri,needle", [("notaurl", "KGFM_NEO4J_URI = 'notaurl': not a Bolt URI"),
                                       ("http://127.0.0.1:7474", "not a Bolt URI"), ("bolt://127.0.0.1:1", "unreachable")])
def test_bad_neo4j_uri_is_one_line(tmp_path: Path, uri: str, needle: str):
    pytest.importorskip("neo4j")
    out = run("cypher", "RETURN 1", "--store", "neo4j", cwd=tmp_path,
              env={"KGFM_NEO4J_URI": uri, "KGFM_NEO4J_PASSWORD": "x"})
    one_line_error(out, needle)
