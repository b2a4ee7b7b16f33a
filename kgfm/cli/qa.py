"""``kgfm qa "QUESTION" [--json] [--file FILE] [--top-k 5] [--model DIR]``: answers with evidence."""

from __future__ import annotations

import io
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import typer

from kgfm.cli.errors import friendly_errors
from kgfm.config import SAMPLE_QA_MODEL

DEFAULT_MODEL = SAMPLE_QA_MODEL


@dataclass
class QuestionLine:
    """One line of a ``--file``: the question, or why there is none (``error``/``skipped``)."""

    line: int
    question: str | None
    error: str | None = None
    skipped: str | None = None


def qa(
    question: Optional[list[str]] = typer.Argument(
        None, help="a question in words; \\[brackets] around the entity optional; unquoted words are joined into one question"),
    file: Optional[Path] = typer.Option(None, "--file", "-f", help="answer every line of this file (batch mode; TAB and what follows ignored, # lines skipped)"),
    model: Path = typer.Option(DEFAULT_MODEL, "--model", "-m", help="fine-tuned model (kgfm train --stage finetune)"),
    top_k: int = typer.Option(5, "--top-k", "-k", min=1, help="answers per question"),
    as_json: bool = typer.Option(False, "--json", help="print JSON (one object, or a list with --file, each with its line)"),
    evidence: bool = typer.Option(True, "--evidence/--no-evidence", help="read KG paths from the store"),
    hops: Optional[int] = typer.Option(None, "--hops", min=1, max=3, help="candidate radius (default: as trained)"),
    store: Optional[str] = typer.Option(None, "--store", help="embedded | neo4j (default: the store the model was trained on)"),
    path: Optional[Path] = typer.Option(None, "--path", help="embedded store folder (default: found from the model folder)"),
    index: Optional[Path] = typer.Option(None, "--index", help="entity index folder (default: found from the model folder)"),
) -> None:
    """Answer questions from the knowledge graph: ranked entities, the linked topic entity,
    the KG paths behind each answer and a Cypher query showing them in Neo4j Browser.

    With --file every line gets an entry (with its line number): blank and # lines are reported as
    skipped, undecodable lines as errors; the exit code is 1 when any question errored."""
    with friendly_errors():
        lines = _question_lines(" ".join(question) if question else None, file)
        asked = [q for q in lines if q.question is not None and q.error is None and q.skipped is None]
        results: list[Any] = []
        if asked:
            from kgfm.runtime import paused_gc

            with paused_gc():  # ~1.5 s of collections over the imports and the model otherwise (kgfm.runtime)
                from kgfm.qa.answer import QAEngine

                engine = QAEngine.load(model, store_config=model_store(model, store), store_path=path,
                                       index_path=index, hops=hops)
            try:
                results = _answer_all(engine, [q.question for q in asked], top_k, evidence, batch=file is not None)
            finally:
                engine.close()
        by_line = {q.line: r for q, r in zip(asked, results)}
        _print(lines, by_line, as_json, single=file is None)
        errors = sum(1 for q in lines if q.error) + sum(1 for r in results if r.error)
        if file is not None:
            skipped = sum(1 for q in lines if q.skipped)
            typer.echo(f"kgfm qa: {file}: {len(lines)} line(s): {len(results) - sum(1 for r in results if r.error)} answered, "
                       f"{errors} error(s), {skipped} skipped", err=True)
        if errors:
            raise typer.Exit(1)


FILE_CHUNK = 256  # questions per progress step of --file


def _answer_all(engine: Any, questions: list[str], top_k: int, evidence: bool, batch: bool) -> list[Any]:
    """One question as it is; a file's questions with progress per chunk (a bar on a terminal, a
    line per 10 % in a log). A chunk of 32 or more holds the evidence paths in memory (the store's
    same paths, microseconds instead of a query per answer: ``QAEngine.answer``)."""
    if not batch:
        return engine.answer(questions, top_k=top_k, evidence=evidence)
    from kgfm.progress import progress

    results: list[Any] = []
    bar = progress(total=len(questions), desc="kgfm qa")
    for start in range(0, len(questions), FILE_CHUNK):
        chunk = questions[start : start + FILE_CHUNK]
        results += engine.answer(chunk, top_k=top_k, evidence=evidence)
        bar.update(len(chunk))
    bar.close()
    return results


def model_store(model: Path, backend: Optional[str]) -> Any:
    """``--store BACKEND``: the model's own store section with another backend (``None``: as referenced)."""
    if backend is None:
        return None
    from kgfm.config import ConfigError, StoreConfig
    from kgfm.qa.locate import check_model_dir

    if backend not in ("embedded", "neo4j"):
        raise ConfigError(f"--store {backend!r}: expected embedded or neo4j")
    stored = check_model_dir(model)["config"].get("store") or {}
    if stored.get("backend", "embedded") == backend:
        return None  # the model's own store, found from the model folder
    return StoreConfig.model_validate({**stored, "backend": backend})


def _question_lines(question: Optional[str], file: Optional[Path]) -> list[QuestionLine]:
    if (question is None) == (file is None):
        typer.echo("kgfm: error: give a QUESTION or --file FILE (one of them)", err=True)
        raise typer.Exit(2)
    if file is None:
        if not question.strip():
            typer.echo("kgfm: error: the question is empty", err=True)
            raise typer.Exit(2)
        return [QuestionLine(1, question)]
    if file.is_dir():
        raise FileNotFoundError(f"{file}: is a directory, not a questions file")
    if not file.is_file():
        raise FileNotFoundError(f"{file}: questions file not found")
    raw = file.read_bytes().split(b"\n")
    if raw and raw[-1] == b"":
        raw.pop()  # the final newline ends the last line; it does not start another
    lines: list[QuestionLine] = []
    for n, data in enumerate(raw, start=1):
        try:
            text = data.decode("utf-8").rstrip("\r")
        except UnicodeDecodeError as exc:
            lines.append(QuestionLine(n, None, error=f"{file}:{n}: not valid UTF-8 (byte {exc.start + 1} of the line)"))
            continue
        q = text.split("\t", 1)[0].strip()
        if not q:
            lines.append(QuestionLine(n, None, skipped="blank line"))
        elif q.startswith("#"):
            lines.append(QuestionLine(n, None, skipped="comment"))
        else:
            lines.append(QuestionLine(n, q))
    if not any(q.question for q in lines) and not any(q.error for q in lines):
        typer.echo(f"kgfm: error: {file}: no questions in it", err=True)
        raise typer.Exit(2)
    return lines


def _print(lines: list[QuestionLine], by_line: dict[int, Any], as_json: bool, single: bool) -> None:
    from kgfm.cli.terminal import json_printable, printable
    from kgfm.qa.report import print_results

    if as_json:
        payload = []
        for q in lines:
            r = by_line.get(q.line)
            entry = r.as_dict() if r is not None else {"question": q.question, "error": q.error, "skipped": q.skipped}
            payload.append(entry if single else {"line": q.line, **entry})
        typer.echo(json_printable(json.dumps(payload[0] if single else payload, indent=2, ensure_ascii=False)))
        return
    out = io.StringIO()
    for n, q in enumerate(lines):
        if n:
            out.write("\n")
        if not single:
            out.write(f"[line {q.line}]\n")
        r = by_line.get(q.line)
        if r is not None:
            print_results([r], out=out)
        else:
            out.write(f"   {q.error or 'skipped: ' + str(q.skipped)}\n")
    sys.stdout.write(printable(out.getvalue(), keep_newlines=True))
    sys.stdout.flush()
