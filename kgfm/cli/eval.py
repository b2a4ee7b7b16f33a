"""``kgfm eval --dataset metaqa --hops 1|2|3 --split test [--model DIR]`` or ``kgfm eval --file FILE --model DIR``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from kgfm.cli.errors import friendly_errors


def eval_(
    file: Optional[Path] = typer.Option(None, "--file", "-f", help="your own questions: MetaQA text (question with \\[topic]<TAB>ans1|ans2) or .jsonl {question, answers, topic?}"),
    dataset: str = typer.Option("metaqa", "--dataset", help="benchmark (metaqa), when no --file"),
    hops: Optional[int] = typer.Option(None, "--hops", min=1, max=3, help="MetaQA hop setting / candidate radius (default: 1 for MetaQA, as trained for --file)"),
    split: str = typer.Option("test", "--split", help="test | valid (held-out dev slice) | dev"),
    model: Optional[Path] = typer.Option(None, "--model", "-m", help="fine-tuned model (default runs/qa/metaqa-{hops}hop/model)"),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="a seeded random sample of N questions"),
    out: Optional[Path] = typer.Option(None, "--out", help="JSON output path"),
    data_root: Optional[Path] = typer.Option(None, "--data-root", help="MetaQA folder (default: the model's data.root if present, else $KGFM_DATA_ROOT/MetaQA, else ../shared/data/MetaQA)"),
    store: Optional[str] = typer.Option(None, "--store", help="embedded | neo4j (default: the store the model was trained on)"),
    path: Optional[Path] = typer.Option(None, "--path", help="embedded store folder (default: found from the model folder)"),
    index: Optional[Path] = typer.Option(None, "--index", help="entity index folder (default: found from the model folder)"),
    qtype: Optional[Path] = typer.Option(None, "--qtype", help="question types, one a line, aligned with --file (per-type Hits@1; default: {stem}_qtype.txt beside it)"),
) -> None:
    """Hits@1/3/10 and MRR with fusion and with fusion switched off (paired), the answerable ceiling of
    the graph and the topic linking rate, in one run. Questions whose gold answers are mostly not in
    the model's graph are refused (exit 2), not scored 0."""
    with friendly_errors():
        from kgfm.cli.qa import model_store
        from kgfm.qa.evaluate import run_eval

        if file is None:
            hops = hops or 1
        model_dir = model or Path(f"runs/qa/metaqa-{hops or 1}hop/model")
        result = run_eval(model_dir, dataset, hops, split, limit, out, store_path=path, data_root=data_root,
                          file=file, store_config=model_store(model_dir, store), index_path=index,
                          qtype_file=qtype)
        typer.echo(json.dumps(result, indent=2))
