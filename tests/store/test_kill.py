"""A real SIGKILL in the middle of ``kgfm build-graph``, then a re-run: exact counts."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from kgfm.store.embedded import EmbeddedStore


def test_sigkill_then_rerun_gives_exact_counts(tmp_path: Path):
    kb = tmp_path / "kb.tsv"
    n_triples = 120_000
    with open(kb, "w", encoding="utf-8") as fh:
        for i in range(n_triples):
            fh.write(f"e{i % 9000}\tr{i % 7}\te{(i * 7919) % 11000}_{i % 3}\n")
    expected = len({(f"e{i % 9000}", f"r{i % 7}", f"e{(i * 7919) % 11000}_{i % 3}") for i in range(n_triples)})
    store_path = tmp_path / "g.lbug"
    cmd = [sys.executable, "-m", "kgfm.cli.main", "build-graph", str(kb), "--path", str(store_path),
           "--set", "batch_size=20000"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    time.sleep(2.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    with EmbeddedStore(store_path, read_only=True) as store:
        counts = store.counts()
        graph = store.export_tensors()
    assert counts.triples == expected
    assert counts.relations == 7
    assert graph.entity_ids == sorted(graph.entity_ids, key=graph.entity_ids.index)  # dense, unique
    assert len(set(graph.entity_ids)) == graph.num_entities
    keys = set(zip(graph.head_index.tolist(), graph.rel_type.tolist(), graph.tail_index.tolist()))
    assert len(keys) == graph.num_triples == expected
