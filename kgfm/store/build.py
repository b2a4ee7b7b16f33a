"""``kgfm build-graph``: config model and the run that streams sources into a store."""

from __future__ import annotations

import os
import time
from collections import Counter
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Callable, Literal

from pydantic import Field, field_validator

from kgfm.artifacts import write_json_atomic
from kgfm.config import StoreConfig, StrictModel, save_config
from kgfm.progress import LogProgress, progress_mode
from kgfm.sources import (
    DELIMITED_FORMATS,
    RDF_FORMATS,
    RdfOptions,
    Reject,
    SourceError,
    detect_format,
    read_delimited_batches,
    read_entity_text,
    read_source,
)
from kgfm.store.factory import open_store
from kgfm.store.load_report import LoadAborted
from kgfm.store.loader import GraphLoader, LoadReport, young_gc_only

#: Seconds between progress lines of ``build-graph`` in a log (stderr not a terminal).
BUILD_LOG_SECONDS = 30.0


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
    value_entities: list[str] = Field(
        default_factory=list, description="RDF: predicates (IRIs or local names; 'all': every one) whose literal "
        "objects become value entities, answerable like MetaQA's release years (names and descriptions never do)")

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
    replace: bool = Field(False, description="afterwards the store holds exactly these sources: an embedded store is "
                          "built beside the old one and swapped in when complete; Neo4j is emptied first")
    out_dir: Path | None = Field(None, description="where the resolved config and report go (default: beside the store)")

    def output_dir(self) -> Path:
        return self.out_dir if self.out_dir is not None else self.store.home()

    def output_file(self, kind: str) -> Path:
        """This store's own report file, e.g. ``.kgfm/graph.build-graph.report.json`` for ``.kgfm/graph.lbug``.

        Args:
            kind: ``build-graph.yaml``, ``build-graph.report.json`` or ``rejects.tsv``.
        """
        return self.output_dir() / f"{self.store.name()}.{kind}"


def validate_rdf(path: Path, fmt: str, base: str | None) -> None:
    """Parse an RDF file completely without storing anything.

    Raises:
        SourceError: at its first syntax error (``file:line[:col]: reason``).
    """
    for record in read_source(path, fmt, base):
        if isinstance(record, Reject):
            raise SourceError(record.source, f"{record.reason}; nothing was written", record.line, record.column)


def check_sources(config: BuildGraphConfig, hook: Callable[[str], None] | None = None) -> None:
    """Read every source and name file in full without storing anything (``on_error="fail"``), so a bad
    line anywhere writes nothing at all. Reading is a small part of a build (FB15k-237's training
    split: 0.3 s of a 3.8 s build), and pyoxigraph parses RDF far faster than the store writes.

    Args:
        config: The build.
        hook: Called with each file's name before it is read (progress).

    Raises:
        SourceError: an RDF syntax error.
        LoadAborted: a bad delimited or name-file line (``checked_first``: nothing written).
    """
    def abort(reject: Reject) -> None:
        raise LoadAborted(reject, LoadReport(rejected=1), checked_first=True)

    for spec in config.sources:
        if hook:
            hook(spec.path.name)
        fmt = detect_format(spec.path, spec.format)
        if fmt in RDF_FORMATS:
            validate_rdf(spec.path, fmt, spec.base)
            continue
        for _rows, rejects in read_delimited_batches(spec.path, fmt):  # type: ignore[arg-type]
            if rejects:
                abort(rejects[0])
    for names in config.names:
        if hook:
            hook(names.path.name)
        for record in read_entity_text(names.path, names.kind):
            if isinstance(record, Reject):
                abort(record)


def _check_paths(config: BuildGraphConfig, rejects: Path) -> None:
    if rejects.is_dir():
        raise SourceError(str(rejects), "is a directory; --rejects needs a file path")
    for spec in config.sources:
        fmt = detect_format(spec.path, spec.format)  # unknown format: fail before writing anything
        if spec.value_entities and fmt in DELIMITED_FORMATS:
            raise SourceError(str(spec.path), f"--value-entities is for RDF files, not {fmt}: in TSV/CSV/pipe files "
                              "every object is an entity already")
        if spec.ids_as_names and fmt not in DELIMITED_FORMATS:
            raise SourceError(str(spec.path), f"--ids-as-names is for TSV/CSV/pipe files, not {fmt}: RDF names its "
                              "entities with rdfs:label, skos:prefLabel, schema:name or foaf:name")


