"""FAISS entity-index benchmark: exact (flat) vs HNSW (and IVF) on MetaQA-size embeddings.

Reports build time, p50/p95 single-query latency for top-10 (batch of 1, what `kgfm neighbors`
does), batched throughput (what the fusion model does inside a forward pass) and recall@10 of
each approximate index against exact search. All through :class:`kgfm.index.EntityIndex`
except IVF, which the index class does not build (shown for reference).

Embeddings: an entity-index artifact (``--index runs/graph-metaqa/index``, written by
``kgfm train --stage graph --config configs/graph_metaqa.yaml``); without one, random
Gaussian vectors of the same shape (stated in the JSON).

    python bench/bench_faiss.py --index runs/graph-metaqa/index --out bench/results/faiss_metaqa.json
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def latency(index, queries: np.ndarray, k: int) -> dict:
    times = []
    for q in queries:
        t0 = time.perf_counter()
        index.search(q[None, :], k)
        times.append(time.perf_counter() - t0)
    ms = np.array(times) * 1000
    return {"p50_ms": float(np.percentile(ms, 50)), "p95_ms": float(np.percentile(ms, 95)), "n": len(ms)}


def throughput(index, queries: np.ndarray, k: int, batch: int) -> dict:
    t0 = time.perf_counter()
    for start in range(0, len(queries), batch):
        index.search(queries[start : start + batch], k)
    dt = time.perf_counter() - t0
    return {"batch": batch, "queries_per_second": len(queries) / dt}


def recall(exact_idx: np.ndarray, approx_idx: np.ndarray) -> float:
    k = exact_idx.shape[1]
    return float(np.mean([len(set(a) & set(e)) / k for a, e in zip(approx_idx, exact_idx)]))


def main() -> None:
    import faiss

    from kgfm.index.entity_index import EntityIndex

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--index", type=Path, default=REPO / "runs" / "graph-metaqa" / "index")
    p.add_argument("--random", type=str, default="42718x200", help="NxD random vectors when --index is absent")
    p.add_argument("--queries", type=int, default=1000)
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--hnsw-m", type=int, default=32)
    p.add_argument("--ef-search", type=int, nargs="+", default=[16, 32, 64, 128, 256])
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args()
    faiss.omp_set_num_threads(args.threads)

    if args.index.is_dir():
        src = EntityIndex.load(args.index, use_gpu=False)
        emb, ids, metric = src.embeddings, src.entity_ids, src.metric
        source = {"kind": "entity-index", "path": str(args.index), "fingerprint": src.fingerprint,
                  "encoder": src.manifest.get("encoder"), "test_metrics": src.manifest.get("test_metrics")}
    else:
        n, d = (int(x) for x in args.random.split("x"))
        emb = np.random.default_rng(0).standard_normal((n, d)).astype(np.float32)
        ids, metric = [str(i) for i in range(n)], "ip"
        source = {"kind": "random-gaussian", "shape": [n, d],
                  "note": f"{args.index} not found; random vectors of MetaQA size"}
    n, d = emb.shape
    rng = np.random.default_rng(1)
    queries = emb[rng.choice(n, size=min(args.queries, n), replace=False)].copy()
    print(f"{n} x {d} embeddings ({source['kind']}), metric {metric}, {len(queries)} queries, "
          f"{args.threads} faiss thread(s)", flush=True)

    results: dict = {}
    t0 = time.perf_counter()
    exact = EntityIndex.build(emb, ids, metric=metric, exact_threshold=n + 1, use_gpu=False)
    results["flat"] = {"build_seconds": time.perf_counter() - t0}
    _, exact_idx = exact.search(queries, args.k)
    results["flat"].update(latency=latency(exact, queries, args.k),
                           throughput=throughput(exact, queries, args.k, 256), recall_at_k=1.0)

    t0 = time.perf_counter()
    hnsw = EntityIndex.build(emb, ids, metric=metric, exact_threshold=0, hnsw_m=args.hnsw_m,
                             ef_construction=200, use_gpu=False)
    build = time.perf_counter() - t0
    results["hnsw"] = {"build_seconds": build, "M": args.hnsw_m, "ef_construction": 200, "by_ef_search": {}}
    for ef in args.ef_search:
        hnsw.index.hnsw.efSearch = ef
        _, idx = hnsw.search(queries, args.k)
        results["hnsw"]["by_ef_search"][str(ef)] = {
            "recall_at_k": recall(exact_idx, idx), "latency": latency(hnsw, queries, args.k),
            "throughput": throughput(hnsw, queries, args.k, 256),
        }

    nlist = int(4 * np.sqrt(n))
    quantizer = faiss.IndexFlatIP(d) if metric == "ip" else faiss.IndexFlatL2(d)
    ivf = faiss.IndexIVFFlat(quantizer, d, nlist, faiss.METRIC_INNER_PRODUCT if metric == "ip" else faiss.METRIC_L2)
    t0 = time.perf_counter()
    ivf.train(emb)
    ivf.add(emb)
    results["ivf_flat"] = {"build_seconds": time.perf_counter() - t0, "nlist": nlist, "by_nprobe": {}}

    class _Raw:  # same call shape as EntityIndex.search for the timing helpers
        def search(self, q, k):
            return ivf.search(np.ascontiguousarray(q), k)

    for nprobe in (4, 16, 64):
        ivf.nprobe = nprobe
        _, idx = ivf.search(queries, args.k)
        results["ivf_flat"]["by_nprobe"][str(nprobe)] = {
            "recall_at_k": recall(exact_idx, idx), "latency": latency(_Raw(), queries, args.k),
            "throughput": throughput(_Raw(), queries, args.k, 256),
        }

    doc = {"embeddings": source, "n": n, "dim": d, "metric": metric, "k": args.k, "queries": len(queries),
           "query_kind": "entity embeddings sampled from the index (neighbour search)",
           "faiss": faiss.__version__, "threads": args.threads, "host": platform.node(),
           "machine": "shared 2-core CPU (other jobs running)", "results": results, "command": " ".join(sys.argv)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=2))
    flat = results["flat"]
    print(f"flat: build {flat['build_seconds']:.3f}s  p50 {flat['latency']['p50_ms']:.2f} ms")
    print(f"hnsw: build {results['hnsw']['build_seconds']:.2f}s")
    for ef, r in results["hnsw"]["by_ef_search"].items():
        print(f"  efSearch {ef:>4}: recall@{args.k} {r['recall_at_k']:.4f}  p50 {r['latency']['p50_ms']:.3f} ms  "
              f"{r['throughput']['queries_per_second']:.0f} q/s batched")
    for nprobe, r in results["ivf_flat"]["by_nprobe"].items():
        print(f"  ivf nprobe {nprobe:>3}: recall@{args.k} {r['recall_at_k']:.4f}  p50 {r['latency']['p50_ms']:.3f} ms")


if __name__ == "__main__":
    main()
