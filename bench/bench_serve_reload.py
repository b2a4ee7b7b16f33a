"""What a reload costs a running ``kgfm serve`` (SIGHUP, :mod:`kgfm.serve.reload`): its seconds, the
latency a client sees while it runs, failed requests, and the server's memory after each reload.

One client asks the test questions one after another for the whole run (a closed loop, the server's
``--threads``); after ``--steady-s`` seconds the server gets SIGHUP, and again ``--steady-s`` seconds
after each "reloaded" line, ``--reloads`` times. Latencies are split into steady (no reload
running) and during a reload (between the signal and the "reloaded" line).

    python bench/bench_serve_reload.py --model runs/qa/sample/model   # bench/results/serve_reload.json
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
from bench_serve import READY, _env, _pct, wait_traced  # noqa: E402

RELOADED = re.compile(r"reloaded in ([\d.]+) s")


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def _stats(lat: list[float]) -> dict[str, Any]:
    if not lat:
        return {"requests": 0}
    return {"requests": len(lat), "p50_ms": round(1000 * _pct(lat, 0.5), 1), "p95_ms": round(1000 * _pct(lat, 0.95), 1),
            "max_ms": round(1000 * max(lat), 1), "mean_ms": round(1000 * statistics.fmean(lat), 1)}


def _wait_line(log: Path, pattern: re.Pattern[str], after: int, proc: subprocess.Popen, timeout: float = 600):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        lines = log.read_text(encoding="utf-8").splitlines()[after:]
        for line in lines:
            match = pattern.search(line)
            if match:
                return match
        time.sleep(0.01)
    raise SystemExit(f"no {pattern.pattern!r} from the server:\n{log.read_text(encoding='utf-8')[-3000:]}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=REPO / "runs" / "qa" / "sample" / "model")
    ap.add_argument("--questions", type=Path, default=REPO / "graphs" / "movies_qa_test.txt")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reloads", type=int, default=3)
    ap.add_argument("--steady-s", type=float, default=10.0)
    ap.add_argument("--server-arg", action="append", default=[], help="extra kgfm serve option (repeatable)")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "serve_reload.json")
    args = ap.parse_args()
    questions = [line.split("\t")[0] for line in args.questions.read_text(encoding="utf-8").splitlines() if line]
    log = args.out.with_suffix(".log.tmp")
    proc = subprocess.Popen([sys.executable, "-m", "kgfm.cli.main", "serve", "--model", str(args.model), "--port", "0",
                             "--threads", str(args.threads), "--no-access-log", *args.server_arg], stdout=log.open("w", encoding="utf-8"),
                            stderr=subprocess.STDOUT, env=_env(args.threads), cwd=REPO)
    try:
        url = _wait_line(log, READY, 0, proc).group(1)
        wait_traced(url, time.perf_counter())
        report = _run(proc, url, log, questions, args)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(60)
    report.update(model=str(args.model), server_args=args.server_arg, threads=args.threads, cpus=os.cpu_count(), loadavg=list(os.getloadavg()),
                  date=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    log.unlink(missing_ok=True)
    print(json.dumps(report, indent=2))


def _run(proc: subprocess.Popen, url: str, log: Path, questions: list[str], args: argparse.Namespace) -> dict[str, Any]:
    samples: list[tuple[float, float, int]] = []  # (start, seconds, status)
    stop = threading.Event()

    def client() -> None:
        with httpx.Client(timeout=120) as http:
            i = 0
            while not stop.is_set():
                t0 = time.perf_counter()
                status = http.post(url + "/qa", json={"question": questions[i % len(questions)], "top_k": 5}).status_code
                samples.append((t0, time.perf_counter() - t0, status))
                i += 1

    thread = threading.Thread(target=client)
    thread.start()
    windows, reloads = [], []
    rss = [_rss_mb(proc.pid)]
    try:
        for _ in range(args.reloads):
            time.sleep(args.steady_s)
            done = len(log.read_text(encoding="utf-8").splitlines())
            t0 = time.perf_counter()
            proc.send_signal(signal.SIGHUP)
            match = _wait_line(log, RELOADED, done, proc)
            windows.append((t0, time.perf_counter()))
            reloads.append({"seconds_to_swap": float(match.group(1)), "seconds_to_line": round(windows[-1][1] - t0, 3)})
            rss.append(_rss_mb(proc.pid))
        time.sleep(args.steady_s)
    finally:
        stop.set()
        thread.join(120)
    for (a, b), reload in zip(windows, reloads):  # the slowest request started during each reload
        reload["max_ms"] = round(1000 * max((s for t, s, _ in samples if a <= t <= b), default=0.0), 1)
    during = [s for t, s, _ in samples if any(a <= t <= b for a, b in windows)]
    steady = [s for t, s, _ in samples if not any(a - 1 <= t <= b + 1 for a, b in windows)]
    health = httpx.get(url + "/health", timeout=30).json()
    return {"reloads": reloads, "steady": _stats(steady), "during_reload": _stats(during),
            "failed_requests": sum(status != 200 for _, _, status in samples), "requests": len(samples),
            "rss_mb_start_and_after_each_reload": rss, "server_reloads": health["reloads"]}


if __name__ == "__main__":
    main()
