"""``kgfm cypher "MATCH ..."``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from kgfm.cli.errors import friendly_errors


def cypher(
    query: str = typer.Argument(..., help="Cypher query; values go in --param, not in the string"),
    param: Optional[list[str]] = typer.Option(None, "--param", "-p", help="query parameter NAME=VALUE (VALUE parsed as YAML)"),
    write: bool = typer.Option(False, "--write", help="allow writes (read-only otherwise, enforced by the database)"),
    as_json: bool = typer.Option(False, "--json", help="print JSON instead of a table"),
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="YAML with a store: section"),
    store: Optional[str] = typer.Option(None, help="embedded (default) or neo4j"),
    path: Optional[Path] = typer.Option(None, help="embedded store location (default .kgfm/graph.lbug)"),
) -> None:
    """Run a Cypher query against the store and print a table (or JSON)."""
    with friendly_errors():
        from kgfm.cli.store_options import store_config
        from kgfm.cli.summary import print_rows
        from kgfm.config import parse_overrides
        from kgfm.store.factory import open_store

        with open_store(store_config(config, store, path), read_only=not write) as db:
            print_rows(db.cypher(query, parse_overrides(param), write=write), as_json)
