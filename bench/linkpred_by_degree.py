"""Where the GNN's lead comes from: paired GNN-minus-shallow test MRR per training-degree bucket (issue 13, item 4).

Reads combined ``bench_linkpred.py`` files whose runs were made with ``--by-degree`` (GNN / shallow pairs,
paired by seed as in ``linkpred_gap_curve.py``) and reports, for the answer entity's and the query
entity's degree bucket, the queries, both sides' mean MRR and the paired gap (mean, sd, per seed).

    python bench/linkpred_by_degree.py bench/results/linkpred_gnn_sub_by_degree_3seeds_cpu.json \\
        --out bench/results/linkpred_gnn_sub_by_degree_summary.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from linkpred_gap_curve import pairs


def degree_gaps(doc: dict) -> dict:
    """Per side (answer / query) and bucket: queries, GNN and shallow mean MRR, paired gap over seeds."""
    by_seed = pairs(doc)
    for seed, (g, s) in by_seed.items():
        for run in (g, s):
            if "by_degree" not in run["test"]:
                raise SystemExit(f"seed {seed}: run {run.get('tag')!r} has no by_degree (run it with --by-degree)")
    out: dict[str, dict] = {"seeds": sorted(by_seed)}
    first = next(iter(by_seed.values()))[0]["test"]["by_degree"]
    for side in ("answer", "query"):
        rows = {}
        for bucket, cell in first[side].items():
            gnn = [g["test"]["by_degree"][side][bucket]["mrr"] for g, _ in by_seed.values()]
            shallow = [s["test"]["by_degree"][side][bucket]["mrr"] for _, s in by_seed.values()]
            if cell["queries"] == 0 or None in gnn or None in shallow:
                rows[bucket] = {"queries": cell["queries"]}
                continue
            gap = np.array(gnn) - np.array(shallow)
            rows[bucket] = {"queries": cell["queries"], "gnn_mrr": float(np.mean(gnn)),
                            "shallow_mrr": float(np.mean(shallow)), "gap_mean": float(gap.mean()),
                            "gap_sd": float(gap.std(ddof=1)) if len(gap) > 1 else None,
                            "gap_per_seed": [round(float(v), 4) for v in gap]}
        out[side] = rows
    overall = np.array([g["test"]["mrr"] - s["test"]["mrr"] for g, s in by_seed.values()])
    out["test_gap_mean"] = float(overall.mean())
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("files", nargs="+", type=Path, help="combined bench_linkpred.py results made with --by-degree")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    doc = {"files": {}}
    for path in args.files:
        summary = degree_gaps(json.loads(path.read_text()))
        doc["files"][path.name] = summary
        print(f"{path.name}: seeds {summary['seeds']}, test gap {summary['test_gap_mean']:+.4f}")
        for side in ("answer", "query"):
            for bucket, row in summary[side].items():
                if "gap_mean" in row:
                    print(f"  {side:6s} degree {bucket:>6s}: {row['queries']:6d} queries  GNN {row['gnn_mrr']:.4f}  "
                          f"shallow {row['shallow_mrr']:.4f}  gap {row['gap_mean']:+.4f}")
    if args.out:
        args.out.write_text(json.dumps(doc, indent=1) + "\n")


if __name__ == "__main__":
    main()
