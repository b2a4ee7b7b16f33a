"""``kgfm stats``: a networkx analysis of the stored graph, printed, saved as JSON and plotted."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from kgfm.artifacts import write_json_atomic
from kgfm.store.base import GraphTensors


def graph_stats(graph: GraphTensors, top: int = 10) -> dict[str, Any]:
    """Entities, triples per relation, degree distribution, components, top hubs.

    The degree is the undirected total (in + out, self-loops counted twice), computed with
    numpy; components come from a networkx MultiGraph built from the same arrays.
    """
    import networkx as nx

    n = graph.num_entities
    degree = np.bincount(graph.head_index, minlength=n) + np.bincount(graph.tail_index, minlength=n)
    in_deg = np.bincount(graph.tail_index, minlength=n)
    out_deg = np.bincount(graph.head_index, minlength=n)
    per_rel = np.bincount(graph.rel_type, minlength=graph.num_relations)
    g = nx.Graph()
    g.add_nodes_from(range(n))
    g.add_edges_from(zip(graph.head_index.tolist(), graph.tail_index.tolist()))
    components = sorted((len(c) for c in nx.connected_components(g)), reverse=True)
    order = np.argsort(-degree, kind="stable")[:top]
    quantiles = {f"p{q}": float(np.percentile(degree, q)) if n else 0.0 for q in (50, 90, 99)}
    return {
        "entities": n,
        "relations": graph.num_relations,
        "triples": graph.num_triples,
        "triples_per_relation": {
            graph.relation_types[r]: int(per_rel[r]) for r in np.argsort(-per_rel, kind="stable")
        },
        "degree": {
            "mean": float(degree.mean()) if n else 0.0,
            "max": int(degree.max()) if n else 0,
            **quantiles,
            "isolated": int((degree == 0).sum()),
            "histogram": {str(k): v for k, v in sorted(Counter(degree.tolist()).items())[:50]},
        },
        "mean_in_degree": float(in_deg.mean()) if n else 0.0,
        "mean_out_degree": float(out_deg.mean()) if n else 0.0,
        "connected_components": {
            "count": len(components),
            "largest": components[0] if components else 0,
            "largest_fraction": components[0] / n if n else 0.0,
            "sizes_top": components[:top],
        },
        "top_hubs": [
            {"id": graph.entity_ids[i], "name": graph.entity_names[i], "degree": int(degree[i])} for i in order
        ],
    }


def short_label(name: str, width: int = 42) -> str:
    """``name`` cut to ``width`` characters by dropping its *start* (the distinctive part of
    predicates like ``/film/film/genre`` or long IRIs is at the end)."""
    return name if len(name) <= width else "…" + name[-(width - 1):]


def plot_stats(graph: GraphTensors, stats: dict[str, Any], path: Path) -> Path:
    """Degree distribution (log-log) and triples per relation (top 20) as one PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    degree = np.bincount(graph.head_index, minlength=graph.num_entities) + np.bincount(
        graph.tail_index, minlength=graph.num_entities
    )
    fig, (left, right) = plt.subplots(1, 2, figsize=(14, 5.5), gridspec_kw={"width_ratios": [1, 1.3]})
    values, counts = np.unique(degree[degree > 0], return_counts=True)
    left.loglog(values, counts, "o", markersize=3)
    left.set_xlabel("degree")
    left.set_ylabel("entities")
    left.set_title(f"degree distribution ({stats['entities']:,} entities)")
    rels = list(stats["triples_per_relation"].items())[:20]
    positions = np.arange(len(rels))[::-1]  # largest on top; numeric positions, so equal labels never merge bars
    right.barh(positions, [c for _, c in rels])
    right.set_yticks(positions, [short_label(r) for r, _ in rels], fontsize=8)
    right.set_xlabel("triples")
    right.set_title(f"triples per relation (top {len(rels)} of {stats['relations']})")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, path)
    return path


def save_stats(stats: dict[str, Any], path: Path) -> Path:
    return write_json_atomic(path, stats, ensure_ascii=False)
