"""``kgfm stats``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from kgfm.cli.errors import friendly_errors


def stats(
    out: Path = typer.Option(Path(".kgfm/stats"), help="folder for stats.json and stats.png"),
    top: int = typer.Option(10, help="hubs and components to list"),
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="YAML with a store: section"),
    store: Optional[str] = typer.Option(None, help="embedded (default) or neo4j"),
    path: Optional[Path] = typer.Option(None, help="embedded store location (default .kgfm/graph.lbug)"),
) -> None:
    """Analyse the stored graph: degrees, components, hubs, triples per relation."""
    with friendly_errors():
        from rich.console import Console

        from kgfm.cli.store_options import store_config
        from kgfm.store.factory import open_store
        from kgfm.store.stats import graph_stats, plot_stats, save_stats

        with open_store(store_config(config, store, path), read_only=True) as db:
            graph = db.export_tensors()
        result = graph_stats(graph, top=top)
        console = Console()
        console.print_json(data={k: v for k, v in result.items() if k != "degree"} | {"degree": {k: v for k, v in result["degree"].items() if k != "histogram"}})
        console.print(f"saved {save_stats(result, out / 'stats.json')} and {plot_stats(graph, result, out / 'stats.png')}")
