"""``kgfm build-graph``: config model and the run that streams sources into a store."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from kgfm.config import StoreConfig, StrictModel, save_config
from kgfm.sources import (
    DELIMITED_FORMATS,
    RDF_FORMATS,
    Reject,
    SourceError,
    detect_format,
    read_delimited_batches,
    read_entity_text,
    read_source,
)
from kgfm.store.factory import open_store
from kgfm.store.loader import GraphLoader, LoadReport, young_gc_only


def _sample_graph(value: object) -> object:
    """``sample:NAME`` -> the bundled graph file (``kgfm.samples``); anything else unchanged."""
    from kgfm.samples import PREFIX, resolve

    return resolve(value, "graphs") if isinstance(value, str) and value.startswith(PREFIX) else value


class SourceSpec(StrictModel):
    path: Path
    format: str | None = Field(None, description="override the format detected from the extension")
    base: str | None = Field(None, description="RDF: base IRI for relative references (default: the file's absolute file: IRI)")
    ids_as_names: bool | None = Field(
        None, description="TSV/CSV/pipe: a new entity's id is also its name (default: pipe KBs yes, TSV/CSV no)")

    _sample = field_validator("path", mode="before")(_sample_graph)


class NamesSpec(StrictModel):
    path: Path
    kind: str = Field("auto", description="auto | name | description | name-gloss | wikidata-json")

    _sample = field_validator("path", mode="before")(_sample_graph)

    @classmethod
    def parse(cls, value: str) -> "NamesSpec":
        """``FILE`` or ``FILE:KIND`` (``--names``; FILE may be ``sample:NAME``)."""
        from kgfm.samples import PREFIX

        prefix = PREFIX if value.startswith(PREFIX) else ""
        rest = value[len(prefix):]
        path, kind = rest.rsplit(":", 1) if ":" in rest else (rest, None)
        return cls(path=prefix + path, **({"kind": kind} if kind else {}))


class BuildGraphConfig(StrictModel):
    """What ``kgfm build-graph`` reads and where it writes."""

    store: StoreConfig = StoreConfig()
    sources: list[SourceSpec] = Field(default_factory=list)
    names: list[NamesSpec] = Field(default_factory=list)
    on_error: Literal["fail", "skip"] = "fail"
    rejects: Path | None = Field(None, description="rejects file (default: <out_dir>/<store>.rejects.tsv)")
    batch_size: int = Field(200_000, ge=1)
    out_dir: Path | None = Field(None, description="where the resolved config and report go (default: beside the store)")

    def output_dir(self) -> Path:
        if self.out_dir is not None:
            return self.out_dir
        return self.store.path.parent if self.store.backend == "embedded" else Path(".kgfm")

    def store_name(self) -> str:
        """The prefix of this store's report files: the store's file name without its suffix (``graph``), or
        ``neo4j-<database>`` (config, then ``KGFM_NEO4J_DATABASE``, else ``neo4j``)."""
        if self.store.backend == "embedded":
            return self.store.path.stem or self.store.path.name
        database = self.store.neo4j_database or os.environ.get("KGFM_NEO4J_DATABASE") or "neo4j"
        return f"neo4j-{database}"

    def output_file(self, kind: str) -> Path:
        """This store's own report file, e.g. ``.kgfm/graph.build-graph.report.json`` for ``.kgfm/graph.lbug``.

        Args:
            kind: ``build-graph.yaml``, ``build-graph.report.json`` or ``rejects.tsv``.
        """
        return self.output_dir() / f"{self.store_name()}.{kind}"


def validate_rdf(path: Path, fmt: str, base: str | None) -> None:
    """Parse an RDF file completely without storing anything.

    Raises:
        SourceError: at its first syntax error (``file:line[:col]: reason``).
    """
    for record in read_source(path, fmt, base):
        if isinstance(record, Reject):
            raise SourceError(record.source, f"{record.reason}; nothing was written", record.line, record.column)


def _check_paths(config: BuildGraphConfig, rejects: Path) -> None:
    if rejects.is_dir():
        raise SourceError(str(rejects), "is a directory; --rejects needs a file path")
    for spec in config.sources:
        fmt = detect_format(spec.path, spec.format)  # unknown format: fail before writing anything
        if spec.ids_as_names and fmt not in DELIMITED_FORMATS:
            raise SourceError(str(spec.path), f"--ids-as-names is for TSV/CSV/pipe files, not {fmt}: RDF names its "
                              "entities with rdfs:label, skos:prefLabel, schema:name or foaf:name")


def run_build(config: BuildGraphConfig, show_progress: bool = True) -> LoadReport:
    """Load every source (then name files) into the configured store; save config and report.

    With ``on_error="fail"`` every RDF source is parsed once in full first (pyoxigraph parses
    far faster than the store writes), so a syntax error anywhere writes nothing at all.
    Delimited files are checked per batch: a bad line stops before its batch is written.

    Raises:
        SourceError: a source or path is unusable, or an RDF source has a syntax error
            (nothing written).
        kgfm.store.loader.LoadAborted: ``on_error="fail"`` met a bad delimited line (batches
            before it stay, and are counted in the exception's report).
    """
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    out = config.output_dir()
    rejects = config.rejects or config.output_file("rejects.tsv")
    _check_paths(config, rejects)
    if config.on_error == "fail":
        for spec in config.sources:
            fmt = detect_format(spec.path, spec.format)
            if fmt in RDF_FORMATS:
                validate_rdf(spec.path, fmt, spec.base)
    out.mkdir(parents=True, exist_ok=True)
    save_config(config, config.output_file("build-graph.yaml"))
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
                with young_gc_only():
                    for spec in config.sources:
                        progress.update(task, description=f"loading {spec.path.name}")
                        _load_source(loader, spec, named_elsewhere=bool(config.names))
                    for spec in config.names:
                        progress.update(task, description=f"names {spec.path.name}")
                        loader.load_names(read_entity_text(spec.path, spec.kind), str(spec.path))
                    progress.update(task, description="checkpoint")
                    loader.finish()
            finally:
                report = loader.report
                report.seconds = round(time.perf_counter() - started, 3)
                _save_report(report, config.output_file("build-graph.report.json"))
        finally:
            store.close()
    return report


def _load_source(loader: GraphLoader, spec: SourceSpec, named_elsewhere: bool = False) -> None:
    """Stream one source into ``loader``; warn (in the report) when it held nothing, or when a TSV/CSV
    file created entities with no name and nothing else names them."""
    fmt = detect_format(spec.path, spec.format)
    before = (loader.report.records_read, loader.report.rejected)
    new_before = loader.report.entities_new
    if fmt in DELIMITED_FORMATS:
        ids_as_names = fmt == "pipe" if spec.ids_as_names is None else spec.ids_as_names
        loader.load_rows(read_delimited_batches(spec.path, fmt), str(spec.path), ids_are_names=ids_as_names)  # type: ignore[arg-type]
        unnamed = loader.report.entities_new - new_before
        if not ids_as_names and spec.ids_as_names is None and unnamed and not named_elsewhere:
            loader.report.warnings.append(
                f"{spec.path}: its {unnamed:,} new entities have no name (TSV/CSV ids stay ids; questions and "
                "linking fall back to the id); if the ids are names, build with --ids-as-names (into a new "
                "store: it names the entities a run creates), or add names with --names FILE")
    else:
        loader.load(read_source(spec.path, fmt, spec.base), str(spec.path))
    if (loader.report.records_read, loader.report.rejected) == before:
        loader.report.warnings.append(f"{spec.path}: no triples or entities in this file (empty?)")


def _save_report(report: LoadReport, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(report.as_dict(), indent=2), encoding="utf-8")
    os.replace(tmp, path)
