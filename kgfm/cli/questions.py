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


def auto(
    out: Path = typer.Option(Path("runs/auto"), "--out", "-o", help="folder for graph/, questions/ and qa/"),
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="YAML with a store: section"),
    store: Optional[str] = typer.Option(None, help="embedded (default) or neo4j"),
    path: Optional[Path] = typer.Option(None, help="embedded store location (default .kgfm/graph.lbug)"),
    relation_text: Optional[Path] = typer.Option(None, "--relation-text", help="id<TAB>text file with relation wording"),
    hops: str = typer.Option("1,2", help="question hop counts (the model answers up to the largest)"),
    topics: int = typer.Option(5000, min=1, help="topic entities to sample"),
    per_hop: int = typer.Option(20000, min=1, help="questions per hop count"),
    encoder: str = typer.Option("frozen", help="frozen: cached MiniLM vectors, scorer trained (fast on CPU); "
                                "fusion: fine-tune MiniLM with fusion layers"),
    graph_minutes: float = typer.Option(10.0, min=0.1, help="time budget of the graph encoder stage"),
    qa_minutes: float = typer.Option(20.0, min=0.1, help="time budget of the QA fine-tune"),
    set_: Optional[list[str]] = typer.Option(None, "--set", help="override a fine-tune config value: key.sub=value"),
) -> None:
    """The whole chain from a store, no hand-written question: graph encoder + index -> generated
    questions -> QA fine-tune. Then: kgfm qa --model OUT/qa/model "your question"."""
    with friendly_errors():
        from kgfm.cli.store_options import store_config
        from kgfm.cli.summary import print_stage_summary
        from kgfm.config import ConfigError, parse_overrides
        from kgfm.qa.auto import run_auto
        from kgfm.questions.generate import QuestionsConfig
        from kgfm.training.report import stage_summary

        try:
            hop_list = [int(h) for h in hops.split(",") if h.strip()]
        except ValueError:
            raise ConfigError(f"--hops {hops!r}: expected comma-separated integers such as 1,2") from None
        titles = {"graph": "kgfm auto: graph encoder + index done", "finetune": "kgfm auto: QA fine-tune done"}

        def report(stage: str, folder: Path, doc: dict, seconds: float) -> None:
            if stage == "questions":
                for warning in doc["warnings"]:
                    typer.echo(f"kgfm: warning: {warning}", err=True)
                typer.echo(f"questions: {doc['counts']['questions']} -> {folder}")
            else:
                print_stage_summary(stage, stage_summary(stage, folder, doc, seconds), title=titles[stage])

        run_auto(store_config(config, store, path), out, QuestionsConfig(topics=topics, hops=hop_list, per_hop=per_hop),
                 relation_text, encoder, graph_minutes, qa_minutes, parse_overrides(set_), on_stage=report)
        typer.echo(f'done: kgfm qa --model {out / "qa" / "model"} "your question"')