def run_build(config: BuildGraphConfig, show_progress: bool = True) -> LoadReport:
    """Load every source (then name files) into the configured store; save config and report.

    With ``on_error="fail"`` every source and name file is read once in full first
    (:func:`check_sources`), so a bad line anywhere writes nothing at all. With ``replace`` an
    embedded store is built into a sibling file and swapped in only when complete (until then, and
    after any failure, the old store is untouched); a Neo4j database is emptied of kgfm's nodes
    first (not atomic: a failure after that leaves it partly loaded).

    Raises:
        SourceError: a source or path is unusable, or an RDF source has a syntax error
            (nothing written).
        kgfm.store.loader.LoadAborted: ``on_error="fail"`` met a bad line (nothing written).
    """
    out = config.output_dir()
    rejects = config.rejects or config.output_file("rejects.tsv")
    _check_paths(config, rejects)
    started = time.perf_counter()
    with _BuildProgress(show_progress) as progress:
        if config.on_error == "fail":
            check_sources(config, lambda name: progress.phase(f"checking {name}"))
        out.mkdir(parents=True, exist_ok=True)
        save_config(config, config.output_file("build-graph.yaml"))
        if rejects.exists():
            rejects.unlink()

        staging = _staging_path(config.store.path) if config.replace and config.store.backend == "embedded" else None
        store_config = config.store
        if staging is not None:
            from kgfm.store.locks import check_no_writer

            check_no_writer(config.store.path)
            _remove_store(staging)  # a replace interrupted before
            store_config = config.store.model_copy(update={"path": staging})
        store = open_store(store_config, bulk=True)
        loader: GraphLoader | None = None
        complete = False
        try:
            if config.replace and staging is None:
                progress.phase("emptying the store")
                store.clear()
            loader = GraphLoader(store, config.on_error, rejects, config.batch_size,
                                 lambda source, n: progress.phase(f"loading {Path(source).name}", n))
            with young_gc_only():
                for spec in config.sources:
                    progress.phase(f"loading {spec.path.name}")
                    _load_source(loader, spec, named_elsewhere=bool(config.names))
                for spec in config.names:
                    progress.phase(f"names {spec.path.name}")
                    loader.load_names(read_entity_text(spec.path, spec.kind), str(spec.path))
                progress.phase("writing the store (checkpoint)")
                loader.finish()
            _note_other_triples(loader.report, config.replace)
            complete = True
        finally:
            store.close()
            if staging is not None:
                try:
                    if complete:
                        _swap_in(staging, config.store.path)
                finally:
                    _remove_store(staging)  # gone already when swapped in; a failed or refused build's otherwise
            if loader is not None and (complete or staging is None):  # a discarded staging build changed nothing
                loader.report.seconds = round(time.perf_counter() - started, 3)
                _save_report(loader.report, config.output_file("build-graph.report.json"))
    assert loader is not None
    return loader.report


class _BuildProgress:
    """What ``build-graph`` is doing: a live spinner on a terminal or in a notebook; in a log (stderr
    not a terminal) a line every :data:`BUILD_LOG_SECONDS` instead, from a thread as well, since
    the bulk write at the end reports no steps (none for a short build); nothing when not shown."""

    def __init__(self, show: bool) -> None:
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        mode = progress_mode() if show else "off"
        self.live = Progress(SpinnerColumn(), TextColumn("{task.description}"), TextColumn("{task.fields[n]:>12,} records"),
                             TimeElapsedColumn(), disable=mode != "bar", transient=False)
        self.lines = LogProgress(desc="build-graph: opening store", heartbeat_seconds=BUILD_LOG_SECONDS,
                                 unit="records read") if mode == "log" else None
        self._stack = ExitStack()

    def __enter__(self) -> "_BuildProgress":
        self._stack.enter_context(self.live)
        self.task = self.live.add_task("opening store", total=None, n=0)
        if self.lines is not None:
            self._stack.enter_context(self.lines.ticking())
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stack.close()

    def phase(self, what: str, records: int | None = None) -> None:
        """Now doing ``what``, with ``records`` read so far when given."""
        self.live.update(self.task, description=what, **({} if records is None else {"n": records}))
        if self.lines is not None:
            self.lines.update_to(self.lines.n if records is None else records, f"build-graph: {what}")


def _note_other_triples(report: LoadReport, replaced: bool) -> None:
    """A re-run over a store that also holds triples these sources no longer state (an edited file):
    say so, since appending never removes anything."""
    other = report.triples_total - report.triples_new - report.triples_existing
    if not replaced and report.triples_existing and other > 0:
        report.warnings.append(
            f"the store also holds at least {other:,} triple{'s' if other > 1 else ''} that these sources do not "
            "state (from earlier builds or an earlier version of a file; build-graph adds, it never removes); "
            "--replace rebuilds the store from these sources only")


def _staging_path(path: Path) -> Path:
    return path.with_name(path.name + ".replacing")


def _wal(path: Path) -> Path:
    return path.with_name(path.name + ".wal")


def _remove_store(path: Path) -> None:
    for file in (path, _wal(path)):
        file.unlink(missing_ok=True)


def _swap_in(staging: Path, path: Path) -> None:
    """Make the complete staging store the store, atomically. The old store's write-ahead log (left by an
    interrupted write) goes first: replayed onto the new file it would corrupt it. A process that began
    writing the old store meanwhile makes this fail, and the staging store is removed."""
    from kgfm.store.locks import check_no_writer

    check_no_writer(path)
    _wal(path).unlink(missing_ok=True)
    os.replace(staging, path)


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
        options = RdfOptions(values=frozenset(spec.value_entities))
        loader.load(read_source(spec.path, fmt, spec.base, options), str(spec.path))
        if options.unused:
            loader.report.warnings.append(_properties_only(spec.path, options.unused))
    if (loader.report.records_read, loader.report.rejected) == before:
        loader.report.warnings.append(f"{spec.path}: no triples or entities in this file (empty?)")


def _properties_only(path: Path, unused: Counter) -> str:
    """The note for an RDF file whose literals (other than names, descriptions, types) stayed properties."""
    from kgfm.sources.rdf_terms import local_name

    top = ", ".join(f"{local_name(p)} {n:,}" for p, n in sorted(unused.items(), key=lambda kv: (-kv[1], kv[0]))[:5])
    more = f", ... ({len(unused)} predicates)" if len(unused) > 5 else ""
    return (f"{path}: {sum(unused.values()):,} literal statements ({top}{more}) are entity properties, not triples: "
            "questions, the graph encoder and QA use entity-to-entity triples only; to make these values entities "
            "that questions can ask for, build with --value-entities all (or --value-entities PREDICATE)")


def _save_report(report: LoadReport, path: Path) -> None:
    write_json_atomic(path, report.as_dict())
