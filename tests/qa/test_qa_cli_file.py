"""``kgfm qa --file`` with bad lines, through the real CLI: every line gets an entry with its line
number, undecodable lines are per-line errors (no traceback), blank lines are reported as skipped,
and the exit code is non-zero when any question errored. A tiny random BERT fine-tuned for two
epochs on the hand-made KB (answer quality does not matter here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.qa.tiny import train_tiny_qa

KGFM = [sys.executable, "-m", "kgfm.cli.main"]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, qa_inputs) -> Path:
    kb, qa = qa_inputs
    return train_tiny_qa(tmp_path_factory.mktemp("qa-file"), kb, qa, overrides={"train": {"epochs": 2}})["model"]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*KGFM, *args], capture_output=True, timeout=300,
                          env={**__import__("os").environ, "OMP_NUM_THREADS": "1"})


def test_bad_lines_are_reported_per_line(model_dir: Path, tmp_path: Path):
    questions = tmp_path / "q.txt"
    questions.write_bytes(
        b"who directed [Kismet]\n"           # 1 answered
        b"\n"                                # 2 blank: skipped, reported
        b"who directed [Mor\xffocco]\n"      # 3 not UTF-8: error with its line
        b"# a comment\n"                     # 4 skipped
        b"tell me something nice\n"          # 5 no entity: error
        b"when was [Morocco] released\tx\n"  # 6 answered
    )
    out = run("qa", "--file", str(questions), "--model", str(model_dir), "--json", "-k", "1")
    stderr = out.stderr.decode()
    assert out.returncode == 1, stderr
    assert "Traceback" not in stderr
    payload = json.loads(out.stdout)
    assert [e["line"] for e in payload] == [1, 2, 3, 4, 5, 6]
    assert payload[0]["topic"]["id"] == "Kismet" and payload[0]["error"] is None
    assert payload[1]["skipped"] == "blank line" and payload[3]["skipped"] == "comment"
    assert f"{questions}:3: not valid UTF-8" in payload[2]["error"]
    assert "no entity of the knowledge graph" in payload[4]["error"]
    assert payload[5]["topic"]["id"] == "Morocco"
    assert "6 line(s): 2 answered, 2 error(s), 2 skipped" in stderr
    from typer.testing import CliRunner

    from kgfm.cli.main import app

    text = CliRunner().invoke(app, ["qa", "--file", str(questions), "--model", str(model_dir), "-k", "1"])
    shown = text.stdout
    assert text.exit_code == 1 and "[line 3]" in shown and "not valid UTF-8" in shown and "[line 2]" in shown


def test_all_good_lines_exit_zero_and_escapes_are_shown_escaped(model_dir: Path, tmp_path: Path):
    questions = tmp_path / "q.txt"
    questions.write_text("who directed [Kismet]\nwhen was [Morocco] released\n", encoding="utf-8")
    from typer.testing import CliRunner

    from kgfm.cli.main import app

    out = CliRunner().invoke(app, ["qa", "--file", str(questions), "--model", str(model_dir), "-k", "1"])
    assert out.exit_code == 0, out.output
    evil = run("qa", "who directed \x1b]0;pwned\x07 [Kismet]", "--model", str(model_dir), "-k", "1")
    assert b"\x1b" not in evil.stdout and b"\\x1b]0;pwned\\x07" in evil.stdout


def test_a_file_holds_the_paths_in_memory_with_the_stores_answers_and_shows_progress(model_dir: Path, qa_inputs,
                                                                                    tmp_path: Path):
    """``--file`` answers from the graph held in memory (``kgfm.qa.paths``): the same answers and
    evidence paths as one store query per answer, and a progress line in a log."""
    from kgfm.qa.answer import QAEngine

    questions = [line.split("\t")[0] for line in qa_inputs[1].read_text(encoding="utf-8").splitlines() if line.strip()]
    listed = questions * 3  # 36: a batch that holds the paths in memory
    engine = QAEngine.load(model_dir)
    try:
        by_store = [r.as_dict() for r in engine.answer(questions)]
        assert not engine.paths_in_memory and engine.hold_paths_in_memory()
        by_memory = [r.as_dict() for r in engine.answer(questions)]
        file_in_memory = [r.as_dict() for r in engine.answer(listed)]  # batched as the CLI batches the file
        assert engine.store.asked_store == 0  # every look-up answered in memory
    finally:
        engine.close()

    def strip(results: list[dict]) -> list[dict]:
        return [{k: v for k, v in r.items() if k not in ("seconds", "line", "skipped")} for r in results]

    assert strip(by_memory) == strip(by_store)
    assert sum(len(a["paths"]) for r in by_store for a in r["answers"]) >= len(questions)  # evidence to compare
    file = tmp_path / "q.txt"
    file.write_text("\n".join(listed) + "\n", encoding="utf-8")
    out = run("qa", "--file", str(file), "--model", str(model_dir), "--json")
    assert out.returncode == 0, out.stderr.decode()
    assert strip(json.loads(out.stdout)) == strip(file_in_memory)
    paths = lambda rs: [[(a["id"], a["paths"]) for a in r["answers"]] for r in rs]  # noqa: E731
    assert paths(file_in_memory) == paths(by_store) * 3
    assert f"kgfm qa: {len(listed)}/{len(listed)} (100%)" in out.stderr.decode()


def test_answer_batch_holds_the_paths_in_memory_from_32_questions(model_dir: Path, qa_inputs):
    import kgfm
    from kgfm.qa.answer import BATCH_PATHS_IN_MEMORY

    questions = [line.split("\t")[0] for line in qa_inputs[1].read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(questions) < BATCH_PATHS_IN_MEMORY <= 3 * len(questions)
    with kgfm.QAModel.from_pretrained(model_dir) as model:
        few = model.answer_batch(questions)
        assert not model.engine.paths_in_memory
        many = model.answer_batch(questions * 3)
        assert model.engine.paths_in_memory and model.engine.store.asked_store == 0
    paths = lambda rs: [[(a["id"], a["paths"]) for a in r["answers"]] for r in rs]  # noqa: E731
    assert paths(many) == paths(few) * 3
