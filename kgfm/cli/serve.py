"""``kgfm serve --model DIR [--host 127.0.0.1 --port 8000]``: warm QA over HTTP, with a page at ``/``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from kgfm.cli.errors import friendly_errors
from kgfm.config import SAMPLE_QA_MODEL

DEFAULT_MODEL = SAMPLE_QA_MODEL


def serve(
    model: Path = typer.Option(DEFAULT_MODEL, "--model", "-m", help="fine-tuned model (kgfm train --stage finetune)"),
    host: str = typer.Option("127.0.0.1", help="address to listen on (0.0.0.0: every interface)"),
    port: int = typer.Option(8000, min=0, max=65535, help="TCP port"),
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="YAML with a store: section (default: the model's)"),
    store: Optional[str] = typer.Option(None, help="embedded or neo4j (default: the model's store)"),
    path: Optional[Path] = typer.Option(None, help="embedded store location (default: the model's)"),
    index: Optional[Path] = typer.Option(None, "--index", help="entity index directory (default: the model's)"),
    hops: Optional[int] = typer.Option(None, "--hops", min=1, max=3, help="candidate radius (default: as trained)"),
    threads: Optional[int] = typer.Option(None, "--threads", min=1, help="torch threads (default: all cores)"),
    int8: bool = typer.Option(False, "--int8/--float",
                              help="quantise the encoder to int8 at load (faster on CPU; answers may differ slightly)"),
    trace: bool = typer.Option(True, "--trace/--no-trace",
                               help="run the transformer blocks from torch.jit.trace recordings, made while idle (same answers, less time)"),
    max_questions: int = typer.Option(64, help="questions per POST /qa"),
    max_rows: int = typer.Option(1000, help="row cap of POST /cypher"),
    max_body_kb: int = typer.Option(64, help="largest request body (KiB)"),
    log_level: str = typer.Option("info", help="uvicorn log level"),
    access_log: bool = typer.Option(True, "--access-log/--no-access-log", help="one log line per request"),
) -> None:
    """Load the model once and answer over HTTP: POST /qa, GET /entities/ID and /entities/ID/neighbors,
    POST /cypher (read-only), GET /health and /version, OpenAPI at /docs, and a page at /.
    `kill -HUP <pid>` reloads the model, index and store (after build-graph and extend-index) with no restart."""
    with friendly_errors():
        import time

        start = time.perf_counter()
        from kgfm.serve.server import BindError, run_server

        store_cfg = None
        if config is not None or store is not None or path is not None:
            from kgfm.cli.store_options import store_config

            store_cfg = store_config(config, store, path)
        limits = {"max_questions": max_questions, "max_rows": max_rows, "max_body_bytes": max_body_kb * 1024}
        try:
            run_server(model, host, port, store=store_cfg, index_dir=index, hops=hops, threads=threads, limits=limits,
                       log_level=log_level, access_log=access_log, started=start, int8=int8,
                       trace=trace)
        except BindError as exc:
            typer.echo(f"kgfm: error: {exc}", err=True)
            raise typer.Exit(2) from None
