"""``kgfm build-graph``: config model and the run that streams sources into a store."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Literal

from pydantic import Field

from kgfm.config import StoreConfig, StrictModel, save_config
from kgfm.sources import detect_format, read_entity_text, read_source
from kgfm.store.factory import open_store
from kgfm.store.loader import GraphLoader, LoadReport


class SourceSpec(StrictModel):
    path: Path
    format: str | None = Field(None, description="override the format detected from the extension")


class NamesSpec(StrictModel):
    path: Path
    kind: str = Field("auto", description="auto | name | description | name-gloss | wikidata-json")


class BuildGraphConfig(StrictModel):
    """What ``kgfm build-graph`` reads and where it writes."""

    store: StoreConfig = StoreConfig()
    sources: list[SourceSpec] = Field(default_factory=list)
    names: list[NamesSpec] = Field(default_factory=list)
    on_error: Literal["fail", "skip"] = "fail"
    rejects: Path | None = Field(None, description="rejects file (default: <out_dir>/rejects.tsv)")
    batch_size: int = Field(200_000, ge=1)
    out_dir: Path | None = Field(None, description="where the resolved config and report go (default: beside the store)")

    def output_dir(self) -> Path:
        if self.out_dir is not None:
            return self.out_dir
        return self.store.path.parent if self.store.backend == "embedded" else Path(".kgfm")


def run_build(config: BuildGraphConfig, show_progress: bool = True) -> LoadReport:
    """Load every source (then name files) into the configured store; save config and report.

    Raises:
        kgfm.store.loader.LoadAborted: ``on_error="fail"`` met a bad record (what was written
            before that batch stays, and is counted in the exception's report).
    """
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    out = config.output_dir()
    out.mkdir(parents=True, exist_ok=True)
    save_config(config, out / "build-graph.yaml")
    rejects = config.rejects or out / "rejects.tsv"
    if rejects.exists():
        rejects.unlink()
    started = time.perf_counter()
    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TextColumn("{task.fields[n]:>12,} records"),
        TimeElapsedColumn(), disable=not show_progress, transient=False,
    ) as progress:
        task = progress.add_task("opening store", total=None, n=0)

        def hook(source: str, n: int) -> None:
            progress.update(task, description=f"loading {Path(source).name}", n=n)

        store = open_store(config.store, bulk=True)
        try:
            loader = GraphLoader(store, config.on_error, rejects, config.batch_size, hook)
            try:
                for spec in config.sources:
                    progress.update(task, description=f"loading {spec.path.name}")
                    fmt = detect_format(spec.path, spec.format)
                    loader.load(read_source(spec.path, fmt), str(spec.path), ids_are_names=fmt == "pipe")
                for spec in config.names:
                    progress.update(task, description=f"names {spec.path.name}")
                    loader.load_names(read_entity_text(spec.path, spec.kind), str(spec.path))
                progress.update(task, description="checkpoint")
                loader.finish()
            finally:
                report = loader.report
                report.seconds = round(time.perf_counter() - started, 3)
                _save_report(report, out / "build-graph.report.json")
        finally:
            store.close()
    return report


def _save_report(report: LoadReport, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(report.as_dict(), indent=2), encoding="utf-8")
    os.replace(tmp, path)
