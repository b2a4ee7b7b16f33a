"""bench/bench_linkpred.py --by-degree: test MRR per training-degree bucket, on a tiny hand-made split."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def lp(load_bench):
    return load_bench("bench_linkpred")


def test_degree_buckets(lp):
    assert [lp.degree_bucket(d) for d in (1, 5, 6, 20, 21, 100, 101, 5000)] == [
        "1-5", "1-5", "6-20", "6-20", "21-100", "21-100", ">100", ">100"]
    with pytest.raises(ValueError):
        lp.degree_bucket(0)


def test_by_degree_counts_queries_per_bucket_and_adds_up_to_the_test_mrr(tmp_path: Path):
    # hub "h" is in 8 training triples (degree 8: bucket 6-20); x0..x7 have degree 1 or 2 (bucket 1-5)
    train = [("h", "r", f"x{i}") for i in range(8)] + [("x0", "s", "x1")]
    (tmp_path / "train.txt").write_text("".join(f"{a}\t{r}\t{b}\n" for a, r, b in train))
    (tmp_path / "valid.txt").write_text("h\ts\tx2\n")
    (tmp_path / "test.txt").write_text("h\ts\tx3\nx4\ts\tx5\n")  # h's query / answer in 6-20 once each
    out = tmp_path / "r.json"
    cmd = [sys.executable, str(REPO / "bench" / "bench_linkpred.py"), "--dataset", "wn18rr", "--data", str(tmp_path),
           "--config", "configs/graph.yaml", "--set", "model.dim=8", "--set", "train.sampler=full",
           "--minutes", "0.02", "--eval-seconds", "0.5", "--threads", "1", "--by-degree", "--out", str(out)]
    run = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    test = json.loads(out.read_text())["test"]
    deg = test["by_degree"]
    assert deg["mapped_queries"] == 4 and deg["mapped_mrr"] == pytest.approx(test["mrr"])  # nothing unmapped
    # answers: x3 (1-5), h (6-20), x5 (1-5), x4 (1-5); queries: h (6-20), x3, x4, x5
    assert {k: v["queries"] for k, v in deg["answer"].items()} == {"1-5": 3, "6-20": 1, "21-100": 0, ">100": 0}
    assert {k: v["queries"] for k, v in deg["query"].items()} == {"1-5": 3, "6-20": 1, "21-100": 0, ">100": 0}
    for side in ("answer", "query"):
        rows = [v for v in deg[side].values() if v["queries"]]
        assert sum(v["mrr"] * v["queries"] for v in rows) / 4 == pytest.approx(test["mrr"])
        assert deg[side]["21-100"]["mrr"] is None
