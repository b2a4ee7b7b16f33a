"""bench/compare_qa_seeds.py: fusion runs of two results paired by seed, hand-computed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "compare_qa_seeds.py"


def result(hits: dict[int, float], para: dict[int, tuple[float, float]] | None = None) -> dict:
    runs = [{"kind": "plain", "seed": 0, "test": {"hits@1": 0.1}}]  # plain runs are ignored
    for seed, h in hits.items():
        run = {"kind": "fusion", "seed": seed, "test": {"hits@1": h}}
        if para and seed in para:
            run["paraphrase_dev"] = {"hits@1": para[seed][0], "per_qtype": {"t1": para[seed][1]}}
        runs.append(run)
    return {"runs": runs, "fusion_overrides": []}


def run(tmp_path: Path, a: dict, b: dict, *extra: str) -> subprocess.CompletedProcess:
    (tmp_path / "a.json").write_text(json.dumps(a))
    (tmp_path / "b.json").write_text(json.dumps(b))
    return subprocess.run([sys.executable, str(SCRIPT), str(tmp_path / "a.json"), str(tmp_path / "b.json"),
                           "--out", str(tmp_path / "c.json"), *extra], capture_output=True, text=True)


def test_pairs_common_seeds_and_reports_points(tmp_path):
    a = result({0: 0.90, 1: 0.80, 2: 0.70, 3: 0.5}, {0: (0.9, 0.5), 1: (0.8, 0.7)})
    b = result({0: 0.85, 1: 0.82, 2: 0.66}, {0: (0.88, 0.25), 1: (0.81, 0.65)})
    proc = run(tmp_path, a, b)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads((tmp_path / "c.json").read_text())
    test = doc["compared"]["test"]
    assert test["seeds"] == [0, 1, 2]  # seed 3 is only in A
    assert test["per_seed_diff_points"] == [5.0, -2.0, 4.0]
    assert test["wins"] == 2 and test["a_mean"] == pytest.approx(0.8) and test["b_mean"] == pytest.approx(0.7766666, abs=1e-6)
    assert test["mean_diff_points"] == pytest.approx(7.0 / 3)
    # paired t: d = (5, -2, 4), mean 7/3, sd = sqrt(((8/3)^2 + (13/3)^2 + (5/3)^2) / 2) = sqrt(43/3)
    assert test["t"] == pytest.approx((7 / 3) / ((43 / 3) ** 0.5 / 3 ** 0.5))
    para = doc["compared"]["paraphrase_dev"]
    assert para["per_seed_diff_points"] == [2.0, -1.0]
    assert para["per_qtype_diff_points"] == {"t1": pytest.approx(15.0)}  # (25 + 5) / 2


def test_no_common_seed_is_an_error(tmp_path):
    proc = run(tmp_path, result({0: 0.9}), result({1: 0.8}))
    assert proc.returncode != 0 and "have no runs on a common seed" in proc.stderr
    assert not (tmp_path / "c.json").exists()


def test_kind_plain_pairs_the_plain_runs(tmp_path):
    a, b = result({0: 0.9}), result({0: 0.5})
    a["runs"] += [{"kind": "plain", "seed": 1, "test": {"hits@1": 0.95}}]
    b["runs"] += [{"kind": "plain", "seed": 1, "test": {"hits@1": 0.75}}]
    proc = run(tmp_path, a, b, "--kind", "plain")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads((tmp_path / "c.json").read_text())
    assert doc["kind"] == "plain"
    test = doc["compared"]["test"]
    assert test["seeds"] == [0, 1] and test["per_seed_diff_points"] == [0.0, 20.0]  # 0.1 - 0.1, 0.95 - 0.75


def test_kind_b_pairs_a_fusion_with_b_plain(tmp_path):
    a = result({0: 0.9, 1: 0.7})
    b = result({0: 0.5, 1: 0.5})
    b["runs"] += [{"kind": "plain", "seed": 1, "test": {"hits@1": 0.75}}]  # b's plain: seed 0 0.1, seed 1 0.75
    proc = run(tmp_path, a, b, "--kind", "fusion", "--kind-b", "plain")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads((tmp_path / "c.json").read_text())
    assert (doc["kind"], doc["kind_b"]) == ("fusion", "plain")
    test = doc["compared"]["test"]
    assert test["seeds"] == [0, 1] and test["per_seed_diff_points"] == [80.0, -5.0]  # 0.9 - 0.1, 0.7 - 0.75
