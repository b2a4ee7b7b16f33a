"""Fusion encoder vs the plain encoder on MetaQA QA, several seeds each (issue 13, item 3).

Each (kind, seed) is fine-tuned separately from configs/metaqa_{hops}hop.yaml (training on the
vanilla dev split only, as the protocol says), ``encoder.kind`` = ``fusion`` or ``plain``, then
evaluated on the same seeded sample of the vanilla test questions and, for 1-hop, of the
paraphrased ``1-hop/ntm/qa_dev.txt`` (never trained on). Fusion models are also scored with fusion
switched off inside the trained model. Reported: Hits@1 per run, mean +- sd per kind, and a paired
t-test across seeds (fusion vs plain, same seed = same data order and question sample).

    nice -n 5 python bench/bench_qa_seeds.py --hops 1 --seeds 0 1 2 --limit 1000 --epochs 1 --limit-train 2000

Trained runs found in ``--work`` are re-evaluated, not retrained (``--retrain`` forces it), so
``--para-limit 0`` re-scores existing runs on all 9,992 paraphrased questions.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
RESULTS = REPO / "bench" / "results"
METAQA = REPO.parent / "shared" / "data" / "MetaQA"


def hits(result: dict, kind: str) -> dict:
    main = result["plain_encoder" if kind == "plain" else "with_fusion"]
    out = {"hits@1": main["hits@1"]}
    if kind != "plain":
        out.update({"fusion_off_hits@1": result["without_fusion"]["hits@1"], "fusion_vs_off": result.get("fusion_vs_off")})
    if "per_qtype" in main:
        out["per_qtype"] = {t: v["hits@1"] for t, v in main["per_qtype"].items()}
    return out


def per_type(runs: list[dict], key: str) -> dict:
    """Hits@1 per question type: mean over seeds per kind and the fusion - plain difference in points."""
    out: dict = {}
    for kind in ("fusion", "plain"):
        per = [r[key]["per_qtype"] for r in runs if r["kind"] == kind and "per_qtype" in r.get(key, {})]
        for t in sorted(set().union(*per)):
            out.setdefault(t, {})[kind] = float(np.mean([p[t] for p in per if t in p]))
    for t, v in out.items():
        if "fusion" in v and "plain" in v:
            v["diff_points"] = (v["fusion"] - v["plain"]) * 100
    return out


def run_one(args, kind: str, seed: int) -> dict:
    from kgfm.config import parse_overrides
    from kgfm.qa.evaluate import run_eval
    from kgfm.qa.finetune import main as finetune

    tag = args.fusion_tag if kind == "fusion" else args.plain_tag
    out = args.work / f"{args.hops}hop-{kind}{tag}-s{seed}"
    overrides = {"encoder.kind": kind, "run.seed": seed, "run.output_dir": str(out), "run.threads": args.threads,
                 "train.epochs": args.epochs, "index": str(args.index)}
    overrides.update(parse_overrides(args.fusion_set if kind == "fusion" else args.plain_set))
    if args.limit_train:
        overrides["data.limit_train"] = args.limit_train
    t0 = time.perf_counter()
    retrain = not (out / "model" / "manifest.json").is_file() or args.retrain
    if retrain:
        summary = finetune(REPO / "configs" / f"metaqa_{args.hops}hop.yaml", overrides, False)
        train_s = time.perf_counter() - t0
    else:  # re-scored: the training time is the one the run recorded
        summary = json.loads((out / "metrics.json").read_text())
        train_s = float(summary.get("wall_s", 0.0))
    entry = {"kind": kind, "seed": seed, "train_s": round(train_s, 1), "trained_now": retrain,
             "epochs_run": summary.get("epochs_run"),
             "best_valid_hits1": summary.get("best_valid_hits1"), "loadavg": os.getloadavg()}
    test = run_eval(out / "model", "metaqa", args.hops, "test", args.limit, out / "eval-test.json")
    entry["test"] = hits(test, kind)
    if args.hops == 1 and not args.no_para:
        para_limit = args.limit if args.para_limit is None else (args.para_limit or None)
        para = run_eval(out / "model", file=METAQA / "1-hop" / "ntm" / "qa_dev.txt", limit=para_limit,
                        qtype_file=METAQA / "1-hop" / "qa_dev_qtype.txt",
                        out_path=out / ("eval-ntm-dev.json" if para_limit else "eval-ntm-dev-all.json"))
        entry["paraphrase_dev"] = {**hits(para, kind), "questions": para["questions"]}
    return entry


def summarise(runs: list[dict], key: str) -> dict:
    from scipy import stats

    out: dict = {}
    by_kind = {k: {r["seed"]: r[key]["hits@1"] for r in runs if r["kind"] == k and key in r} for k in ("fusion", "plain")}
    for k, vals in by_kind.items():
        v = np.array(list(vals.values()))
        if len(v):
            out[k] = {"mean": float(v.mean()), "sd": float(v.std(ddof=1)) if len(v) > 1 else None, "n": len(v)}
    off = np.array([r[key]["fusion_off_hits@1"] for r in runs if r["kind"] == "fusion" and key in r])
    if len(off):
        out["fusion_switched_off"] = {"mean": float(off.mean()), "sd": float(off.std(ddof=1)) if len(off) > 1 else None}
    seeds = sorted(set(by_kind["fusion"]) & set(by_kind["plain"]))
    if len(seeds) >= 2:
        a = np.array([by_kind["fusion"][s] for s in seeds])
        b = np.array([by_kind["plain"][s] for s in seeds])
        t = stats.ttest_rel(a, b)
        out["paired"] = {"seeds": seeds, "mean_diff_points": float((a - b).mean() * 100),
                         "t": float(t.statistic), "p": float(t.pvalue)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hops", type=int, default=1)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--kinds", nargs="+", default=["fusion", "plain"])
    ap.add_argument("--limit", type=int, default=3000)
    ap.add_argument("--no-para", action="store_true",
                    help="skip the paraphrased questions (score them later, e.g. one fixed half with para_halves.py)")
    ap.add_argument("--para-limit", type=int, default=None,
                    help="paraphrased 1-hop dev questions scored (default: --limit; 0: all 9,992)")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--limit-train", type=int, default=None, help="a seeded sample of N training questions")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--index", type=Path, default=REPO / "runs/graph-metaqa/index")
    ap.add_argument("--work", type=Path, default=REPO / "runs/qa-seeds")
    ap.add_argument("--retrain", action="store_true")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--fusion-set", action="append", default=[],
                    help="override for the fusion runs only, e.g. encoder.init=pretrained (the plain runs are unchanged)")
    ap.add_argument("--fusion-tag", default="", help="suffix of the fusion runs' folders (plain runs in --work are reused)")
    ap.add_argument("--plain-set", action="append", default=[], help="override for the plain runs only")
    ap.add_argument("--plain-tag", default="", help="suffix of the plain runs' folders")
    args = ap.parse_args()
    out_path = args.out or RESULTS / f"qa_seeds_{args.hops}hop.json"
    doc = json.loads(out_path.read_text()) if out_path.is_file() else {}
    runs = {f"{r['kind']}-{r['seed']}": r for r in doc.get("runs", [])}
    t0 = time.perf_counter()
    for seed in args.seeds:
        for kind in args.kinds:
            runs[f"{kind}-{seed}"] = run_one(args, kind, seed)
            ordered = sorted(runs.values(), key=lambda r: (r["seed"], r["kind"]))
            doc = {"hops": args.hops, "limit": args.limit, "para_limit": args.para_limit, "epochs": args.epochs, "limit_train": args.limit_train, "index": str(args.index),
                   "fusion_overrides": args.fusion_set, "plain_overrides": args.plain_set, "threads": args.threads, "runs": ordered,
                   "summary": {k: summarise(ordered, k) for k in ("test", "paraphrase_dev") if any(k in r for r in ordered)},
                   "paraphrase_dev_per_type": per_type(ordered, "paraphrase_dev"),
                   "target": "fusion ahead by >= 1 point on 2-hop and on the paraphrases (mean over seeds)",
                   "command": " ".join(["python", "bench/bench_qa_seeds.py", *sys.argv[1:]]),
                   "wall_s_this_invocation": round(time.perf_counter() - t0, 1)}
            out_path.write_text(json.dumps(doc, indent=1))
            print(json.dumps(runs[f"{kind}-{seed}"]), flush=True)
    print(json.dumps(doc["summary"], indent=1))


if __name__ == "__main__":
    main()
