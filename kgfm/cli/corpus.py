"""``kgfm corpus``: the KG-aligned pretraining corpus (descriptions + verbalised triples)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from kgfm.cli.errors import friendly_errors


def corpus(
    out: Path = typer.Option(..., "--out", "-o", help="corpus directory to write (train.jsonl, valid.jsonl, manifest)"),
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="YAML with a store: section"),
    store: Optional[str] = typer.Option(None, help="embedded (default) or neo4j (Neo4j settings from KGFM_NEO4J_* env vars)"),
    path: Optional[Path] = typer.Option(None, help="embedded store location (default .kgfm/graph.lbug)"),
    backend: Optional[str] = typer.Option(None, hidden=True, help="removed: use --store embedded|neo4j"),
    relation_text: Optional[Path] = typer.Option(
        None, help="relation<TAB>words file (e.g. WN18RR relation2text.txt); words may be a template such as "
                   "'{tail} directed {head}', and several lines for one relation are alternatives, one picked per triple"),
    valid_fraction: float = typer.Option(0.02, help="share of records held out for validation"),
    max_triples: Optional[int] = typer.Option(None, help="sample at most this many triples"),
    no_descriptions: bool = typer.Option(False, "--no-descriptions", help="leave entity descriptions out"),
    no_triples: bool = typer.Option(False, "--no-triples", help="leave verbalised triples out"),
    seed: int = typer.Option(0, help="sampling seed"),
) -> None:
    """Write entity descriptions and verbalised triples, with their entity mention spans, as JSONL."""
    with friendly_errors():
        from kgfm.cli.store_options import store_config
        from kgfm.config import ConfigError
        from kgfm.fusion.corpus import main

        if backend is not None:
            raise ConfigError(f"--backend was replaced by --store {backend} (and a store location by --path PATH), "
                              "as in every other command")
        manifest = main(store_config(config, store, path), out, relation_text, valid_fraction,
                        not no_descriptions, not no_triples, max_triples, seed)
        typer.echo(f"corpus written to {out}: {manifest['counts']}")
