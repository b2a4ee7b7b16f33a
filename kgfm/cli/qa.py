"""``kgfm qa "QUESTION" [--json] [--file FILE] [--top-k 5] [--model DIR]``: answers with evidence."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from kgfm.cli.errors import friendly_errors

DEFAULT_MODEL = Path("runs/qa/sample/model")


def qa(
    question: Optional[str] = typer.Argument(None, help="a question in words; [brackets] around the entity optional"),
    file: Optional[Path] = typer.Option(None, "--file", "-f", help="answer every line of this file (batch mode)"),
    model: Path = typer.Option(DEFAULT_MODEL, "--model", "-m", help="fine-tuned model (kgfm train --stage finetune)"),
    top_k: int = typer.Option(5, "--top-k", "-k", min=1, help="answers per question"),
    as_json: bool = typer.Option(False, "--json", help="print JSON (one object, or a list with --file)"),
    evidence: bool = typer.Option(True, "--evidence/--no-evidence", help="read KG paths from the store"),
    hops: Optional[int] = typer.Option(None, "--hops", min=1, max=3, help="candidate radius (default: as trained)"),
) -> None:
    """Answer questions from the knowledge graph: ranked entities, the linked topic entity,
    the KG paths behind each answer and a Cypher query showing them in Neo4j Browser."""
    with friendly_errors():
        from kgfm.qa.answer import QAEngine
        from kgfm.qa.report import print_results

        questions = _questions(question, file)
        engine = QAEngine.load(model, hops=hops)
        try:
            results = engine.answer(questions, top_k=top_k, evidence=evidence)
        finally:
            engine.close()
        if as_json:
            payload = [r.as_dict() for r in results]
            typer.echo(json.dumps(payload if file else payload[0], indent=2, ensure_ascii=False))
        else:
            print_results(results)
        if all(r.error for r in results):
            raise typer.Exit(1)


def _questions(question: Optional[str], file: Optional[Path]) -> list[str]:
    if (question is None) == (file is None):
        typer.echo("kgfm: error: give a QUESTION or --file FILE (one of them)", err=True)
        raise typer.Exit(2)
    if file is None:
        return [question]
    if not file.is_file():
        raise FileNotFoundError(f"{file}: questions file not found")
    lines = [line.strip() for line in file.read_text(encoding="utf-8").splitlines()]
    lines = [line.split("\t", 1)[0] for line in lines if line and not line.startswith("#")]
    if not lines:
        typer.echo(f"kgfm: error: {file}: no questions in it", err=True)
        raise typer.Exit(2)
    return lines
