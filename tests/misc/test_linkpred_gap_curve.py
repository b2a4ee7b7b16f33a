"""bench/linkpred_gap_curve.py: paired GNN-minus-shallow validation gaps by minute, on hand-made curves."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def gap(load_bench):
    return load_bench("linkpred_gap_curve")


def run(conv: str, seed: int | None, points: list[tuple[float, float]], test_mrr: float, budget: float = 3.0) -> dict:
    command = "python bench/bench_linkpred.py --dataset fb15k237" + (f" --set run.seed={seed}" if seed is not None else "")
    return {"hyper": {"model": {"conv": conv, "decoder": "distmult"}}, "command": command, "budget_minutes": budget,
            "curve": [{"elapsed": e, "val_mrr": v} for e, v in points], "test": {"mrr": test_mrr}}


def doc() -> dict:
    # seed 0 (no run.seed in its command): GNN 0.20 at 61 s, 0.25 at 121 s (then worse), 0.26 at the deadline;
    # shallow 0.17, 0.24, 0.26.  Seed 1: GNN 0.22, 0.24, 0.27; shallow 0.21, 0.23, 0.26.
    return {"runs": [
        run("compgcn", None, [(61, 0.20), (121, 0.25), (150, 0.21), (181.5, 0.26)], 0.30),
        run("none", None, [(61, 0.17), (121, 0.24), (181.2, 0.26)], 0.29),
        run("compgcn", 1, [(62, 0.22), (122, 0.24), (181.0, 0.27)], 0.31),
        run("none", 1, [(60, 0.21), (123, 0.23), (181.9, 0.26)], 0.30),
    ]}


def test_seed_comes_from_the_command_and_defaults_to_zero(gap):
    assert gap.run_seed({"command": "x --set run.seed=7 --tag a"}) == 7
    assert gap.run_seed({"command": "x --set model.dim=200"}) == 0
    assert sorted(gap.pairs(doc())) == [0, 1]


def test_best_so_far_counts_a_point_stamped_just_after_the_minute(gap):
    curve = [{"elapsed": 61, "val_mrr": 0.2}, {"elapsed": 121, "val_mrr": 0.25}, {"elapsed": 150, "val_mrr": 0.21}]
    assert gap.best_by(curve, 0.5) is None
    assert gap.best_by(curve, 1) == 0.2  # 61 s is within 60 s + the 5 s slack
    assert gap.best_by(curve, 2) == 0.25
    assert gap.best_by(curve, 3) == 0.25  # a worse later point does not lower it


def test_gaps_by_minute_are_hand_computed(gap):
    out = gap.gap_curve(doc(), threshold=0.02)
    by = {r["minute"]: r for r in out["by_minute"]}
    # minute 1: gaps 0.03 and 0.01 -> mean 0.02, sd 0.01414, min 0.01
    assert by[1]["gap_mean"] == pytest.approx(0.02) and by[1]["gap_min"] == pytest.approx(0.01)
    assert by[1]["gap_sd"] == pytest.approx(0.0141421, abs=1e-6)
    # minute 2: 0.01 and 0.01; minute 3: 0.00 and 0.01
    assert by[2]["gap_mean"] == pytest.approx(0.01)
    assert by[3]["gap_mean"] == pytest.approx(0.005) and out["last"]["minute"] == 3
    assert out["minutes_mean_at_threshold"] == [1] and out["minutes_every_seed_at_threshold"] == []
    assert out["peak"]["minute"] == 1
    assert out["test_gap_mean"] == pytest.approx(0.01) and out["test_gap_per_seed"] == [0.01, 0.01]
    assert out["seeds"] == [0, 1] and out["decoder"] == "distmult" and out["budget_minutes"] == 3.0


def test_a_seed_missing_its_partner_stops_with_its_name(gap):
    d = doc()
    d["runs"].pop(3)
    with pytest.raises(SystemExit, match="seed 1: 1 GNN and 0 shallow"):
        gap.pairs(d)


def test_degree_gaps_pair_the_buckets_by_seed(load_bench):
    deg = load_bench("linkpred_by_degree")

    def with_degree(r: dict, low: float, high: float | None) -> dict:
        cells = {"1-5": {"queries": 3, "mrr": low}, "6-20": {"queries": 1, "mrr": high}}
        r["test"]["by_degree"] = {"answer": cells, "query": cells}
        return r

    # seed 0: GNN 0.30 / 0.50 by bucket, shallow 0.20 / 0.50; seed 1: GNN 0.25 / 0.40, shallow 0.20 / 0.50
    d = {"runs": [with_degree(run("compgcn", None, [(61, 0.2)], 0.35), 0.30, 0.50),
                  with_degree(run("none", None, [(61, 0.2)], 0.275), 0.20, 0.50),
                  with_degree(run("compgcn", 1, [(61, 0.2)], 0.2875), 0.25, 0.40),
                  with_degree(run("none", 1, [(61, 0.2)], 0.275), 0.20, 0.50)]}
    out = deg.degree_gaps(d)
    low, high = out["answer"]["1-5"], out["answer"]["6-20"]
    assert low["gap_per_seed"] == [0.1, 0.05] and low["gap_mean"] == pytest.approx(0.075)
    assert high["gap_per_seed"] == [0.0, -0.1] and high["gnn_mrr"] == pytest.approx(0.45)
    assert out["test_gap_mean"] == pytest.approx(0.04375) and out["seeds"] == [0, 1]
    d["runs"][1]["test"].pop("by_degree")
    with pytest.raises(SystemExit, match="no by_degree"):
        deg.degree_gaps(d)
