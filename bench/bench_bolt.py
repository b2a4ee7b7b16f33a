"""The Neo4j backend over Bolt against the embedded store, in one run (issue 9, part 4).

The Bolt server is ArcadeDB speaking Bolt (``scripts/bolt_server.sh``, restarted for every
variant so each starts on an empty database; state in ``.bolt-bench/``). Steps:

* ``embedded``: ``kgfm build-graph`` code path (:func:`kgfm.store.build.run_build`) on LadybugDB;
* ``bolt``: the same path with ``--store neo4j`` (CREATE, default batch), and ``bolt_merge`` the
  MERGE write path the backend had before (the 1,920 triples/s of the issue);
* a grid on the first ``--grid-limit`` triples: batch sizes, CREATE vs MERGE, and parallel
  writers per relationship type (threads, each its own session and transaction per batch);
* ``--profile``: the default Bolt run again with Java Flight Recorder on the server, summarised
  as the share of server CPU samples inside Bolt handling, Cypher execution, index lookups,
  record/edge creation and commit -- where the time goes when the server is the limit.

Every Bolt run records the server's CPU seconds (``/proc/PID/stat``) and this process's, and the
load average. Output: printed and saved to ``bench/results/bolt.json``.

    python bench/bench_bolt.py [--input ../shared/data/MetaQA/kb_partial.txt.gz] [--grid-limit 40000] [--profile]
"""

from __future__ import annotations

import argparse
import collections
import gzip
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STATE = REPO / ".bolt-bench"
SERVER = [str(REPO / "scripts" / "bolt_server.sh")]


def _server(action: str, java_opts: str = "") -> dict[str, str]:
    env = {**os.environ, "KGFM_BOLT_DIR": str(STATE), "KGFM_BOLT_JAVA_OPTS": java_opts}
    out = subprocess.run(["bash", *SERVER, action], capture_output=True, text=True, env=env, timeout=300)
    if out.returncode != 0:
        raise SystemExit(f"bolt_server.sh {action} failed: {out.stderr.strip()}")
    found = {}
    for line in out.stdout.splitlines():
        if line.startswith("export "):
            key, _, value = line[len("export "):].partition("=")
            found[key] = value
    return found


def _server_cpu() -> float:
    pid = (STATE / "pid").read_text().strip()
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_embedded(path: Path, work: Path) -> dict:
    from kgfm.config import StoreConfig
    from kgfm.store.build import BuildGraphConfig, SourceSpec, run_build

    db = work / f"embedded-{time.monotonic_ns()}" / "g.lbug"
    cfg = BuildGraphConfig(store=StoreConfig(path=db), sources=[SourceSpec(path=path, format="pipe")], out_dir=db.parent)
    cpu0, t0 = _self_cpu(), time.perf_counter()
    report = run_build(cfg, show_progress=False)
    seconds = time.perf_counter() - t0
    return {"seconds": round(seconds, 2), "triples": report.triples_total, "entities": report.entities_total,
            "triples_per_s": round(report.triples_read / seconds), "client_cpu_s": round(_self_cpu() - cpu0, 2),
            "load_avg": os.getloadavg()}


class _TypeParallelStore:
    """Wraps a Neo4jStore: each relationship type's rows go to a thread pool (``writers`` sessions at
    once); :meth:`checkpoint` (called by the loader's ``finish``) waits for all of them."""

    def __init__(self, store, writers: int) -> None:
        self._store = store
        self._pool = ThreadPoolExecutor(writers)
        self._pending: list = []

    def __getattr__(self, name: str):
        return getattr(self._store, name)

    def insert_triple_columns(self, rel_type, heads, tails, predicates) -> int:
        self._pending.append(self._pool.submit(self._store.insert_triple_columns, rel_type, heads, tails, predicates))
        return len(heads)

    def checkpoint(self) -> None:
        for future in self._pending:
            future.result()
        self._pending.clear()


