"""``kgfm extend-index [--model DIR | --index DIR]``: embed the entities build-graph added since training."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from kgfm.cli.errors import friendly_errors
from kgfm.cli.qa import DEFAULT_MODEL


def extend_index(
    model: Optional[Path] = typer.Option(None, "--model", "-m", help=f"QA model whose index and store to use (default {DEFAULT_MODEL}, unless --index)"),
    index: Optional[Path] = typer.Option(None, "--index", help="entity index folder (default: the model's); without --model, the store is --path"),
    store: Optional[str] = typer.Option(None, "--store", help="embedded | neo4j (default: the model's store; embedded with --index)"),
    path: Optional[Path] = typer.Option(None, "--path", help="embedded store folder (default: the model's; .kgfm/graph.lbug with --index)"),
    checkpoint: Optional[Path] = typer.Option(None, "--checkpoint", help="graph encoder checkpoint (default: the one the index records, checksum-checked)"),
    out: Optional[Path] = typer.Option(None, "--out", help="write the extended index here (default: replace it in place, atomically)"),
) -> None:
    """Embed the entities that build-graph added to the store since the graph encoder was trained, with
    the trained GNN from their facts (no retraining), and add them to the entity index. The known
    entities' rows stay as they were, so the QA model trained on the index loads it and answers about
    the new entities."""
    with friendly_errors():
        from kgfm.cli.qa import model_store
        from kgfm.qa.locate import extend_model_index

        if model is None and index is not None:
            from kgfm.cli.store_options import store_config

            result = extend_model_index(None, store_config(None, store, path), None, index, checkpoint, out)
        else:
            model = model or DEFAULT_MODEL
            result = extend_model_index(model, model_store(model, store), path, index, checkpoint, out)
        if not result.added:
            typer.echo(f"{result.index_dir}: the store holds no entity the index lacks ({result.after:,} entities); "
                       "nothing to add (facts added among known entities are used by QA's path following as they are)")
            return
        facts = f"{result.facts:,} {'fact' if result.facts == 1 else 'facts'}"
        typer.echo(f"{result.index_dir}: {result.before:,} -> {result.after:,} entities ({result.added:,} added, embedded "
                   f"by the trained graph encoder from {facts} that touch them; no retraining; the known rows are "
                   f"unchanged) in {result.seconds:.1f} s, fingerprint {result.fingerprint}")
