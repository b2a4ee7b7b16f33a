"""``kgfm questions --store embedded|neo4j --path STORE --out DIR``: QA training questions from the graph."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from kgfm.cli.errors import friendly_errors


def questions(
    out: Path = typer.Option(Path("runs/questions"), "--out", "-o", help="artifact folder (JSONL + MetaQA-format files)"),
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="YAML with a store: section"),
    store: Optional[str] = typer.Option(None, help="embedded (default) or neo4j"),
    path: Optional[Path] = typer.Option(None, help="embedded store location (default .kgfm/graph.lbug)"),
    relation_text: Optional[Path] = typer.Option(None, "--relation-text", help="id<TAB>text file with relation wording"),
    topics: int = typer.Option(5000, min=1, help="topic entities to sample"),
    hops: str = typer.Option("1,2", help="hop counts, comma-separated (1..3)"),
    per_hop: int = typer.Option(20000, min=1, help="questions per hop count"),
    max_answers: int = typer.Option(30, min=1, help="drop questions with more answers"),
    valid_fraction: float = typer.Option(0.1, min=0.0, max=0.89, help="share of topics held out for valid"),
    noise: float = typer.Option(0.15, min=0.0, max=1.0, help="probability of each light-noise kind"),
    seed: int = typer.Option(0, help="random seed"),
) -> None:
    """Generate training questions whose answers are computed from the graph (no hand-written question)."""
    with friendly_errors():
        from kgfm.cli.store_options import store_config
        from kgfm.config import ConfigError
        from kgfm.questions.build import build_questions
        from kgfm.questions.generate import QuestionsConfig

        try:
            hop_list = [int(h) for h in hops.split(",") if h.strip()]
        except ValueError:
            raise ConfigError(f"--hops {hops!r}: expected comma-separated integers such as 1,2") from None
        cfg = QuestionsConfig(topics=topics, hops=hop_list, per_hop=per_hop, max_answers=max_answers,
                              valid_fraction=valid_fraction, noise=noise, seed=seed)
        summary = build_questions(store_config(config, store, path), out, cfg, relation_text)
        for warning in summary["warnings"]:
            typer.echo(f"kgfm: warning: {warning}", err=True)
        typer.echo(json.dumps(summary, indent=2))
