"""Ingest at scale: seeded synthetic power-law graphs through the real ``kgfm build-graph``.

The generator (seeded, numpy) writes a TSV of ``N`` triples over ``N/7`` entities and 200
relations. Heads, tails and relations are drawn from power laws (entity rank ``r`` is picked
with probability ~ ``r^-0.8``, relation rank ~ ``r^-1``), so a few hubs and relations carry
most edges, as in Freebase/Wikidata dumps; ids look like Freebase mids (``/m/0...``), relation
names like Freebase paths. Duplicate draws are kept (the loader must drop them).

For each size it runs, each in its own process (peak RSS is that process's, from
``/usr/bin/time``): ``kgfm build-graph FILE.tsv`` into a fresh store -> seconds, triples/s,
peak RSS, store size on disk; for the largest size also a second run of the same input into the
same store (idempotent: writes nothing) and the export to training tensors
(``GraphStore.export_tensors``, what ``kgfm train`` calls). Ratios (10M vs 1M rate, re-run vs
first run) are taken inside one run of this script. The load average is recorded.

    python bench/bench_scale.py [--sizes 1000000 3000000 10000000] [--out bench/results/scale.json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
RELATIONS = 200


def _power_law(rng: np.random.Generator, n: int, size: int, exponent: float) -> np.ndarray:
    """``size`` draws of ranks 0..n-1 with P(rank r) ~ (r+1)^-exponent (inverse-CDF on a continuous law)."""
    u = rng.random(size)
    if exponent == 1.0:
        ranks = np.floor(np.expm1(u * np.log1p(n)))
    else:
        a = 1.0 - exponent
        ranks = np.floor(((u * ((n + 1) ** a - 1)) + 1) ** (1 / a) - 1)
    return np.clip(ranks.astype(np.int64), 0, n - 1)


def generate(path: Path, triples: int, seed: int = 0, chunk: int = 1_000_000) -> dict:
    """Write the synthetic TSV; returns what it wrote."""
    rng = np.random.default_rng(seed)
    n_entities = max(triples // 7, 2)
    # a seeded permutation so that hub ranks are not the smallest ids
    perm = rng.permutation(n_entities)
    ids = np.char.add("/m/0", np.char.mod("%x", perm * 7919 % (16 ** 7) + perm))
    relation_names = np.array([f"/synthetic/domain_{r % 17}/relation_{r}" for r in range(RELATIONS)])
    started = time.perf_counter()
    with open(path, "w", encoding="utf-8") as handle:
        for start in range(0, triples, chunk):
            n = min(chunk, triples - start)
            h = ids[_power_law(rng, n_entities, n, 0.8)]
            r = relation_names[_power_law(rng, RELATIONS, n, 1.0)]
            t = ids[_power_law(rng, n_entities, n, 0.8)]
            lines = np.char.add(np.char.add(np.char.add(np.char.add(h, "\t"), r), "\t"), t)
            handle.write("\n".join(lines.tolist()))
            handle.write("\n")
    return {"triples": triples, "entities_drawn_from": n_entities, "relations": RELATIONS, "seed": seed,
            "bytes": path.stat().st_size, "generate_seconds": round(time.perf_counter() - started, 1)}


def _timed(cmd: list[str], env: dict[str, str]) -> dict:
    """Run ``cmd`` under /usr/bin/time -v: wall seconds and peak RSS (MB)."""
    started = time.perf_counter()
    result = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"failed ({result.returncode}): {' '.join(cmd)}\n{result.stderr[-3000:]}")
    rss_kb = next(int(line.split(":")[1]) for line in result.stderr.splitlines() if "Maximum resident set size" in line)
    return {"seconds": round(seconds, 2), "peak_rss_mb": round(rss_kb / 1024, 1), "stdout_tail": result.stdout[-400:]}


def _size_mb(path: Path) -> float:
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    siblings = [p for p in path.parent.glob(path.name + "*") if p.is_file() and p != path]
    return round(sum(p.stat().st_size for p in files + siblings) / 2**20, 1)


def build(tsv: Path, store: Path, env: dict[str, str]) -> dict:
    kgfm = [sys.executable, "-c", "from kgfm.cli.main import main; main()"]
    out = _timed([*kgfm, "build-graph", str(tsv), "--path", str(store)], env)
    report = json.loads((store.parent / f"{store.stem}.build-graph.report.json").read_text())
    out.update(
        triples_read=report["triples_read"], triples_new=report["triples_new"],
        entities=report["entities_total"], relations=report["relations_total"],
        triples_per_second=round(report["triples_read"] / out["seconds"], 1), store_mb=_size_mb(store),
    )
    out.pop("stdout_tail")
    return out


EXPORT = """
import sys, time
from kgfm.store.embedded import EmbeddedStore
t = time.perf_counter()
with EmbeddedStore(sys.argv[1], read_only=True) as s:
    g = s.export_tensors()
print(g.num_entities, g.num_relations, g.num_triples, round(time.perf_counter() - t, 2))
"""


def export_tensors(store: Path, env: dict[str, str]) -> dict:
    out = _timed([sys.executable, "-c", EXPORT, str(store)], env)
    entities, relations, triples, inner = out.pop("stdout_tail").split()[-4:]
    out.update(entities=int(entities), relations=int(relations), triples=int(triples), seconds_in_process=float(inner))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 3_000_000, 10_000_000])
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (default: a temp dir)")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "scale.json")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    work = Path(args.work or tempfile.mkdtemp(prefix="kgfm-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    results: dict = {"load_average_start": os.getloadavg(), "cpus": os.cpu_count(), "runs": []}
    try:
        for size in args.sizes:
            tsv = work / f"synthetic_{size}.tsv"
            data = generate(tsv, size, args.seed)
            store = work / f"store_{size}" / "graph.lbug"
            run = {"size": size, "data": data, "first": build(tsv, store, env)}
            print(json.dumps(run["first"]), flush=True)
            if size == max(args.sizes):
                run["rerun"] = build(tsv, store, env)
                print("rerun", json.dumps(run["rerun"]), flush=True)
                run["export_tensors"] = export_tensors(store, env)
                print("export", json.dumps(run["export_tensors"]), flush=True)
            run["load_average"] = os.getloadavg()
            results["runs"].append(run)
            tsv.unlink()
            if size != max(args.sizes):
                shutil.rmtree(store.parent)
        by_size = {r["size"]: r for r in results["runs"]}
        small, large = by_size[min(by_size)], by_size[max(by_size)]
        results["ratios"] = {
            "rate_largest_vs_smallest": round(large["first"]["triples_per_second"] / small["first"]["triples_per_second"], 3),
            "rerun_vs_first_largest": round(large["rerun"]["seconds"] / large["first"]["seconds"], 3),
        }
        results["load_average_end"] = os.getloadavg()
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print(json.dumps(results.get("ratios", {}), indent=2))


if __name__ == "__main__":
    main()
