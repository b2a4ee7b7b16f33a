"""Benchmark ``kgfm serve``: start to first answer, warm latency, concurrency, batching; and the CLI cold start.

Starts the real server (``kgfm serve --port 0``) in a subprocess and talks to it over HTTP
from this process (httpx; asyncio for the concurrent clients, so the client side costs one
thread). The server's own CPU time per phase is read from ``/proc/<pid>/stat``: CPU ms per
question is the uncontended estimate on a shared box (the wall-clock figures include other
people's load, recorded as ``os.getloadavg()``).

    python bench/bench_serve.py --model runs/qa/sample/model            # -> bench/results/serve.json

A traced server answers eagerly from its ready line and records its blocks while idle; the
warm phases start once ``/version`` reports them all (``start.to_all_blocks_traced_s``).

Targets (2-core box): warm p50 <= 25 ms per single question with evidence, >= 60 questions/s with
8 clients, start to first answer <= 10 s.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
_LOGS = itertools.count()
READY = re.compile(r"ready on (http://[\d.]+:\d+)")


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def _summary(lat_s: list[float], questions: int, wall_s: float, cpu_s: float) -> dict[str, Any]:
    return {"requests": len(lat_s), "questions": questions, "p50_ms": round(1000 * _pct(lat_s, 0.5), 2),
            "p95_ms": round(1000 * _pct(lat_s, 0.95), 2), "mean_ms": round(1000 * statistics.fmean(lat_s), 2),
            "questions_per_s": round(questions / wall_s, 1), "server_cpu_ms_per_question": round(1000 * cpu_s / questions, 2),
            "loadavg": [round(x, 2) for x in os.getloadavg()]}


def _env(threads: int, repo: Path = REPO) -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(repo), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
                OMP_NUM_THREADS=str(threads))


def start(model: Path, threads: int, extra: list[str], repo: Path = REPO) -> tuple[subprocess.Popen, str, float, float, float]:
    """Spawn the server (the ``kgfm`` of the checkout ``repo``); returns (process, url, seconds to the ready line, seconds to the first answer,
    server CPU seconds by the first answer)."""
    log = open(REPO / "bench" / "results" / f"serve-{next(_LOGS)}.log.tmp", "w", encoding="utf-8")
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "kgfm.cli.main", "serve", "--model", str(model), "--port", "0",
                             "--threads", str(threads), "--no-access-log", *extra], stdout=log, stderr=subprocess.STDOUT,
                            env=_env(threads, repo), cwd=repo)
    url = None
    while url is None:
        if proc.poll() is not None:
            raise SystemExit(Path(log.name).read_text(encoding="utf-8"))
        m = READY.search(Path(log.name).read_text(encoding="utf-8"))
        url = m.group(1) if m else None
        time.sleep(0.02)
    ready = time.perf_counter() - t0
    r = httpx.post(url + "/qa", json={"question": "who directed [Orchard of Havana]"}, timeout=120)
    r.raise_for_status()
    return proc, url, ready, time.perf_counter() - t0, _cpu_s(proc.pid)


def wait_traced(url: str, t0: float, timeout: float = 120.0) -> float | None:
    """Seconds from ``t0`` until ``/version`` reports every transformer block traced (recorded
    while the server is idle, :mod:`kgfm.serve.worker`); ``None`` for a server without tracing."""
    while True:
        traced = httpx.get(url + "/version").json()["model"].get("traced_blocks")
        if traced is None:
            return None
        done, _, total = traced.partition("/")
        if done == total:
            return time.perf_counter() - t0
        if time.perf_counter() - t0 > timeout:
            raise SystemExit(f"{url}: blocks still not traced after {timeout:.0f} s ({traced})")
        time.sleep(0.05)


async def _clients(url: str, questions: list[str], n: int, clients: int, per_request: int) -> tuple[list[float], float]:
    lat: list[float] = []
    todo = list(range(0, n, per_request))

    async def client(c: httpx.AsyncClient) -> None:
        while todo:
            i = todo.pop()
            batch = [questions[(i + j) % len(questions)] for j in range(per_request)]
            body = {"question": batch[0]} if per_request == 1 else {"questions": batch}
            t = time.perf_counter()
            r = await c.post("/qa", json=body)
            lat.append(time.perf_counter() - t)
            assert r.status_code in (200, 422), r.text

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=300, limits=limits) as c:
        t0 = time.perf_counter()
        await asyncio.gather(*(client(c) for _ in range(clients)))
        return lat, time.perf_counter() - t0


def concurrent(url: str, pid: int, questions: list[str], n: int, clients: int, per_request: int = 1) -> dict[str, Any]:
    cpu0 = _cpu_s(pid)
    lat, wall = asyncio.run(_clients(url, questions, n, clients, per_request))
    out = _summary(lat, len(lat) * per_request, wall, _cpu_s(pid) - cpu0)
    out.update(clients=clients, questions_per_request=per_request)
    return out


def cli_cold_start(model: Path, threads: int, runs: int, repos: dict[str, Path] | None = None) -> dict[str, Any]:
    """``kgfm qa`` on one question, ``runs`` times; with several checkouts in ``repos`` they take turns
    (A, B, A, B...) so both see the same load, and each gets its own figures."""
    import resource

    repos = repos or {"base": REPO}
    times: dict[str, list[float]] = {name: [] for name in repos}
    cpus: dict[str, list[float]] = {name: [] for name in repos}
    for _ in range(runs):
        for name, repo in repos.items():
            t = time.perf_counter()
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            subprocess.run([sys.executable, "-m", "kgfm.cli.main", "qa", "who directed [Orchard of Havana]", "--model",
                            str(model), "--json"], check=True, capture_output=True, env=_env(threads, repo), cwd=repo)
            times[name].append(time.perf_counter() - t)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpus[name].append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    out = {name: {"runs": runs, "seconds": [round(t, 2) for t in times[name]], "median_s": round(statistics.median(times[name]), 2),
                  "cpu_s": [round(c, 2) for c in cpus[name]], "median_cpu_s": round(statistics.median(cpus[name]), 2)}
           for name in repos}
    report = out.pop("base")
    report["loadavg"] = [round(x, 2) for x in os.getloadavg()]
    if out:
        report["others"] = out
    return report


def engine_paths(model: Path, threads: int, questions: list[str]) -> dict[str, Any]:
    """In-process, same run: CPU per question answering with evidence paths from the in-memory graph
    (the server's default) vs from the store (one query per answer, as ``kgfm qa``), and without evidence."""
    import torch

    from kgfm.serve.engine import ServeEngine

    torch.set_num_threads(threads)
    engine = ServeEngine.load(model)
    memory, store = engine.qa.store, engine.store
    out: dict[str, Any] = {"questions": len(questions)}
    for name, paths_from, evidence in (("memory", memory, True), ("store", store, True), ("no_evidence", memory, False),
                                       ("memory_again", memory, True)):
        engine.qa.store = paths_from
        cpu, wall = time.process_time(), time.perf_counter()
        answers = [engine.answer([q], 5, evidence)[0] for q in questions]
        out[name] = {"cpu_ms_per_question": round(1000 * (time.process_time() - cpu) / len(questions), 2),
                     "wall_ms_per_question": round(1000 * (time.perf_counter() - wall) / len(questions), 2)}
        if name == "memory":
            reference = answers
        elif name == "store":
            strip = lambda rs: [{k: v for k, v in r.items() if k != "seconds"} for r in rs]  # noqa: E731
            out["same_answers_and_paths"] = strip(answers) == strip(reference)
    engine.qa.store = memory
    engine.close()
    out["store_over_memory_cpu"] = round(out["store"]["cpu_ms_per_question"] / out["memory"]["cpu_ms_per_question"], 2)
    out["loadavg"] = [round(x, 2) for x in os.getloadavg()]
    return out


def single_paired(servers: dict[str, tuple[str, int]], questions: list[str], n: int) -> dict[str, dict[str, Any]]:
    """Single questions sent to each server in turn (A, B, A, B...), so both see the same load."""
    lat: dict[str, list[float]] = {name: [] for name in servers}
    cpu: dict[str, float] = {}
    clients = {name: httpx.Client(base_url=url, timeout=120) for name, (url, _) in servers.items()}
    try:
        for name, c in clients.items():
            for q in questions[:10]:
                c.post("/qa", json={"question": q})
            cpu[name] = _cpu_s(servers[name][1])
        t0 = time.perf_counter()
        for i in range(n):
            for name, c in clients.items():
                t = time.perf_counter()
                r = c.post("/qa", json={"question": questions[i % len(questions)], "top_k": 5, "evidence": True})
                lat[name].append(time.perf_counter() - t)
                assert r.status_code in (200, 422), r.text
        wall = time.perf_counter() - t0
    finally:
        for c in clients.values():
            c.close()
    out = {}
    for name, (_, pid) in servers.items():
        out[name] = _summary(lat[name], n, wall, _cpu_s(pid) - cpu[name])
        if len(servers) > 1:
            out[name]["questions_per_s"] = None  # the wall clock is shared by the servers here
    return out


def measure(model: Path, threads: int, extra: list[str], questions: list[str], n: int, clients: int,
            repo: Path = REPO) -> tuple[dict[str, Any], Any]:
    """Start one server and run the concurrent and batched phases; returns (report, (proc, url))."""
    t0 = time.perf_counter()
    proc, url, ready, first, cpu = start(model, threads, extra, repo)
    traced = wait_traced(url, t0)  # the warm figures below are the fully traced server's
    out: dict[str, Any] = {"server_args": extra, "checkout": str(repo), "start": {
        "to_ready_s": round(ready, 2), "to_first_answer_s": round(first, 2),
        "first_answer_ms": round((first - ready) * 1000, 1), "server_cpu_s_by_first_answer": round(cpu, 2),
        "to_all_blocks_traced_s": None if traced is None else round(traced, 2)}}
    print(extra, "start", out["start"], flush=True)
    out["concurrent"] = concurrent(url, proc.pid, questions, n, clients)
    print(extra, "concurrent", out["concurrent"], flush=True)
    out["batched"] = [concurrent(url, proc.pid, questions, n, 1, size) for size in (8, 32)]
    out["batched"] += [concurrent(url, proc.pid, questions, n, clients, 8)]
    out["server_health"] = httpx.get(url + "/health").json()
    return out, (proc, url)


def int8_accuracy(model: Path, files: list[Path], threads: int) -> dict[str, Any]:
    """``kgfm eval --file`` of the float model and of its int8 export (what ``kgfm serve --int8``
    computes: the same quantisation, checked equal in tests/serve/test_serve_int8.py) on each file."""
    import tempfile

    import torch

    from kgfm.qa.answer import QAEngine
    from kgfm.qa.evaluate import run_eval
    from kgfm.qa.quantize import export_int8

    torch.set_num_threads(threads)
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="kgfm-int8-acc-") as tmp:
        int8 = Path(tmp) / "model"
        engine = QAEngine.load(model)
        try:
            export_int8(model, int8, engine.graph, engine.index)
        finally:
            engine.close()
        for f in files:
            row: dict[str, Any] = {}
            for name, m in (("float", model), ("int8", int8)):
                r = run_eval(m, file=f, out_path=Path(tmp) / f"{name}-{f.stem}.json")
                fused = r.get("with_fusion") or r.get("plain_encoder")
                row[name] = {"questions": r["questions"], "hits@1": round(fused["hits@1"], 4),
                             "hits_at_1_count": round(fused["hits@1"] * r["questions"]), "hits@3": round(fused["hits@3"], 4),
                             "mrr": round(fused["mrr"], 4)}
            row["hits@1_change"] = round(row["int8"]["hits@1"] - row["float"]["hits@1"], 4)
            out[str(f)] = row
            print(f, row, flush=True)
    return out


