"""``kgfm eval --dataset metaqa --hops 1|2|3 --split test [--model DIR]``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from kgfm.cli.errors import friendly_errors


def eval_(
    dataset: str = typer.Option("metaqa", "--dataset", help="benchmark (metaqa)"),
    hops: int = typer.Option(1, "--hops", min=1, max=3, help="MetaQA hop setting"),
    split: str = typer.Option("test", "--split", help="test | valid (held-out dev slice) | dev"),
    model: Optional[Path] = typer.Option(None, "--model", "-m", help="fine-tuned model (default runs/qa/metaqa-{hops}hop/model)"),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="a seeded random sample of N questions"),
    out: Optional[Path] = typer.Option(None, "--out", help="JSON output path"),
    data_root: Optional[Path] = typer.Option(None, "--data-root", help="MetaQA folder (default: as in the model's config)"),
) -> None:
    """Hits@1 with fusion and with fusion switched off, and the answerable ceiling of the KB, in one run."""
    with friendly_errors():
        from kgfm.qa.evaluate import run_eval

        model_dir = model or Path(f"runs/qa/metaqa-{hops}hop/model")
        if not model_dir.is_dir():
            raise FileNotFoundError(f"{model_dir}: no fine-tuned model here (kgfm train --stage finetune, or --model)")
        result = run_eval(model_dir, dataset, hops, split, limit, out, data_root=data_root)
        typer.echo(json.dumps(result, indent=2))
