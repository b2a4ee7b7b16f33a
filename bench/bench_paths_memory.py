"""The in-memory evidence paths (:class:`kgfm.qa.paths.PairPaths`): build time, memory,
the objects a full garbage collection must walk, and look-up time, on a whole graph.

``kgfm serve`` builds it at start and at every reload (:mod:`kgfm.serve.reload`), whose full
collection walks every tracked object while requests wait. ``--repo`` measures another checkout's
``PairPaths`` (e.g. a git worktree of an earlier commit; before it moved there it was ``kgfm.serve.paths``) on the same graph and pairs, for a
before/after pair in the same run:

    git worktree add /tmp/kgfm-68f1e0e 68f1e0e   # the dict-of-pairs PairPaths, before the arrays
    python bench/bench_paths_memory.py --graph ../shared/data/MetaQA/kb_partial.txt.gz --repo /tmp/kgfm-68f1e0e \
        --out bench/results/serve_paths_memory.json
    python bench/bench_paths_memory.py --synthetic 5000000 --repo /tmp/kgfm-68f1e0e --out bench/results/serve_paths_memory_5m.json
"""

from __future__ import annotations

import argparse
import gc
import gzip
import hashlib
import json
import os
import statistics
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def _read_pipe_kb(path: Path) -> tuple[list[str], list[str], np.ndarray, np.ndarray, np.ndarray]:
    """A ``head|relation|tail`` (MetaQA) or tab-separated file, as ids and integer triples."""
    opener = gzip.open if path.suffix == ".gz" else open
    ent: dict[str, int] = {}
    rel: dict[str, int] = {}
    h, r, t = [], [], []
    with opener(path, "rt", encoding="utf-8") as f:
        for line in f:
            parts = line.rstrip("\n").split("|" if "|" in line else "\t")
            if len(parts) != 3:
                continue
            h.append(ent.setdefault(parts[0], len(ent)))
            r.append(rel.setdefault(parts[1], len(rel)))
            t.append(ent.setdefault(parts[2], len(ent)))
    return list(ent), list(rel), np.array(h), np.array(r), np.array(t)


