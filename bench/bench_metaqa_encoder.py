"""MetaQA graph encoder under a fixed wall-clock budget: GNN vs no message passing (issue 13, items 4 and 6).

Each variant is ``kgfm train --stage graph --config configs/graph_metaqa.yaml`` with
``run.max_minutes`` and its overrides, trained one after the other on the same box; the held-out
(seeded 5 %) test MRR, filtered, head + tail, comes from each run's ``metrics.json``.

    python bench/bench_metaqa_encoder.py --minutes 10            # train all variants, then collect
    python bench/bench_metaqa_encoder.py --collect                # collect runs already trained

-> bench/results/metaqa_encoder.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VARIANTS = {
    "compgcn_full_graph": ("runs/graph-metaqa", []),
    "compgcn_khop_sampler": ("runs/graph-metaqa-khop", ["train.sampler=khop", "train.num_negatives=4096"]),
    "no_message_passing": ("runs/graph-metaqa-none", ["model.conv=none"]),
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--collect", action="store_true")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "metaqa_encoder.json")
    args = ap.parse_args()
    runs = {}
    for name, (out, sets) in VARIANTS.items():
        cmd = ["kgfm", "train", "--stage", "graph", "--config", "configs/graph_metaqa.yaml",
               "--set", f"run.max_minutes={args.minutes:g}", "--set", f"run.output_dir={out}"]
        for s in sets:
            cmd += ["--set", s]
        entry = {"command": " ".join(cmd)}
        if not args.collect:
            load = os.getloadavg()
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-m", "kgfm.cli.main", *cmd[1:]], cwd=REPO, check=True)
            entry.update(wall_s=round(time.perf_counter() - t0, 1), loadavg_start=load, loadavg_end=os.getloadavg())
        m = json.loads((REPO / out / "metrics.json").read_text())
        entry.update(epochs=m["epochs"], train_seconds=round(m["train_seconds"], 1), stopped=m["stopped"],
                     best_val_mrr=m["best_val_mrr"], test={k: m["test"][k] for k in ("mrr", "hits@1", "hits@10")})
        runs[name] = entry
    gnn, shallow = runs["compgcn_full_graph"]["test"]["mrr"], runs["no_message_passing"]["test"]["mrr"]
    doc = {"budget_minutes": args.minutes, "cpus": os.cpu_count(), "runs": runs,
           "gnn_minus_shallow_test_mrr": gnn - shallow,
           "targets": {"item 6": "held-out MRR >= 0.25 within 10 minutes on 2 cores",
                       "item 4": "GNN >= shallow + 0.02 at equal time"}}
    args.out.write_text(json.dumps(doc, indent=1))
    print(json.dumps(doc, indent=1))


if __name__ == "__main__":
    main()