def run_bolt(path: Path, batch_size: int, merge: bool = False, writers: int = 1, java_opts: str = "") -> dict:
    from kgfm.sources import read_source
    from kgfm.store.loader import GraphLoader
    from kgfm.store.neo4j import Neo4jStore

    _server("stop")
    env = _server("start", java_opts)
    store = Neo4jStore(env["KGFM_NEO4J_URI"], env["KGFM_NEO4J_USER"], env["KGFM_NEO4J_PASSWORD"],
                       env.get("KGFM_NEO4J_DATABASE"), batch_size=batch_size, merge=merge)
    try:
        target = store if writers == 1 else _TypeParallelStore(store, writers)
        cpu0, srv0, t0 = _self_cpu(), _server_cpu(), time.perf_counter()
        loader = GraphLoader(target)  # the build-graph defaults (200k-record batches)
        loader.load(read_source(path, "pipe"), str(path), ids_are_names=True)
        report = loader.finish()
        seconds = time.perf_counter() - t0
        server_cpu, client_cpu = _server_cpu() - srv0, _self_cpu() - cpu0
        counts = store.counts()
    finally:
        store.close()
    return {"batch_size": batch_size, "write": "merge" if merge else "create", "writers": writers,
            "seconds": round(seconds, 2), "triples": counts.triples, "entities": counts.entities,
            "triples_per_s": round(report.triples_read / seconds), "server_cpu_s": round(server_cpu, 2),
            "client_cpu_s": round(client_cpu, 2), "server_cpu_share_of_wall": round(server_cpu / seconds, 2),
            "load_avg": os.getloadavg()}


PROFILE_FRAMES = {
    "bolt_protocol_total": "com.arcadedb.bolt.BoltNetworkExecutor.run",
    "cypher_execution": "com.arcadedb.query.opencypher.executor.CypherExecutionPlan.execute",
    "match_node_index_lookup": "com.arcadedb.query.opencypher.executor.steps.MatchNodeStep.tryFindAndUseIndex",
    "create_vertex": "com.arcadedb.query.opencypher.executor.steps.CreateStep.createVertex",
    "create_edge": "com.arcadedb.query.opencypher.executor.steps.CreateStep.createEdge",
    "transaction_commit": "com.arcadedb.database.TransactionContext.commit",
    "bolt_run_messages": "com.arcadedb.bolt.BoltNetworkExecutor.handleRun",
    "bolt_commit_messages": "com.arcadedb.bolt.BoltNetworkExecutor.handleCommit",
}


def summarise_jfr(jfr: Path) -> dict:
    """Inclusive share of the server's CPU samples in each :data:`PROFILE_FRAMES` frame, and the hottest leaves."""
    java_dir = Path(subprocess.run(["bash", "-c", f"{REPO}/.venv-bolt/bin/python -c \"import arcadedb_embedded, os; "
                                    "print(os.path.dirname(arcadedb_embedded.__file__))\""],
                                   capture_output=True, text=True, check=True).stdout.strip())
    out = subprocess.run([str(java_dir / "jre" / "bin" / "jfr"), "print", "--json", "--stack-depth", "400",
                          "--events", "jdk.ExecutionSample", str(jfr)], capture_output=True, text=True, check=True)
    events = json.loads(out.stdout)["recording"]["events"]
    inclusive: collections.Counter = collections.Counter()
    leaves: collections.Counter = collections.Counter()
    for event in events:
        frames = [f["method"]["type"]["name"].replace("/", ".") + "." + f["method"]["name"]
                  for f in event["values"]["stackTrace"]["frames"]]
        if frames:
            leaves[frames[0]] += 1
        for frame in set(frames):
            inclusive[frame] += 1
    n = max(len(events), 1)
    return {"samples": len(events),
            "inclusive_percent": {k: round(100 * inclusive[f] / n, 1) for k, f in PROFILE_FRAMES.items()},
            "hottest_leaf_methods_percent": {k: round(100 * v / n, 1) for k, v in leaves.most_common(8)}}


