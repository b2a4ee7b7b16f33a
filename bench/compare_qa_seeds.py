"""Paired comparison of the fusion (or, with ``--kind plain``, the plain) runs of two ``bench_qa_seeds.py`` results.

``bench_qa_seeds.py`` pairs each fusion run with the plain run of the same seed. To compare two
fusion variants with each other (e.g. knowledge pretraining with and without relation views, or
against the text-only control), this pairs the fusion runs of result A with those of result B on
the seeds both have (``--kind plain``: their plain runs, e.g. two scorer settings): mean difference in points, paired t-test, per-seed differences and, for the
paraphrases, per question type. Nothing is retrained or re-scored.

    python bench/compare_qa_seeds.py bench/results/A.json bench/results/B.json --out bench/results/A_vs_B.json
    python bench/compare_qa_seeds.py A.json B.json --kind plain
    python bench/compare_qa_seeds.py A.json B.json --kind fusion --kind-b plain   # A's fusion vs B's plain
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from _emit import emit


def kind_runs(doc: dict, key: str, kind: str = "fusion") -> dict[int, dict]:
    return {r["seed"]: r[key] for r in doc["runs"] if r["kind"] == kind and key in r}


def compare(a: dict, b: dict, key: str, kind: str = "fusion", kind_b: str | None = None) -> dict | None:
    """``kind`` runs of ``a`` minus the ``kind_b`` (default: ``kind``) runs of ``b`` on ``key`` (``test`` or
    ``paraphrase_dev``), paired by seed."""
    return paired(kind_runs(a, key, kind), kind_runs(b, key, kind_b or kind))


def paired(ra: dict[int, dict], rb: dict[int, dict]) -> dict | None:
    """Hits@1 of ``ra`` minus ``rb`` (seed -> result with ``hits@1`` and optionally ``per_qtype``) on the
    seeds both have: means, per-seed differences in points, how many seeds A wins, a paired t-test from two
    seeds on, and the mean difference per question type. None without a common seed."""
    from scipy import stats

    seeds = sorted(set(ra) & set(rb))
    if not seeds:
        return None
    x = np.array([ra[s]["hits@1"] for s in seeds])
    y = np.array([rb[s]["hits@1"] for s in seeds])
    d = (x - y) * 100
    out = {"seeds": seeds, "a_mean": float(x.mean()), "b_mean": float(y.mean()),
           "mean_diff_points": float(d.mean()), "per_seed_diff_points": [round(float(v), 2) for v in d],
           "wins": int((d > 0).sum())}
    if len(seeds) >= 2:
        t = stats.ttest_rel(x, y)
        out.update({"t": float(t.statistic), "p": float(t.pvalue)})
    types = sorted(set.intersection(*(set(r.get("per_qtype", {})) for r in [*ra.values(), *rb.values()])))
    if types:
        out["per_qtype_diff_points"] = {
            t: round(float(np.mean([ra[s]["per_qtype"][t] - rb[s]["per_qtype"][t] for s in seeds]) * 100), 2)
            for t in types}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("a", type=Path, help="bench_qa_seeds result A")
    ap.add_argument("b", type=Path, help="bench_qa_seeds result B")
    ap.add_argument("--kind", choices=("fusion", "plain"), default="fusion", help="which runs to pair")
    ap.add_argument("--kind-b", choices=("fusion", "plain"), default=None,
                    help="B's runs to pair with A's --kind runs (default: the same kind), e.g. A's fusion runs "
                         "against the plain runs B already has")
    ap.add_argument("--out", type=Path, default=None, help="write the comparison as JSON")
    args = ap.parse_args()
    a, b = (json.loads(p.read_text()) for p in (args.a, args.b))
    kind_b = args.kind_b or args.kind
    doc = {"a": str(args.a), "b": str(args.b), "kind": args.kind, "kind_b": kind_b,
           "a_overrides": a.get(f"{args.kind}_overrides"), "b_overrides": b.get(f"{kind_b}_overrides"),
           "compared": {k: c for k in ("test", "paraphrase_dev")
                        if (c := compare(a, b, k, args.kind, kind_b)) is not None},
           "command": " ".join(["python", "bench/compare_qa_seeds.py", *sys.argv[1:]])}
    if not doc["compared"]:
        sys.exit(f"error: {args.a} ({args.kind}) and {args.b} ({kind_b}) have no runs on a common seed")
    emit(doc, args.out)


if __name__ == "__main__":
    main()
