"""``kgfm cypher "MATCH ..."``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from kgfm.cli.errors import friendly_errors


def cypher(
    query: str = typer.Argument(..., help="Cypher query; values go in --param, not in the string"),
    param: Optional[list[str]] = typer.Option(
        None, "--param", "-p",
        help="query parameter NAME=VALUE (a string, as written) or NAME:TYPE=VALUE, TYPE one of str, int, float, bool, json",
    ),
    write: bool = typer.Option(False, "--write", help="allow statements that change the store or files (read-only otherwise)"),
    as_json: bool = typer.Option(False, "--json", help="print JSON instead of a table"),
    as_csv: bool = typer.Option(False, "--csv", help="print CSV (header row; lists and maps as JSON) instead of a table"),
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="YAML with a store: section"),
    store: Optional[str] = typer.Option(None, help="embedded (default) or neo4j"),
    path: Optional[Path] = typer.Option(None, help="embedded store location (default .kgfm/graph.lbug)"),
) -> None:
    """Run a Cypher query against the store and print a table (or JSON, or CSV).

    Without --write only read clauses pass (MATCH, OPTIONAL MATCH, WITH, UNWIND, WHERE, RETURN,
    ORDER BY, SKIP, LIMIT, UNION, CALL of subqueries and read procedures); the store is also opened
    read-only, so nothing on disk changes.
    """
    with friendly_errors():
        from kgfm.cli.store_options import store_config
        from kgfm.cli.summary import print_rows
        from kgfm.config import ConfigError, parse_params
        from kgfm.store.factory import open_store
        from kgfm.store.readonly import check_read_only, query_parameters

        if as_json and as_csv:
            raise ConfigError("--json and --csv: choose one")
        params = parse_params(param)
        missing = [name for name in query_parameters(query) if name not in params]
        if missing:
            given = " ".join(f"--param {name}=VALUE" for name in missing)
            raise ConfigError(f"the query uses {', '.join('$' + m for m in missing)} but no value was given ({given})")
        if not write:
            check_read_only(query)
        with open_store(store_config(config, store, path), read_only=not write) as db:
            print_rows(db.cypher(query, params, write=write), "json" if as_json else "csv" if as_csv else "table")
