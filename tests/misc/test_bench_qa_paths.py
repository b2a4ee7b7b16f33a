"""bench/bench_qa.py: per-question result files follow --out, so two runs never overwrite each other."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def bench(load_bench):
    return load_bench("bench_qa")


def test_default_out_keeps_historical_names(bench, tmp_path: Path) -> None:
    assert bench.eval_path(bench.RESULTS / "qa.json", 1).name == "qa_eval_1hop_test.json"
    assert bench.eval_path(bench.RESULTS / "qa.json", 3, "pretrained").name == "qa_eval_3hop_valid_pretrained.json"


def test_own_out_names_files_after_it(bench, tmp_path: Path) -> None:
    out = tmp_path / "sub" / "qa_logpath.json"
    paths = {bench.eval_path(out, h) for h in (1, 2, 3)} | {bench.eval_path(out, 2, "plain")}
    assert paths == {tmp_path / "sub" / "qa_logpath_eval_1hop_test.json",
                     tmp_path / "sub" / "qa_logpath_eval_2hop_test.json",
                     tmp_path / "sub" / "qa_logpath_eval_3hop_valid.json",
                     tmp_path / "sub" / "qa_logpath_eval_2hop_test_plain.json"}
    assert not any(p.name.startswith("qa_eval") for p in paths)
