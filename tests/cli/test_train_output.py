"""What ``kgfm train`` prints into a log (stdout/stderr piped): no bar fragments, bounded progress lines,
and one end-of-stage table with the paths written, the key metrics and the wall time."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from kgfm.training.report import stage_summary

REPO = Path(__file__).resolve().parents[2]
KGFM = [sys.executable, "-c", "from kgfm.cli.main import main; main()"]


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "KGFM_PROGRESS"}
    env.update(PYTHONPATH=str(REPO), OMP_NUM_THREADS="1", COLUMNS="120")
    return subprocess.run([*KGFM, *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=600)


def test_graph_stage_in_a_log_prints_no_bar_fragments_and_a_summary_table(tmp_path: Path, graphs_dir: Path):
    built = _run("build-graph", str(graphs_dir / "movies_kb.txt"), cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    epochs = 20
    out = _run("train", "--stage", "graph", "--config", str(REPO / "configs" / "graph.yaml"),
               "--set", f"train.epochs={epochs}", "--set", "train.patience=50", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    text = out.stdout + out.stderr
    assert "\r" not in text and "\x1b[" not in text
    assert not re.search(r"\d+%\|", text), "a tqdm bar fragment in a non-terminal log"
    batch_lines = [line for line in text.splitlines() if re.match(r"epoch \d+: \d+/\d+", line)]
    assert batch_lines == [], batch_lines[:3]  # epochs under a minute print no batch lines in a log
    trainer_lines = [line for line in text.splitlines() if re.match(r"epoch +\d+ +loss", line)]
    assert len(trainer_lines) == epochs  # the trainer's own line per epoch
    assert len(text.splitlines()) < epochs + 40, text  # (before: two "0%| 0/6" fragments per epoch on top)
    table = out.stdout[out.stdout.index("kgfm train --stage graph: done"):]
    for label, path in (("checkpoint", "runs/graph/checkpoint"), ("index", "runs/graph/index"),
                        ("metrics", "runs/graph/metrics.json"), ("curve", "runs/graph/curve.png")):
        assert re.search(rf"{label}\s+│?\s*{re.escape(path)}", table), (label, table)
        assert (tmp_path / path).exists()
    for label in ("test MRR", "test Hits@10", "wall time", "index fingerprint"):
        assert label in table, (label, table)
    assert re.search(rf"epochs\s+│?\s*{epochs}\b", table), table


def test_stage_summary_rows_for_each_stage(tmp_path: Path):
    (tmp_path / "model").mkdir()
    (tmp_path / "metrics.json").write_text("{}")
    pretrain = {"steps": 40, "steps_per_s": 2.345, "stopped": "40 steps",
                "final_eval": {"entity_mrr": 0.25, "entity_hits1": 0.125, "mlm_accuracy": 0.5}}
    rows = dict(stage_summary("pretrain", tmp_path, pretrain, 12.34))
    assert rows == {"model": str(tmp_path / "model"), "metrics": str(tmp_path / "metrics.json"),
                    "steps": "40", "stopped": "40 steps", "steps/s": "2.35", "entity MRR": "0.2500",
                    "entity Hits@1": "0.1250", "MLM accuracy": "0.5000", "wall time": "12.3 s"}
    finetune = {"epochs_run": 3, "stopped_by": "6 epochs", "best_epoch": 2, "best_valid_hits1": 0.75,
                "train_questions": 90, "valid_questions": 10}
    rows = dict(stage_summary("finetune", tmp_path, finetune, 1.0))
    assert rows["best valid Hits@1"] == "0.7500" and rows["best epoch"] == "2" and "curve" not in rows
    graph = {"epochs": 5, "stopped": False, "test": {"mrr": 0.5, "hits@1": 0.25, "hits@10": 1.0}}
    rows = dict(stage_summary("graph", tmp_path, graph, 2.0))
    assert "stopped" not in rows and rows["test MRR"] == "0.5000" and "checkpoint" not in rows


def test_pretrain_stage_in_a_log_ends_with_its_table(tmp_path: Path):
    """Pretraining printed nothing at the end before: now the model path, metrics and wall time."""
    from tests.fusion.conftest import write_toy_setup

    config = write_toy_setup(tmp_path, steps=6)
    out = _run("train", "--stage", "pretrain", "--config", str(config), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    text = out.stdout + out.stderr
    assert "\r" not in text and not re.search(r"\d+%\|", text), text
    assert len([line for line in text.splitlines() if line.startswith("pretrain: ")]) <= 11
    table = out.stdout[out.stdout.index("kgfm train --stage pretrain: done"):]
    model = tmp_path / "out" / "model"
    assert model.is_dir()
    for label in ("model", "metrics", "curve", "steps", "entity MRR", "MLM accuracy", "wall time"):
        assert label in table, (label, table)
    assert re.search(r"steps\s+│?\s*6\b", table), table
    assert re.search(rf"model\s+│?\s*{re.escape(str(model))}\s", table), table  # COLUMNS=120: no wrapping
