"""What a reload costs a running ``kgfm serve`` (SIGHUP, :mod:`kgfm.serve.reload`): its seconds, the
latency a client sees while it runs, failed requests (no answer or a 5xx; a 422 for a question
naming no entity of the graph is counted apart), and the server's memory after each reload and
at its peak during each reload (both engines are resident while the new one loads).

One client asks the test questions one after another for the whole run (a closed loop, the server's
``--threads``); after ``--steady-s`` seconds the server gets SIGHUP, and again ``--steady-s`` seconds
after each "reloaded" line, ``--reloads`` times. Latencies are split into steady (no reload
running) and during a reload (between the signal and the "reloaded" line).

    python bench/bench_serve_reload.py --model runs/qa/sample/model   # bench/results/serve_reload.json
    python bench/bench_serve_reload.py --model runs/qa/metaqa-1hop/model \
        --questions ../shared/data/MetaQA/1-hop/vanilla/qa_test.txt --out bench/results/serve_reload_metaqa.json
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


def _rss_mb(pid: int, field: str = "VmRSS") -> float:
    """The server's resident memory now (``VmRSS``) or its peak since start or the last
    :func:`_reset_peak` (``VmHWM``), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def _reset_peak(pid: int) -> bool:
    """Reset the process's peak RSS (``VmHWM``) to its current RSS (Linux >= 4.0: ``clear_refs`` 5)."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


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
    t0 = time.perf_counter()
    try:
        url = _wait_line(log, READY, 0, proc).group(1)
        start = {"seconds_to_ready": round(time.perf_counter() - t0, 2)}
        traced = wait_traced(url, t0)
        start.update(seconds_to_traced=None if traced is None else round(traced, 2), rss_mb=_rss_mb(proc.pid),
                     peak_rss_mb=_rss_mb(proc.pid, "VmHWM"), entities=httpx.get(url + "/health", timeout=30).json().get("entities"))
        report = {"start": start, **_run(proc, url, log, questions, args)}
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
    failures: list[dict[str, Any]] = []
    stop = threading.Event()

    def client() -> None:
        with httpx.Client(timeout=120) as http:
            i = 0
            while not stop.is_set():
                t0 = time.perf_counter()
                question = questions[i % len(questions)]
                try:
                    response = http.post(url + "/qa", json={"question": question, "top_k": 5})
                    status, body = response.status_code, response.text[:300]
                except httpx.HTTPError as exc:  # no answer at all: counted as a failure, the loop goes on
                    status, body = 0, f"{type(exc).__name__}: {exc}"
                samples.append((t0, time.perf_counter() - t0, status))
                if status != 200:
                    failures.append({"at": t0, "status": status, "question": question, "body": body})
                i += 1

    thread = threading.Thread(target=client)
    thread.start()
    windows, reloads = [], []
    rss = [_rss_mb(proc.pid)]
    try:
        for _ in range(args.reloads):
            time.sleep(args.steady_s)
            done = len(log.read_text(encoding="utf-8").splitlines())
            peak_reset = _reset_peak(proc.pid)
            t0 = time.perf_counter()
            proc.send_signal(signal.SIGHUP)
            match = _wait_line(log, RELOADED, done, proc)
            windows.append((t0, time.perf_counter()))
            reloads.append({"seconds_to_swap": float(match.group(1)), "seconds_to_line": round(windows[-1][1] - t0, 3),
                            "peak_rss_mb": _rss_mb(proc.pid, "VmHWM") if peak_reset else None})
            rss.append(_rss_mb(proc.pid))
        time.sleep(args.steady_s)
    finally:
        stop.set()
        thread.join(120)
    for (a, b), reload in zip(windows, reloads):  # the slowest request started during each reload
        reload["max_ms"] = round(1000 * max((s for t, s, _ in samples if a <= t <= b), default=0.0), 1)
    during = [s for t, s, _ in samples if any(a <= t <= b for a, b in windows)]
    steady = [s for t, s, _ in samples if not any(a - 1 <= t <= b + 1 for a, b in windows)]
    for failure in failures:
        at = failure.pop("at")
        failure["during_reload"] = any(a <= at <= b for a, b in windows)
    # A 422 is the server's answer to a question naming no entity of the graph (MetaQA's test set asks
    # about people missing from kb_partial): counted apart, by whether a reload was running.
    failed = [f for f in failures if f["status"] != 422]
    unanswerable = [f for f in failures if f["status"] == 422]
    health = httpx.get(url + "/health", timeout=30).json()
    return {"reloads": reloads, "steady": _stats(steady), "during_reload": _stats(during),
            "failed_requests": len(failed), "failures": failed[:20], "requests": len(samples),
            "status_422_no_entity": {"steady": sum(not f["during_reload"] for f in unanswerable),
                                     "during_reload": sum(f["during_reload"] for f in unanswerable),
                                     "questions": sorted({f["question"] for f in unanswerable})[:20]},
            "rss_mb_start_and_after_each_reload": rss, "server_reloads": health["reloads"]}


if __name__ == "__main__":
    main()
