"""``kgfm build-graph SOURCE...``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from kgfm.cli.errors import friendly_errors


def build_graph(
    sources: Optional[list[str]] = typer.Argument(None, help="RDF (.ttl .nt .nq .trig .rdf .jsonld), .tsv/.csv/.txt triples or pipe KBs; .gz ok; sample:NAME for a bundled graph"),
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="YAML config (store, sources, names...)"),
    store: Optional[str] = typer.Option(None, help="embedded (default) or neo4j"),
    path: Optional[Path] = typer.Option(None, help="embedded store location (default .kgfm/graph.lbug)"),
    fmt: Optional[str] = typer.Option(None, "--format", help="force the format of every SOURCE"),
    base: Optional[str] = typer.Option(None, "--base", help="RDF: base IRI for relative references (default: each file's absolute file: IRI)"),
    names: Optional[list[str]] = typer.Option(None, "--names", help="name/description file, FILE or FILE:KIND"),
    ids_as_names: Optional[bool] = typer.Option(
        None, "--ids-as-names/--no-ids-as-names",
        help="TSV/CSV/pipe: a new entity's id is also its name (default: pipe KBs yes, TSV/CSV no)"),
    value_entities: Optional[list[str]] = typer.Option(
        None, "--value-entities",
        help="RDF: literal objects of this predicate (IRI or local name; 'all': every predicate) become value "
             "entities that questions and QA can use; repeat for several (names and descriptions never do)"),
    on_error: Optional[str] = typer.Option(None, help="fail (default): every file is checked first, a bad line anywhere writes nothing; skip: write the good rows, list the rejects"),
    rejects: Optional[Path] = typer.Option(None, help="rejects file (default <store>.rejects.tsv beside the store)"),
    replace: Optional[bool] = typer.Option(
        None, "--replace/--add",
        help="--replace: the store holds exactly these sources afterwards (embedded: built beside the old store, "
             "swapped in when complete; Neo4j: emptied first); --add (default): add to what is stored"),
    set_: Optional[list[str]] = typer.Option(None, "--set", help="override a config value: key.sub=value"),
) -> None:
    """Read triples into the graph store (idempotent: re-running adds nothing twice; --replace rebuilds it)."""
    with friendly_errors():
        from kgfm.cli.summary import print_load_report
        from kgfm.config import load_config, parse_overrides
        from kgfm.samples import resolve
        from kgfm.store.build import BuildGraphConfig, NamesSpec, run_build
        from kgfm.store.loader import LoadAborted

        overrides = {
            "store.backend": store, "store.path": path and str(path), "on_error": on_error,
            "rejects": rejects and str(rejects), "replace": replace, **parse_overrides(set_),
        }
        if sources:
            overrides["sources"] = [{"path": str(resolve(s, "graphs")), "format": fmt, "base": base, "ids_as_names": ids_as_names,
                                   "value_entities": value_entities or []} for s in sources]
        if names:
            overrides["names"] = [NamesSpec.parse(n).model_dump(mode="json") for n in names]
        cfg = load_config(BuildGraphConfig, config, overrides)
        if not cfg.sources and not cfg.names:
            raise typer.BadParameter("give at least one SOURCE (or sources: in --config)")
        try:
            report = run_build(cfg)
        except LoadAborted as exc:
            if exc.report.records_read:  # not when the check before any write found the line
                print_load_report(exc.report, failed=True)
            raise
        print_load_report(report)
        for warning in report.warnings:
            typer.echo(f"kgfm: warning: {warning}", err=True)
