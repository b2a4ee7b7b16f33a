"""``kgfm eval --file`` on the bundled sample (graphs/movies_qa_test.txt) through the real CLI: a tiny
random BERT fine-tuned one epoch on the sample movie graph (answer quality does not matter; the
metrics' consistency, the ceiling and the refusals do)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.qa.tiny import train_tiny_qa

REPO = Path(__file__).resolve().parents[2]
SAMPLE_TEST = REPO / "graphs" / "movies_qa_test.txt"
KGFM = [sys.executable, "-m", "kgfm.cli.main"]


@pytest.fixture(scope="module")
def sample_model(tmp_path_factory) -> Path:
    return train_tiny_qa(tmp_path_factory.mktemp("eval-file"), REPO / "graphs" / "movies_kb.txt",
                         REPO / "graphs" / "movies_qa_train.txt", valid=SAMPLE_TEST, hops=2, overrides={
                             "data": {"limit_train": 60}, "encoder": {"max_length": 32},
                             "train": {"epochs": 1, "batch_size": 20}})["model"]


def kgfm(*args: str, cwd: Path = REPO, env: dict | None = None) -> subprocess.CompletedProcess:
    full = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.run([*KGFM, *args], capture_output=True, timeout=300, cwd=cwd, env=full, text=True)


def test_sample_file_scores_and_jsonl_agrees(sample_model: Path, tmp_path: Path):
    out = kgfm("eval", "--file", str(SAMPLE_TEST), "--model", str(sample_model), "--out", str(tmp_path / "a.json"))
    assert out.returncode == 0, out.stderr
    txt = json.loads(out.stdout)
    assert txt["questions"] == 127 and txt["no_gold_in_graph"] == 0
    assert txt["ceiling"] == 1.0 and txt["topic_linked"] == 1.0  # every answer is a KB answer within 2 hops
    for name in ("with_fusion", "without_fusion"):
        m = txt[name]
        assert 0.0 <= m["hits@1"] <= m["hits@3"] <= m["hits@10"] <= txt["ceiling"]
        assert m["hits@1"] <= m["mrr"] <= m["hits@10"] + (1 - m["hits@10"]) / 11
        assert set(m["per_qtype"]) >= {"actor_to_movie", "movie_to_year"}
    assert set(txt["fusion_vs_off"]) == {"a_only", "b_only", "difference", "mcnemar_p"}
    # the same questions as JSONL (topic given, brackets removed) score identically
    jsonl = tmp_path / "test.jsonl"
    rows = []
    for line in SAMPLE_TEST.read_text(encoding="utf-8").splitlines():
        q, a = line.split("\t")
        topic = q[q.index("[") + 1:q.index("]")]
        rows.append(json.dumps({"question": q.replace("[", "").replace("]", ""), "answers": a.split("|"), "topic": topic}))
    jsonl.write_text("\n".join(rows) + "\n", encoding="utf-8")
    out = kgfm("eval", "--file", str(jsonl), "--model", str(sample_model), "--out", str(tmp_path / "b.json"))
    assert out.returncode == 0, out.stderr
    js = json.loads(out.stdout)
    for key in ("hits@1", "hits@3", "hits@10", "mrr"):
        assert js["with_fusion"][key] == pytest.approx(txt["with_fusion"][key]), key
    assert js["ceiling"] == 1.0


def test_questions_for_another_graph_are_refused(sample_model: Path, tmp_path: Path):
    wrong = tmp_path / "wrong.txt"
    wrong.write_text("who directed [Rosa Kimura]\tNobody Here\n"
                     "which films was [Rosa Kimura] in\tNo Such Film|Another One\n"
                     "who wrote [Orchard of Havana]\tNoah Fischer\n", encoding="utf-8")
    out = kgfm("eval", "--file", str(wrong), "--model", str(sample_model))
    assert out.returncode == 2 and "Traceback" not in out.stderr and out.stdout == ""
    assert "2 of 3 questions have no gold answer entity in this graph" in out.stderr, out.stderr


def test_metaqa_on_the_movie_graph_is_refused(sample_model: Path, tmp_path: Path):
    metaqa = Path("/work/shared/data/MetaQA")
    if not (metaqa / "1-hop" / "vanilla" / "qa_test.txt").is_file():
        pytest.skip("MetaQA not under /work/shared/data")
    out = kgfm("eval", "--model", str(sample_model), "--hops", "1", "--limit", "50", "--data-root", str(metaqa))
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "MetaQA 1-hop test:" in out.stderr and "have no gold answer entity in this graph" in out.stderr


def test_missing_metaqa_names_the_ways_out(sample_model: Path, tmp_path: Path):
    out = kgfm("eval", "--model", str(sample_model), "--hops", "1", env={"KGFM_DATA_ROOT": str(tmp_path)}, cwd=tmp_path)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert f"{tmp_path}/MetaQA/1-hop/vanilla/qa_test.txt" in out.stderr, out.stderr
    assert "--set data.root=" in out.stderr and "KGFM_DATA_ROOT" in out.stderr


@pytest.mark.parametrize("line, message", [
    ("{not json", "test.jsonl:2: not JSON"),
    ('{"question": "who directed [Kismet]"}', "test.jsonl:2: field 'answers'"),
    ('{"question": "q [Kismet]", "answers": ["x"], "qtype": "a"}', "test.jsonl:2: unknown field(s) ['qtype']"),
])
def test_bad_jsonl_lines_name_file_and_line(sample_model: Path, tmp_path: Path, line: str, message: str):
    bad = tmp_path / "test.jsonl"
    bad.write_text('{"question": "who directed [Silver Road]", "answers": ["x"]}\n' + line + "\n", encoding="utf-8")
    out = kgfm("eval", "--file", str(bad), "--model", str(sample_model))
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert message in out.stderr, out.stderr


def test_rank_summary_hand_computed():
    from kgfm.qa.data import PreparedQuestions
    from kgfm.qa.ranking import rank_summary

    prepared = PreparedQuestions(["a"] * 4, [[]] * 4, np.zeros(4, dtype=np.int64), [np.zeros(0)] * 4)
    out = rank_summary(np.array([1, 2, 0, 11]), prepared)
    assert out["hits@1"] == 0.25 and out["hits@3"] == 0.5 and out["hits@10"] == 0.5
    assert out["mrr"] == pytest.approx((1 + 0.5 + 1 / 11) / 4)


def test_qtype_file_given_explicitly(sample_model: Path, tmp_path: Path):
    """MetaQA's paraphrased 1-hop dev keeps its question types one folder up: ``--qtype`` names them."""
    moved = tmp_path / "paraphrased.txt"  # no paraphrased_qtype.txt beside it
    moved.write_text(SAMPLE_TEST.read_text(encoding="utf-8"), encoding="utf-8")
    qtype = REPO / "graphs" / "movies_qa_test_qtype.txt"
    plain = kgfm("eval", "--file", str(moved), "--model", str(sample_model), "--out", str(tmp_path / "a.json"))
    typed = kgfm("eval", "--file", str(moved), "--qtype", str(qtype), "--model", str(sample_model),
                 "--out", str(tmp_path / "b.json"))
    assert plain.returncode == 0 and typed.returncode == 0, plain.stderr + typed.stderr
    plain, typed = json.loads(plain.stdout), json.loads(typed.stdout)
    assert "per_qtype" not in plain["with_fusion"]
    per = typed["with_fusion"]["per_qtype"]
    types = [t for t in qtype.read_text(encoding="utf-8").splitlines() if t]
    assert {k: v["n"] for k, v in per.items()} == {t: types.count(t) for t in set(types)}
    n = sum(v["n"] for v in per.values())
    assert sum(v["n"] * v["hits@1"] for v in per.values()) / n == pytest.approx(typed["with_fusion"]["hits@1"])
    assert typed["with_fusion"]["hits@1"] == plain["with_fusion"]["hits@1"]
    # the Python API takes the same file (as a str path) and gives the same per-type report
    from kgfm.api import evaluate

    api = evaluate(str(sample_model), file=str(moved), qtype=str(qtype), out=tmp_path / "c.json")
    assert api["with_fusion"]["per_qtype"] == per


@pytest.mark.parametrize("case, message", [
    ("missing", "nope_qtype.txt: question-type file not found"),
    ("short", "short_qtype.txt:3: has 3 lines, the QA file has 127"),
    ("jsonl", "goes with a MetaQA text file, not JSONL"),
])
def test_bad_qtype_file_is_one_line(sample_model: Path, tmp_path: Path, case: str, message: str):
    questions = SAMPLE_TEST
    qtype = tmp_path / "nope_qtype.txt"
    if case == "short":
        qtype = tmp_path / "short_qtype.txt"
        qtype.write_text("a\nb\nc\n", encoding="utf-8")
    elif case == "jsonl":
        qtype = REPO / "graphs" / "movies_qa_test_qtype.txt"
        questions = tmp_path / "q.jsonl"
        questions.write_text('{"question": "who directed [Silver Road]", "answers": ["x"]}\n', encoding="utf-8")
    out = kgfm("eval", "--file", str(questions), "--qtype", str(qtype), "--model", str(sample_model))
    assert out.returncode == 2 and "Traceback" not in out.stderr and out.stdout == ""
    assert message in out.stderr, out.stderr
