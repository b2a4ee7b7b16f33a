"""``kgfm corpus``: the KG-aligned pretraining corpus (descriptions + verbalised triples)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from kgfm.cli.errors import friendly_errors


def corpus(
    out: Path = typer.Option(..., "--out", "-o", help="corpus directory to write (train.jsonl, valid.jsonl, manifest)"),
    store_path: Path = typer.Option(Path(".kgfm/graph.lbug"), "--store", help="embedded store path"),
    backend: str = typer.Option("embedded", help="embedded | neo4j (Neo4j settings from KGFM_NEO4J_* env vars)"),
    relation_text: Optional[Path] = typer.Option(None, help="relation<TAB>words file (e.g. WN18RR relation2text.txt)"),
    valid_fraction: float = typer.Option(0.02, help="share of records held out for validation"),
    max_triples: Optional[int] = typer.Option(None, help="sample at most this many triples"),
    no_descriptions: bool = typer.Option(False, "--no-descriptions", help="leave entity descriptions out"),
    no_triples: bool = typer.Option(False, "--no-triples", help="leave verbalised triples out"),
    seed: int = typer.Option(0, help="sampling seed"),
) -> None:
    """Write entity descriptions and verbalised triples, with their entity mention spans, as JSONL."""
    with friendly_errors():
        from kgfm.config import StoreConfig, load_config
        from kgfm.fusion.corpus import main

        store = load_config(StoreConfig, None, {"backend": backend, "path": str(store_path)})
        manifest = main(store, out, relation_text, valid_fraction,
                        not no_descriptions, not no_triples, max_triples, seed)
        typer.echo(f"corpus written to {out}: {manifest['counts']}")
