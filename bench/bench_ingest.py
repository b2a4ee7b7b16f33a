"""Ingestion and query benchmark for the embedded store (issue: kgfm build-graph).

For FB15k-237 (train+valid+test, 310,116 triples) and the MetaQA KB (kb_partial.txt.gz):

* ``kgfm``: the real build-graph path (streaming parse, dedup, vocabularies, COPY, checkpoint);
* ``raw``: a raw LadybugDB COPY of the same rows into the same schema, rows already parsed in
  memory and grouped per relationship type (fastest settings: no per-COPY checkpoint), timed
  from database open to the final CHECKPOINT -- the baseline the ratio is taken against.

Each step runs in its own subprocess so its peak RSS is its own. After MetaQA is loaded,
1,000 parameterised 2-hop neighbour queries (``store.neighbors(id, hops=2)``) on random
entities give p50/p95 latency. Results: printed and saved to bench/results/ingest.json.

    python bench/bench_ingest.py [--data ../shared/data] [--queries 1000]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATASETS = {
    "fb15k237": (["FB15k-237/train.txt.gz", "FB15k-237/valid.txt", "FB15k-237/test.txt"], "tsv"),
    "metaqa": (["MetaQA/kb_partial.txt.gz"], "pipe"),
}


def _rows(files: list[Path], fmt: str) -> list[tuple[str, str, str]]:
    sep = "\t" if fmt == "tsv" else "|"
    rows = []
    for f in files:
        opener = gzip.open if f.suffix == ".gz" else open
        with opener(f, "rt", encoding="utf-8") as fh:
            rows.extend(tuple(line.rstrip("\r\n").split(sep)) for line in fh if line.strip())
    return rows


def step_kgfm(files: list[Path], fmt: str, db: Path) -> dict:
    from kgfm.config import StoreConfig
    from kgfm.store.build import BuildGraphConfig, SourceSpec, run_build

    cfg = BuildGraphConfig(
        store=StoreConfig(path=db), sources=[SourceSpec(path=f, format=fmt) for f in files], out_dir=db.parent
    )
    t0 = time.perf_counter()
    report = run_build(cfg, show_progress=False)
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "triples": report.triples_total, "entities": report.entities_total,
            "relations": report.relations_total, "triples_per_s": report.triples_read / seconds}


def step_raw(files: list[Path], fmt: str, db: Path) -> dict:
    import ladybug
    import pandas as pd

    from kgfm.store.names import quote_identifier, rel_type_name

    rows = list(dict.fromkeys(_rows(files, fmt)))  # parsed + deduplicated before timing
    entities = list(dict.fromkeys(x for h, _r, t in rows for x in (h, t)))
    taken: dict[str, str] = {}
    groups: dict[str, list[tuple[str, str, str]]] = {}
    for h, r, t in rows:
        groups.setdefault(r, []).append((h, t, r))
    names = {r: rel_type_name(r, taken) for r in groups}
    t0 = time.perf_counter()
    database = ladybug.Database(str(db), auto_checkpoint=False)
    conn = ladybug.Connection(database)
    conn.execute("CREATE NODE TABLE Entity(id STRING PRIMARY KEY, idx INT64, name STRING, description STRING, types STRING[], props STRING)")
    for r in groups:
        conn.execute(f"CREATE REL TABLE {quote_identifier(names[r])}(FROM Entity TO Entity, predicate STRING)")
    ent = pd.DataFrame({"id": entities, "idx": range(len(entities)), "name": [None] * len(entities),
                        "description": [None] * len(entities), "types": [[] for _ in entities], "props": [None] * len(entities)})
    conn.execute("COPY Entity FROM ent")
    for r, trip in groups.items():
        frame = pd.DataFrame(trip, columns=["from", "to", "predicate"])  # noqa: F841
        conn.execute(f"COPY {quote_identifier(names[r])} FROM frame")
    conn.execute("CHECKPOINT")
    seconds = time.perf_counter() - t0
    conn.close()
    database.close()
    return {"seconds": seconds, "triples": len(rows), "triples_per_s": len(rows) / seconds}


def step_queries(db: Path, n: int) -> dict:
    import numpy as np

    from kgfm.store.embedded import EmbeddedStore

    store = EmbeddedStore(db, read_only=True)
    ids = store.export_tensors().entity_ids
    rng = np.random.default_rng(0)
    picks = [ids[i] for i in rng.integers(0, len(ids), size=n)]
    for eid in picks[:20]:  # warm-up
        store.neighbors(eid, hops=2, limit=100_000)
    times, sizes = [], []
    for eid in picks:
        t0 = time.perf_counter()
        result = store.neighbors(eid, hops=2, limit=100_000)
        times.append(time.perf_counter() - t0)
        sizes.append(len(result))
    store.close()
    ms = np.array(times) * 1000
    return {"queries": n, "p50_ms": float(np.percentile(ms, 50)), "p95_ms": float(np.percentile(ms, 95)),
            "mean_ms": float(ms.mean()), "mean_result_size": float(np.mean(sizes))}


def child(step: str, dataset: str, data: Path, db: Path, n: int) -> None:
    files, fmt = DATASETS[dataset]
    paths = [data / f for f in files]
    if step == "kgfm":
        out = step_kgfm(paths, fmt, db)
    elif step == "raw":
        out = step_raw(paths, fmt, db)
    else:
        out = step_queries(db, n)
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))


def run_child(step: str, dataset: str, data: Path, db: Path, n: int) -> dict:
    cmd = [sys.executable, __file__, "--child", step, "--dataset", dataset, "--data", str(data), "--db", str(db), "--queries", str(n)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=REPO / ".." / "shared" / "data")
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "ingest.json")
    parser.add_argument("--child")
    parser.add_argument("--dataset")
    parser.add_argument("--db", type=Path)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.dataset, args.data.resolve(), args.db, args.queries)
        return
    results: dict = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version()}, "datasets": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for dataset in DATASETS:
            kg = run_child("kgfm", dataset, args.data, Path(tmp) / dataset / "kgfm" / "g.lbug", args.queries)
            raw_db = Path(tmp) / dataset / "raw"
            raw_db.mkdir(parents=True)
            raw = run_child("raw", dataset, args.data, raw_db / "g.lbug", args.queries)
            entry = {"kgfm": kg, "raw_copy": raw, "ratio_to_raw_copy": kg["seconds"] / raw["seconds"]}
            if dataset == "metaqa":
                entry["two_hop_neighbors"] = run_child("queries", dataset, args.data, Path(tmp) / dataset / "kgfm" / "g.lbug", args.queries)
            results["datasets"][dataset] = entry
            print(f"{dataset}: kgfm {kg['seconds']:.2f}s ({kg['triples_per_s']:,.0f} triples/s, peak RSS {kg['peak_rss_mb']:.0f} MB), "
                  f"raw COPY {raw['seconds']:.2f}s -> ratio {entry['ratio_to_raw_copy']:.2f}x", flush=True)
            shutil.rmtree(Path(tmp) / dataset, ignore_errors=True) if dataset != "metaqa" else None
    q = results["datasets"]["metaqa"]["two_hop_neighbors"]
    print(f"metaqa 2-hop neighbours: p50 {q['p50_ms']:.2f} ms, p95 {q['p95_ms']:.2f} ms over {q['queries']} queries")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
