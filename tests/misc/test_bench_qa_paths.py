"""bench/bench_qa.py: per-question result files follow --out, so two runs never overwrite each other."""

from __future__ import annotations

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "bench_qa.py"


def load():
    spec = importlib.util.spec_from_file_location("bench_qa_under_test", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_default_out_keeps_historical_names(tmp_path: Path) -> None:
    bench = load()
    assert bench.eval_path(bench.RESULTS / "qa.json", 1).name == "qa_eval_1hop_test.json"
    assert bench.eval_path(bench.RESULTS / "qa.json", 3, "pretrained").name == "qa_eval_3hop_valid_pretrained.json"


def test_own_out_names_files_after_it(tmp_path: Path) -> None:
    bench = load()
    out = tmp_path / "sub" / "qa_logpath.json"
    paths = {bench.eval_path(out, h) for h in (1, 2, 3)} | {bench.eval_path(out, 2, "plain")}
    assert paths == {tmp_path / "sub" / "qa_logpath_eval_1hop_test.json",
                     tmp_path / "sub" / "qa_logpath_eval_2hop_test.json",
                     tmp_path / "sub" / "qa_logpath_eval_3hop_valid.json",
                     tmp_path / "sub" / "qa_logpath_eval_2hop_test_plain.json"}
    assert not any(p.name.startswith("qa_eval") for p in paths)
