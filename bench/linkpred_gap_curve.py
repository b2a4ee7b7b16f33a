"""The GNN's lead over the same decoder without message passing, minute by minute (issue 13, item 4).

Reads combined ``bench_linkpred.py`` files whose runs are GNN / shallow pairs that ran at the same
time with the same seed, and rebuilds from each run's validation curve what a run with a shorter
budget would have reported: the best validation MRR reached by minute ``m`` (validation runs inside
the budget, every ``--eval-seconds``, on the seed's 1,000-triple subset; a run keeps its best
weights, so this is the figure a budget of ``m`` minutes selects on). Per minute it gives the paired
gap (mean, sd, smallest and largest over seeds), the minutes where every seed's gap reaches
``--threshold``, and beside it the test-MRR gap of the full budget. This tests the reading "a faster
start, not a better model" on every pair instead of one curve.

A run's side comes from its stored config (``model.conv == "none"`` is shallow), its seed from
``run.seed=N`` in its command (0 when absent). Validation figures are on a 1,000-triple subset and
are not test figures.

    python bench/linkpred_gap_curve.py bench/results/linkpred_gnn_sub_*3seeds_cpu.json \\
        --out bench/results/linkpred_gnn_gap_by_minute.json
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import numpy as np


def run_seed(run: dict) -> int:
    """The ``run.seed`` a run was started with (from its command), 0 when it was left at the default."""
    found = re.findall(r"run\.seed=(\d+)", run.get("command", ""))
    return int(found[-1]) if found else 0


def pairs(doc: dict) -> dict[int, tuple[dict, dict]]:
    """Seed -> (GNN run, shallow run). A seed without exactly one run of each side stops with its name."""
    sides: dict[int, dict[str, list[dict]]] = {}
    for run in doc["runs"]:
        side = "shallow" if run["hyper"]["model"].get("conv") == "none" else "gnn"
        sides.setdefault(run_seed(run), {"gnn": [], "shallow": []})[side].append(run)
    out = {}
    for seed, s in sorted(sides.items()):
        if len(s["gnn"]) != 1 or len(s["shallow"]) != 1:
            raise SystemExit(f"seed {seed}: {len(s['gnn'])} GNN and {len(s['shallow'])} shallow runs, need one of each")
        out[seed] = (s["gnn"][0], s["shallow"][0])
    return out


SLACK_S = 5.0  # a point is stamped after its validation (1-2 s on the 1,000-triple subset); the final one at the deadline


def best_by(curve: list[dict], minute: float, slack_s: float = SLACK_S) -> float | None:
    """Best validation MRR among the curve's points stamped within ``minute`` minutes (plus ``slack_s`` for the
    validation itself, so a budget's own final point counts); None before the first point."""
    seen = [p["val_mrr"] for p in curve
            if p.get("val_mrr") is not None and p["elapsed"] <= minute * 60.0 + slack_s]
    return max(seen) if seen else None


def gap_curve(doc: dict, threshold: float = 0.02) -> dict:
    """Per whole minute of the budget: the paired validation gap over seeds; and the full-budget test gap."""
    by_seed = pairs(doc)
    budget = min(min(g["budget_minutes"], s["budget_minutes"]) for g, s in by_seed.values())
    rows = []
    for minute in range(1, int(budget) + 1):
        vals = [(best_by(g["curve"], minute), best_by(s["curve"], minute)) for g, s in by_seed.values()]
        if any(a is None or b is None for a, b in vals):
            continue  # some run had not validated yet
        gaps = np.array([a - b for a, b in vals])
        rows.append({"minute": minute, "gnn_mean": float(np.mean([a for a, _ in vals])),
                     "shallow_mean": float(np.mean([b for _, b in vals])), "gap_mean": float(gaps.mean()),
                     "gap_sd": float(gaps.std(ddof=1)) if len(gaps) > 1 else None,
                     "gap_min": float(gaps.min()), "gap_max": float(gaps.max())})
    test = np.array([g["test"]["mrr"] - s["test"]["mrr"] for g, s in by_seed.values()])
    peak = max(rows, key=lambda r: r["gap_mean"]) if rows else None
    any_gnn = next(iter(by_seed.values()))[0]
    return {
        "decoder": any_gnn["hyper"]["model"].get("decoder"), "budget_minutes": budget, "seeds": sorted(by_seed),
        "threshold": threshold,
        "minutes_every_seed_at_threshold": [r["minute"] for r in rows if r["gap_min"] >= threshold],
        "minutes_mean_at_threshold": [r["minute"] for r in rows if r["gap_mean"] >= threshold],
        "peak": peak, "last": rows[-1] if rows else None,
        "test_gap_mean": float(test.mean()), "test_gap_per_seed": [round(float(v), 4) for v in test],
        "by_minute": rows,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("files", nargs="+", type=Path, help="combined bench_linkpred.py results of GNN/shallow pairs")
    ap.add_argument("--threshold", type=float, default=0.02, help="the gap asked for (issue 13: +0.02 MRR)")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    doc = {"note": "Validation MRR on each seed's 1,000-triple subset, best reached by each whole minute "
                   "(what a run with that budget keeps); test gaps are the full budget's.",
           "files": {}}
    for path in args.files:
        curve = gap_curve(json.loads(path.read_text()), args.threshold)
        doc["files"][path.name] = curve
        peak, last = curve["peak"], curve["last"]
        print(f"{path.name}: {curve['decoder']}, {curve['budget_minutes']:g} min, seeds {curve['seeds']}: "
              f"peak gap {peak['gap_mean']:+.4f} at minute {peak['minute']}, last {last['gap_mean']:+.4f}; "
              f"every seed >= {args.threshold}: minutes {curve['minutes_every_seed_at_threshold']}; "
              f"test gap {curve['test_gap_mean']:+.4f}")
    if args.out:
        args.out.write_text(json.dumps(doc, indent=1) + "\n")


if __name__ == "__main__":
    main()
