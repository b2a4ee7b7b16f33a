"""``kgfm qa --file`` with bad lines, through the real CLI: every line gets an entry with its line
number, undecodable lines are per-line errors (no traceback), blank lines are reported as skipped,
and the exit code is non-zero when any question errored. A tiny random BERT fine-tuned for two
epochs on the hand-made KB (answer quality does not matter here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from kgfm.config import StoreConfig

TINY_BERT = dict(model_type="bert", hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                 intermediate_size=64, vocab_size=30522, max_position_embeddings=64)
KGFM = [sys.executable, "-m", "kgfm.cli.main"]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, qa_inputs) -> Path:
    from kgfm.index.entity_index import EntityIndex
    from kgfm.qa.config import QAConfig
    from kgfm.qa.finetune import finetune
    from kgfm.store.build import BuildGraphConfig, SourceSpec, run_build
    from kgfm.store.factory import open_store

    root = tmp_path_factory.mktemp("qa-file")
    kb, qa = qa_inputs
    store_cfg = StoreConfig(path=root / "graph.lbug")
    run_build(BuildGraphConfig(store=store_cfg, sources=[SourceSpec(path=kb)]), show_progress=False)
    with open_store(store_cfg) as store:
        graph = store.export_tensors()
    emb = np.random.default_rng(0).normal(size=(graph.num_entities, 16)).astype(np.float32)
    EntityIndex.build(emb, graph.entity_ids, graph.entity_names, metric="ip", use_gpu=False).save(root / "index")
    cfg = QAConfig.model_validate({
        "store": {"path": str(store_cfg.path)},
        "index": str(root / "index"),
        "data": {"dataset": "files", "train": str(qa), "valid": str(qa), "hops": 1},
        "encoder": {"kind": "fusion", "init": "base", "backbone_config": TINY_BERT, "fusion_layers": [0],
                    "max_length": 24},
        "scorer": {"max_hops": 1, "proj_dim": 16, "dropout": 0.0},
        "train": {"epochs": 2, "batch_size": 10},
        "optim": {"warmup": 0.0},
        "run": {"threads": 1, "output_dir": str(root / "run")},
    })
    torch.manual_seed(0)
    finetune(cfg, graph, EntityIndex.load(root / "index"), progress=False)
    return root / "run" / "model"


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