def _subset(path: Path, limit: int, work: Path) -> Path:
    out = work / f"first{limit}.txt"
    with gzip.open(path, "rt", encoding="utf-8") as src, open(out, "w", encoding="utf-8") as dst:
        for i, line in enumerate(src):
            if i >= limit:
                break
            dst.write(line)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--input", type=Path, default=REPO.parent / "shared" / "data" / "MetaQA" / "kb_partial.txt.gz")
    ap.add_argument("--grid-limit", type=int, default=40_000, help="triples in the variant grid (0: no grid)")
    ap.add_argument("--profile", action="store_true", help="also profile the server with Java Flight Recorder")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "bolt.json")
    args = ap.parse_args()
    from kgfm.store.base import StoreError

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    result: dict = {"input": str(args.input), "server": "ArcadeDB (arcadedb-embedded) speaking Bolt, scripts/bolt_server.sh",
                    "cpus": os.cpu_count(), "load_avg_start": os.getloadavg()}
    with tempfile.TemporaryDirectory(prefix="bench-bolt-") as tmp:
        work = Path(tmp)
        try:
            result["embedded"] = run_embedded(args.input, work)
            print("embedded", result["embedded"], flush=True)
            result["bolt"] = run_bolt(args.input, batch_size=10_000)
            print("bolt", result["bolt"], flush=True)
            result["bolt_merge_before"] = run_bolt(args.input, batch_size=10_000, merge=True)
            print("bolt_merge_before", result["bolt_merge_before"], flush=True)
            _save(result, args.out)
            result["ratio_embedded_over_bolt"] = round(result["embedded"]["triples_per_s"] / result["bolt"]["triples_per_s"], 1)
            result["ratio_create_over_merge"] = round(result["bolt"]["triples_per_s"] / result["bolt_merge_before"]["triples_per_s"], 2)
            result["server_bound_ceiling"] = {
                "create_triples_per_server_cpu_s": round(result["bolt"]["triples"] / result["bolt"]["server_cpu_s"]),
                "merge_triples_per_server_cpu_s": round(result["bolt_merge_before"]["triples"] / result["bolt_merge_before"]["server_cpu_s"]),
                "client_triples_per_client_cpu_s": round(result["bolt"]["triples"] / result["bolt"]["client_cpu_s"]),
                "note": "triples per CPU-second of the ArcadeDB server (all its threads) and of the kgfm client in the same "
                        "run: the rate each side could reach with a whole core to itself"}
            if args.grid_limit:
                subset = _subset(args.input, args.grid_limit, work)
                grid = [run_embedded(subset, work) | {"variant": "embedded"}]
                result["grid"] = {"triples": args.grid_limit, "runs": grid}
                for batch, merge, writers in [(1_000, False, 1), (10_000, False, 1), (50_000, False, 1), (10_000, True, 1),
                                              (10_000, False, 2), (10_000, False, 4)]:
                    try:
                        grid.append(run_bolt(subset, batch, merge, writers))
                    except StoreError as exc:  # e.g. concurrent writers past the driver's retry budget
                        grid.append({"batch_size": batch, "write": "merge" if merge else "create", "writers": writers,
                                     "error": str(exc)[:300], "load_avg": os.getloadavg()})
                    print("grid", grid[-1], flush=True)
                    _save(result, args.out)
            if args.profile:
                jfr = work / "bolt.jfr"
                run = run_bolt(args.input, batch_size=10_000,
                               java_opts=f"-XX:StartFlightRecording=filename={jfr},settings=profile,dumponexit=true")
                _server("stop")  # dumps the recording
                result["profile"] = run | summarise_jfr(jfr)
                print("profile", result["profile"], flush=True)
        finally:
            _server("stop")
    result["load_avg_end"] = os.getloadavg()
    _save(result, args.out)
    print(json.dumps(result, indent=2))


def _save(result: dict, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp_out = out.with_name(out.name + ".tmp")
    tmp_out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp_out, out)


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    main()
