"""``kgfm stats`` as a user sees it: tables by default, JSON on request, a legible plot."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from kgfm.store.base import GraphTensors
from kgfm.store.stats import graph_stats, short_label

KGFM = [sys.executable, "-m", "kgfm.cli.main"]


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([*KGFM, *args], capture_output=True, text=True, cwd=cwd, timeout=300)


def test_stats_prints_tables_and_json(tmp_path: Path, graphs_dir: Path):
    kb = graphs_dir / "movies_kb.txt"
    assert _run("build-graph", str(kb), cwd=tmp_path).returncode == 0
    tables = _run("stats", "--top", "3", cwd=tmp_path)
    assert tables.returncode == 0, tables.stderr
    saved = json.loads((tmp_path / ".kgfm" / "graph.stats" / "stats.json").read_text())
    assert "top 3 of 7:" in tables.stdout and "top 3 hubs" in tables.stdout
    assert f"{saved['triples']:,}" in tables.stdout and "{" not in tables.stdout  # a table, not raw JSON
    biggest = next(iter(saved["triples_per_relation"]))
    assert biggest in tables.stdout and saved["top_hubs"][0]["id"] in tables.stdout
    as_json = _run("stats", "--json", "--top", "3", cwd=tmp_path)
    assert as_json.returncode == 0 and json.loads(as_json.stdout) == saved


def test_short_label_keeps_the_distinctive_end():
    assert short_label("/film/film/genre") == "/film/film/genre"
    long_a = "/base/schemastaging/organization_extra/phone_number./base/schemastaging/phone_sandbox/service_location"
    long_b = "/base/schemastaging/organization_extra/phone_number./base/schemastaging/phone_sandbox/contact_category"
    a, b = short_label(long_a), short_label(long_b)
    assert len(a) == 42 and a.startswith("…") and a.endswith("service_location") and a != b


def test_plot_draws_every_relation_even_with_equal_labels(tmp_path: Path):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    from kgfm.store.stats import plot_stats

    prefix = "x" * 60  # 20 relations whose first 40 characters are all equal
    names = [f"{prefix}{i:02d}" for i in range(20)]
    head = np.repeat(np.arange(20), np.arange(1, 21))
    graph = GraphTensors(
        entity_ids=[f"e{i}" for i in range(40)], entity_names=[None] * 40, relation_types=names,
        relation_predicates=names, head_index=head, rel_type=head.copy(), tail_index=head + 20,
    )
    result = graph_stats(graph)
    before = set(plt.get_fignums())
    captured = {}
    real_close = plt.close

    def keep(fig=None):
        captured["fig"] = fig
        return real_close(fig)

    plt.close = keep
    try:
        plot_stats(graph, result, tmp_path / "stats.png")
    finally:
        plt.close = real_close
    bars = captured["fig"].axes[1].patches
    assert len(bars) == 20 and sorted(int(b.get_width()) for b in bars) == list(range(1, 21))
    assert set(plt.get_fignums()) == before
