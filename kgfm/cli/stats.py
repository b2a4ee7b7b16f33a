"""``kgfm stats``."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from kgfm.cli.errors import friendly_errors


def _print_tables(result: dict[str, Any], top: int) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    deg, comp = result["degree"], result["connected_components"]
    overview = Table(title="graph", show_header=False)
    overview.add_column(style="bold")
    overview.add_column(justify="right")
    for key, value in [
        ("entities", f"{result['entities']:,}"), ("relations", f"{result['relations']:,}"),
        ("triples", f"{result['triples']:,}"),
        ("degree mean / p50 / p90 / p99 / max",
         f"{deg['mean']:.2f} / {deg['p50']:g} / {deg['p90']:g} / {deg['p99']:g} / {deg['max']:,}"),
        ("isolated entities", f"{deg['isolated']:,}"),
        ("connected components", f"{comp['count']:,}"),
        ("largest component", f"{comp['largest']:,} ({comp['largest_fraction']:.1%})"),
    ]:
        overview.add_row(key, value)
    console.print(overview)
    console.print(f"triples per relation, top {min(top, result['relations'])} of {result['relations']}:")
    rels = Table("relation", "triples")
    rels.columns[1].justify = "right"
    for name, count in list(result["triples_per_relation"].items())[:top]:
        rels.add_row(name, f"{count:,}")
    console.print(rels)
    console.print(f"top {top} hubs (undirected degree):")
    hubs = Table("id", "name", "degree")
    hubs.columns[2].justify = "right"
    for hub in result["top_hubs"][:top]:
        hubs.add_row(hub["id"], hub["name"] or "", f"{hub['degree']:,}")
    console.print(hubs)


def stats(
    out: Optional[Path] = typer.Option(None, help="folder for stats.json and stats.png (default: beside the store, "
                                       "<store>.stats: .kgfm/graph.stats for .kgfm/graph.lbug)"),
    top: int = typer.Option(10, help="relations, hubs and components to list"),
    as_json: bool = typer.Option(False, "--json", help="print the whole analysis as JSON instead of tables"),
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="YAML with a store: section"),
    store: Optional[str] = typer.Option(None, help="embedded (default) or neo4j"),
    path: Optional[Path] = typer.Option(None, help="embedded store location (default .kgfm/graph.lbug)"),
) -> None:
    """Analyse the stored graph: degrees, components, hubs, triples per relation."""
    with friendly_errors():
        import json

        from kgfm.cli.store_options import store_config
        from kgfm.store.factory import open_store
        from kgfm.store.stats import graph_stats, plot_stats, save_stats

        cfg = store_config(config, store, path)
        out = out if out is not None else cfg.home() / f"{cfg.name()}.stats"
        with open_store(cfg, read_only=True) as db:
            graph = db.export_tensors()
        result = graph_stats(graph, top=top)
        saved = (save_stats(result, out / "stats.json"), plot_stats(graph, result, out / "stats.png"))
        if as_json:
            print(json.dumps(result, indent=2, ensure_ascii=False))
            return
        _print_tables(result, top)
        typer.echo(f"saved {saved[0]} and {saved[1]}")
