"""The Python API: lazy names, and README's Python block executed as written in an empty folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def test_import_kgfm_is_light_and_every_name_resolves():
    code = ("import sys, kgfm; light = not any(m in sys.modules for m in ('torch', 'transformers', 'ladybug'));"
            "names = [n for n in kgfm.__all__ if getattr(kgfm, n) is None]; print(light, names)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "True []", out.stdout + out.stderr


def test_stage_config_forms(tmp_path: Path):
    from kgfm.api import _stage_args
    from kgfm.encoder.config import GraphTrainConfig

    path, over = _stage_args("sample:graph", {"train.epochs": 3})
    assert path == REPO / "configs" / "graph.yaml" and over == {"train.epochs": 3}
    cfg = GraphTrainConfig.model_validate({"run": {"output_dir": str(tmp_path)}})
    path, over = _stage_args(cfg, {"train.epochs": 3})
    assert path is None and over["run"]["output_dir"] == str(tmp_path) and over["train.epochs"] == 3
    assert _stage_args({"train": {"epochs": 2}}, None) == (None, {"train": {"epochs": 2}})
    with pytest.raises(TypeError, match="config: expected"):
        _stage_args(42, None)  # type: ignore[arg-type]


@pytest.mark.slow
def test_readme_python_block_runs_in_an_empty_folder(tmp_path: Path):
    env = {**os.environ, "KGFM_PROGRESS": "log", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    out = subprocess.run([sys.executable, str(REPO / "tests" / "readme_python.py"), str(REPO / "README.md"), "--run"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=2400, env=env)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "716 triples, 266 entities" in out.stdout
    assert (tmp_path / "runs" / "qa" / "sample" / "model" / "manifest.json").is_file()
    assert "which films did [Rosa Kimura] act in ->" in out.stdout
    assert "over HTTP: who directed [Neon Harbor] -> Noah Lindqvist" in out.stdout  # step 7's reloaded server


def test_names_spec_parse_is_shared_by_cli_and_api(tmp_path: Path):
    from kgfm.store.build import NamesSpec

    assert NamesSpec.parse("names.tsv") == NamesSpec(path=Path("names.tsv"))
    assert NamesSpec.parse("e2t.txt:name-gloss") == NamesSpec(path=Path("e2t.txt"), kind="name-gloss")
    sample = NamesSpec.parse("sample:movies_kb.txt")  # no KIND: the sample's own colon is not a kind separator
    assert sample.kind == "auto" and sample.path == REPO / "graphs" / "movies_kb.txt"
    assert NamesSpec.parse("sample:movies_kb.txt:name").kind == "name"


def test_build_graph_from_the_api(tmp_path: Path):
    import kgfm

    names = tmp_path / "names.tsv"
    names.write_text("Orchard of Havana\tOrchard of Havana (1979)\n", encoding="utf-8")
    report = kgfm.build_graph("sample:movies_kb.txt", path=tmp_path / "g.lbug", names=[f"{names}:name"])
    assert (report.triples_new, report.entities_total, report.names_matched) == (716, 266, 1)
    with kgfm.open_store(tmp_path / "g.lbug") as db:
        assert db.get_entity("Orchard of Havana")["name"] == "Orchard of Havana (1979)"


def test_bad_input_from_the_api_is_one_typed_error_that_names_the_line_and_the_python_switch(tmp_path: Path):
    import kgfm
    from kgfm.store.load_report import LoadAborted

    bad = tmp_path / "bad.tsv"
    bad.write_text("a\tr\tb\nc\tr\n", encoding="utf-8")
    with pytest.raises(LoadAborted) as info:
        kgfm.build_graph(bad, path=tmp_path / "g.lbug")
    message = str(info.value)
    assert message.startswith(f"{bad}:2: ") and "\n" not in message and 'on_error="skip"' in message
    report = kgfm.build_graph(bad, path=tmp_path / "g.lbug", on_error="skip")  # what the message says to do
    assert (report.triples_new, report.rejected) == (1, 1)


def test_auto_from_the_api_on_a_verb_style_rdf_graph(tmp_path: Path):
    """``kgfm.auto``: an RDF graph whose relations are verbs (schema:worksFor, ex:reportsTo) to a QA
    model that answers in its own words, all from Python."""
    import kgfm

    people = [f"p{i}" for i in range(24)]
    orgs = ["Acme", "Globex", "Initech"]
    lines = ["@prefix ex: <http://example.org/> .", "@prefix schema: <https://schema.org/> .",
             "@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> ."]
    first = ["Alice", "Bob", "Carol", "Dave", "Erin", "Frank", "Grace", "Heidi"]
    for i, p in enumerate(people):
        boss = f"ex:p{i // 3}" if i >= 3 else None
        lines.append(f'ex:{p} a schema:Person ; rdfs:label "{first[i % 8]} {chr(65 + i)}. Smith" ; '
                     f"schema:worksFor ex:{orgs[i % 3]}" + (f" ; ex:reportsTo {boss}" if boss else "") + " .")
    lines += [f'ex:{o} a schema:Organization ; rdfs:label "{o} Corp" .' for o in orgs]
    ttl = tmp_path / "org.ttl"
    ttl.write_text("\n".join(lines) + "\n", encoding="utf-8")
    kgfm.build_graph(ttl, path=tmp_path / "g.lbug")
    result = kgfm.auto(tmp_path / "auto", path=tmp_path / "g.lbug", graph_minutes=0.2, qa_minutes=0.5,
                       topics=30, hops=[1])
    assert set(result) == {"questions", "graph", "finetune", "model"}
    assert result["questions"]["counts"]["questions"] > 20
    texts = (tmp_path / "auto" / "questions" / "train.txt").read_text(encoding="utf-8")
    assert "work for" in texts or "works for" in texts  # the verb reading of worksFor
    with kgfm.QAModel.from_pretrained(result["model"]) as model:
        answer = model.answer("which organization does [Bob B. Smith] work for", evidence=False)
    assert answer["topic"]["id"] == "http://example.org/p1"
    assert "Globex Corp" in [a["name"] for a in answer["answers"][:3]]
    from kgfm.config import ConfigError

    with pytest.raises(ConfigError, match="frozen or fusion"):
        kgfm.auto(tmp_path / "bad", path=tmp_path / "g.lbug", encoder="neither")
    assert not (tmp_path / "bad").exists()  # the recipe is checked before anything is written