RATIO_KEYS = (("start", "to_first_answer_s"), ("start", "server_cpu_s_by_first_answer"), ("single", "p50_ms"),
              ("single", "server_cpu_ms_per_question"), ("concurrent", "questions_per_s"),
              ("concurrent", "server_cpu_ms_per_question"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", type=Path, default=REPO / "runs" / "qa" / "sample" / "model")
    ap.add_argument("--questions", type=Path, default=REPO / "graphs" / "movies_qa_test.txt")
    ap.add_argument("--threads", type=int, default=2, help="server torch threads")
    ap.add_argument("--n", type=int, default=300, help="questions per phase")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--cli-runs", type=int, default=3)
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "serve.json")
    ap.add_argument("--server-arg", action="append", default=[], help="extra kgfm serve option (repeatable)")
    ap.add_argument("--variant", action="append", default=[], metavar="NAME=ARGS",
                    help="another server setting measured in the same run, e.g. 'int8=--int8' (repeatable); "
                         "under 'ratios': each variant's figure divided by the base setting's")
    ap.add_argument("--before", type=Path, default=None, metavar="CHECKOUT",
                    help="also measure the kgfm of another checkout (e.g. the code before a change, from `git archive`) "
                         "in the same run, as the variant 'before' (server and CLI cold start)")
    ap.add_argument("--int8-accuracy", type=Path, action="append", default=None, metavar="QA_FILE",
                    help="only: Hits@1/MRR of the float model and its int8 quantisation on these question files")
    ap.add_argument("--engine-only", action="store_true", help="only the in-process evidence-paths comparison")
    args = ap.parse_args()
    questions = [line.split("\t")[0] for line in args.questions.read_text(encoding="utf-8").splitlines() if line.strip()]
    report: dict[str, Any] = {"model": str(args.model), "threads": args.threads, "cpus": os.cpu_count(),
                              "loadavg_start": [round(x, 2) for x in os.getloadavg()]}
    if args.int8_accuracy:
        report["int8_accuracy"] = int8_accuracy(args.model, args.int8_accuracy, args.threads)
        _write(args.out, report)
        return
    if args.engine_only:
        report["engine_paths"] = engine_paths(args.model, args.threads, questions[:60])
        print("engine_paths", report["engine_paths"], flush=True)
        _write(args.out, report)
        return
    settings = {"base": (args.server_arg, REPO)}
    if args.before is not None:
        settings["before"] = (args.server_arg, args.before.resolve())
    for spec in args.variant:
        name, _, extra = spec.partition("=")
        settings[name] = (args.server_arg + extra.split(), REPO)
    results: dict[str, dict[str, Any]] = {}
    running: dict[str, Any] = {}
    try:
        for name, (extra, repo) in settings.items():
            results[name], running[name] = measure(args.model, args.threads, extra, questions, args.n, args.clients, repo)
        paired = single_paired({k: (url, proc.pid) for k, (proc, url) in running.items()}, questions, args.n)
        for name, single_out in paired.items():
            results[name]["single"] = single_out
            print(name, "single", single_out, flush=True)
    finally:
        for proc, _ in running.values():
            proc.terminate()
            proc.wait(timeout=30)
    report.update(results.pop("base"))
    if results:
        report["variants"] = results
        report["ratios"] = {name: {f"{a}.{b}": round(r[a][b] / report[a][b], 3) for a, b in RATIO_KEYS if report[a][b]}
                            for name, r in results.items()}
        print("ratios", report["ratios"], flush=True)
    repos = {"base": REPO, **({"before": args.before.resolve()} if args.before is not None else {})}
    report["cli_cold_start"] = cli_cold_start(args.model, args.threads, args.cli_runs, repos)
    if args.before is not None:
        before = report["cli_cold_start"]["others"]["before"]
        report["ratios"]["before"]["cli_cold_start.median_cpu_s"] = round(
            before["median_cpu_s"] / report["cli_cold_start"]["median_cpu_s"], 3)
    print("cli", report["cli_cold_start"], flush=True)
    report["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    _write(args.out, report)


def _write(out: Path, report: dict[str, Any]) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    tmp.replace(out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