def _synthetic(triples: int, seed: int = 0) -> tuple[list[str], list[str], np.ndarray, np.ndarray, np.ndarray]:
    """Power-law graph as bench_scale.py makes it: N/7 entities, 200 relations."""
    rng = np.random.default_rng(seed)
    n = max(triples // 7, 2)
    h = np.minimum(rng.zipf(1.6, triples) - 1, n - 1)
    t = rng.integers(0, n, triples)
    r = rng.integers(0, 200, triples)
    return [f"e{i}" for i in range(n)], [f"r{i}" for i in range(200)], h, r, t


def _pairs(h: np.ndarray, t: np.ndarray, count: int, seed: int = 0) -> list[tuple[int, int, int]]:
    """(source, target, hops) look-ups like the answers the server explains: the ends of a triple
    (asked with 1 hop), the ends of a two-step walk (2 hops), random pairs (3 hops)."""
    rng = np.random.default_rng(seed)
    src, dst = np.concatenate([h, t]), np.concatenate([t, h])
    order = np.argsort(src, kind="stable")
    src, dst = src[order], dst[order]
    pick = rng.integers(0, len(h), count)
    one = [(int(h[i]), int(t[i]), 1) for i in pick]
    two = []
    for i in rng.integers(0, len(src), count):  # s -> m, then a random edge out of m
        s, m = int(src[i]), int(dst[i])
        lo, hi = np.searchsorted(src, [m, m + 1])
        o = int(dst[rng.integers(lo, hi)])
        if o != s:
            two.append((s, o, 2))
    ends = rng.integers(0, int(max(h.max(), t.max())) + 1, (count, 2))
    three = [(int(a), int(b), 3) for a, b in ends if a != b]
    return one + two + three


def measure(ids: list[str], rels: list[str], h: np.ndarray, r: np.ndarray, t: np.ndarray,
            pairs: list[tuple[int, int, int]]) -> dict[str, Any]:
    try:
        from kgfm.qa.paths import PairPaths
    except ImportError:  # a checkout before the module moved from kgfm.serve (68f1e0e)
        from kgfm.serve.paths import PairPaths

    gc.collect()
    gc.disable()
    objects = len(gc.get_objects())
    tracemalloc.start()
    t0 = time.perf_counter()
    paths = PairPaths(ids, ids, rels, h, r, t)
    build = time.perf_counter() - t0
    memory = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    objects = len(gc.get_objects()) - objects
    t0 = time.perf_counter()
    gc.collect()
    collect = time.perf_counter() - t0
    gc.enable()
    del paths  # built again, for its time without tracemalloc's cost
    gc.collect()
    t0 = time.perf_counter()
    paths = PairPaths(ids, ids, rels, h, r, t)
    build_plain = time.perf_counter() - t0
    lookups: dict[int, list[float]] = {1: [], 2: [], 3: []}
    answered: dict[int, int] = {1: 0, 2: 0, 3: 0}
    digest = hashlib.sha256()  # of every answer, to compare checkouts
    for s, o, hops in pairs:
        t0 = time.perf_counter()
        found = paths.paths(ids[s], ids[o], hops, 10)
        lookups[hops].append(time.perf_counter() - t0)
        answered[hops] += found is not None
        digest.update(repr(found).encode())
    return {
        "build_s": round(build_plain, 3), "build_s_under_tracemalloc": round(build, 3),
        "memory_mb": round(memory[0] / 2**20, 1), "peak_memory_mb": round(memory[1] / 2**20, 1),
        "tracked_objects_added": objects, "full_collect_ms_with_it": round(1000 * collect, 1),
        "answers_sha256": digest.hexdigest(),
        "lookup_us": {str(k): {"count": len(v), "answered_in_memory": answered[k],
                                "p50": round(1e6 * statistics.median(v), 1),
                                "p95": round(1e6 * sorted(v)[int(0.95 * (len(v) - 1))], 1)}
                      for k, v in lookups.items() if v},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--graph", type=Path, help="a head|relation|tail or TSV triple file (gzip allowed)")
    ap.add_argument("--synthetic", type=int, help="a synthetic power-law graph of this many triples instead")
    ap.add_argument("--pairs", type=int, default=2000, help="look-ups of each kind")
    ap.add_argument("--repo", type=Path, action="append", default=[],
                    help="another checkout whose PairPaths to measure too (repeatable); this one is always measured")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "serve_paths_memory.json")
    args = ap.parse_args()
    if args.repo and os.environ.get("_KGFM_BENCH_CHILD") is None:
        import subprocess

        results = {}
        for repo in [REPO, *args.repo]:  # each checkout in a process of its own (its own kgfm import)
            child = Path(args.out).with_suffix(f".{len(results)}.tmp")
            cmd = [sys.executable, __file__, "--pairs", str(args.pairs), "--out", str(child)]
            cmd += ["--graph", str(args.graph)] if args.graph else ["--synthetic", str(args.synthetic)]
            subprocess.run(cmd, check=True, env=dict(os.environ, PYTHONPATH=str(repo), _KGFM_BENCH_CHILD=str(repo)))
            rev = subprocess.run(["git", "-C", str(repo), "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
            dirty = subprocess.run(["git", "-C", str(repo), "status", "--porcelain", "kgfm"], capture_output=True, text=True).stdout.strip()
            results[f"{repo.name} at {rev}{' with changes to kgfm/' if dirty else ''}"] = json.loads(child.read_text())["result"]
            child.unlink()
        report = {"graph": str(args.graph or f"synthetic {args.synthetic}"), "results": results,
                  "same_answers": len({r["answers_sha256"] for r in results.values()}) == 1}
    else:
        sys.path.insert(0, os.environ.get("_KGFM_BENCH_CHILD", str(REPO)))
        ids, rels, h, r, t = _read_pipe_kb(args.graph) if args.graph else _synthetic(args.synthetic)
        pairs = _pairs(h, t, args.pairs)
        report = {"graph": str(args.graph or f"synthetic {args.synthetic}"), "entities": len(ids), "triples": len(h),
                  "result": measure(ids, rels, h, r, t, pairs)}
    report.update(cpus=os.cpu_count(), loadavg=list(os.getloadavg()), date=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
