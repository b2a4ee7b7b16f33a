"""``kgfm export --format nt|nq --output FILE``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from kgfm.cli.errors import friendly_errors


def export(
    output: Path = typer.Option(..., "--output", "-o", help="file to write (replaced atomically)"),
    fmt: str = typer.Option("nq", "--format", help="nt (named graphs merged) or nq (graphs kept)"),
    base: str = typer.Option("urn:kgfm:", help="IRI namespace for ids/predicates that are not IRIs (TSV, MetaQA)"),
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="YAML with a store: section"),
    store: Optional[str] = typer.Option(None, help="embedded (default) or neo4j"),
    path: Optional[Path] = typer.Option(None, help="embedded store location (default .kgfm/graph.lbug)"),
) -> None:
    """Write the stored graph back as RDF: every relationship and every literal, datatypes and languages kept."""
    with friendly_errors():
        from kgfm.cli.store_options import store_config
        from kgfm.store.export import export_rdf
        from kgfm.store.factory import open_store

        if output.is_dir():
            raise typer.BadParameter(f"{output} is a directory; give a file path", param_hint="--output")
        with open_store(store_config(config, store, path), read_only=True) as db:
            report = export_rdf(db, output, fmt, base)
        typer.echo(
            f"wrote {report.statements:,} statements ({report.relationships:,} relationships, "
            f"{report.literals:,} literals/types, {report.names:,} names/descriptions as rdfs:label/comment) "
            f"to {report.path}"
        )
