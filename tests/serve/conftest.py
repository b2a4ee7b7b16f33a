"""Serve fixtures: a small QA model trained on the bundled sample graph, and a real ``kgfm serve``.

The model is the bundled movie world (``graphs/movies_kb.txt`` in a real LadybugDB store, a
real FAISS index) with a tiny random BERT fine-tuned on ``graphs/movies_qa_train.txt`` for a
short budget: ~1 min on 2 cores. The server is the real CLI in a subprocess on 127.0.0.1, port
0 (the ready line names the port it got), stopped after the session.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
TINY_BERT = dict(model_type="bert", hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                 intermediate_size=128, vocab_size=30522, max_position_embeddings=64)
READY = re.compile(r"ready on (http://[\d.]+:\d+)")


def build_sample_model(root: Path, epochs: int = 4) -> Path:
    """Store + index + fine-tuned tiny model for the bundled sample under ``root``; returns the model dir."""
    import torch

    from kgfm.config import StoreConfig
    from kgfm.index.entity_index import EntityIndex
    from kgfm.qa.config import QAConfig
    from kgfm.qa.finetune import finetune
    from kgfm.store.build import BuildGraphConfig, SourceSpec, run_build
    from kgfm.store.factory import open_store

    store_cfg = StoreConfig(path=root / "movies.lbug")
    run_build(BuildGraphConfig(store=store_cfg, sources=[SourceSpec(path=REPO / "graphs" / "movies_kb.txt")]),
              show_progress=False)
    with open_store(store_cfg) as store:
        graph = store.export_tensors()
    emb = np.random.default_rng(0).normal(size=(graph.num_entities, 16)).astype(np.float32)
    EntityIndex.build(emb, graph.entity_ids, graph.entity_names, metric="ip", use_gpu=False).save(root / "index")
    index = EntityIndex.load(root / "index")
    cfg = QAConfig.model_validate({
        "store": {"path": str(store_cfg.path)},
        "index": str(root / "index"),
        "data": {"dataset": "files", "train": str(REPO / "graphs" / "movies_qa_train.txt"), "valid_fraction": 0.1,
                 "hops": 2},
        "encoder": {"kind": "fusion", "init": "base", "backbone_config": TINY_BERT, "fusion_layers": [1],
                    "max_length": 32},
        "scorer": {"max_hops": 2, "proj_dim": 16, "dropout": 0.0},
        "train": {"epochs": epochs, "batch_size": 32, "patience": epochs},
        "optim": {"lr": 2e-3, "head_lr": 2e-2, "warmup": 0.0},
        "run": {"threads": 2, "output_dir": str(root / "run")},
    })
    torch.manual_seed(0)
    finetune(cfg, graph, index, progress=False)
    return root / "run" / "model"


@pytest.fixture(scope="session")
def sample_model(tmp_path_factory) -> Path:
    """The model dir (``<root>/run/model``, index at ``<root>/index``). ``KGFM_TEST_SERVE_ROOT`` names a
    folder to build it in once and reuse across runs (development only; CI builds it fresh)."""
    keep = os.environ.get("KGFM_TEST_SERVE_ROOT")
    if keep:
        root = Path(keep)
        if (root / "run" / "model" / "manifest.json").is_file():
            return root / "run" / "model"
        root.mkdir(parents=True, exist_ok=True)
        return build_sample_model(root)
    return build_sample_model(tmp_path_factory.mktemp("serve-model"))


def start_server(model: Path, *extra: str, env: dict | None = None, timeout: float = 120.0) -> tuple[subprocess.Popen, str, Path]:
    """``kgfm serve --model MODEL --port 0 ...`` in a subprocess; returns (process, base url, log file)."""
    log = model.parent / f"serve-{time.monotonic_ns()}.log"
    cmd = [sys.executable, "-m", "kgfm.cli.main", "serve", "--model", str(model), "--port", "0", "--threads", "1",
           "--no-access-log", *extra]
    run_env = dict(os.environ, PYTHONPATH=str(REPO), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
                   OMP_NUM_THREADS="1", **(env or {}))
    handle = open(log, "w", encoding="utf-8")
    proc = subprocess.Popen(cmd, stdout=handle, stderr=subprocess.STDOUT, env=run_env, cwd=REPO)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        match = READY.search(log.read_text(encoding="utf-8"))
        if match:
            return proc, match.group(1), log
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"kgfm serve did not start:\n{log.read_text(encoding='utf-8')}")


def stop_server(proc: subprocess.Popen) -> int:
    proc.send_signal(signal.SIGINT)
    try:
        return proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


def open_files(path: Path) -> int:
    """How many file descriptors of this process point at ``path`` (Linux)."""
    def target(fd: Path) -> str:
        try:
            return str(fd.resolve())
        except OSError:
            return ""
    return sum(1 for fd in Path("/proc/self/fd").iterdir() if target(fd) == str(path.resolve()))


@pytest.fixture(scope="session")
def fds():
    """:func:`open_files`: a server's open store files, counted from inside the process."""
    return open_files


class Launcher:
    """``start(model, *options)`` / ``stop(proc)`` for tests that need a server of their own."""

    start = staticmethod(start_server)
    stop = staticmethod(stop_server)


@pytest.fixture(scope="session")
def launcher() -> Launcher:
    return Launcher()


@pytest.fixture(scope="session")
def server(sample_model) -> dict:
    """A running ``kgfm serve`` on the sample model: ``{"url", "proc", "log", "model"}``."""
    proc, url, log = start_server(sample_model, "--max-questions", "8", "--max-rows", "5", "--max-body-kb", "4")
    try:
        yield {"url": url, "proc": proc, "log": log, "model": sample_model}
    finally:
        stop_server(proc)
