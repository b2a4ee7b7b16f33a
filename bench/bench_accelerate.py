"""Should ``accelerate`` carry the toolkit's device/process plumbing? A small measurement.

Same tiny model (embedding + 2 linear layers, AdamW), same batches, interleaved repeat by repeat:
a plain torch step vs the same step through ``Accelerator().prepare`` (CPU, one process), plus
the import time of each route and the extra code each needs. Writes bench/results/accelerate.json.

    python bench/bench_accelerate.py --steps 200 --repeats 5
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import torch
from torch import nn

RESULTS = Path(__file__).resolve().parent / "results"


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Embedding(1000, 64), nn.Flatten(), nn.Linear(64 * 8, 256), nn.GELU(), nn.Linear(256, 1000))


def _run(steps: int, accelerate: bool) -> float:
    model = _model()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(1)
    x = torch.randint(0, 1000, (steps, 32, 8), generator=g)
    y = torch.randint(0, 1000, (steps, 32), generator=g)
    backward = lambda loss: loss.backward()  # noqa: E731
    if accelerate:
        from accelerate import Accelerator

        acc = Accelerator(cpu=True)
        model, opt = acc.prepare(model, opt)
        backward = acc.backward
    t0 = time.perf_counter()
    for i in range(steps):
        loss = nn.functional.cross_entropy(model(x[i]), y[i])
        opt.zero_grad(set_to_none=True)
        backward(loss)
        opt.step()
    return steps / (time.perf_counter() - t0)


def _import_seconds(module: str) -> float:
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    plain, acc = [], []
    for _ in range(args.repeats):
        plain.append(_run(args.steps, False))
        acc.append(_run(args.steps, True))
    ratios = sorted(a / p for a, p in zip(acc, plain))
    import accelerate

    doc = {
        "accelerate": accelerate.__version__, "torch": torch.__version__, "threads": args.threads,
        "steps": args.steps, "repeats": args.repeats,
        "plain_steps_per_s": plain, "accelerate_steps_per_s": acc,
        "median_speed_ratio_accelerate_over_plain": ratios[len(ratios) // 2],
        "import_seconds": {"torch": _import_seconds("torch"), "accelerate": _import_seconds("accelerate"),
                           "torch.distributed": _import_seconds("torch.distributed")},
        "load_average": list(os.getloadavg()),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "accelerate.json").write_text(json.dumps(doc, indent=2), encoding="utf-8")
    print(json.dumps(doc, indent=2))


if __name__ == "__main__":
    main()
