"""Rendering command results for people: the build-graph summary and query tables."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from kgfm.store.loader import LoadReport


def print_load_report(report: LoadReport, failed: bool = False) -> None:
    console = Console(stderr=failed)
    table = Table(title="build-graph: stopped early" if failed else "build-graph", show_header=False)
    table.add_column(style="bold")
    table.add_column(justify="right")
    rows = [
        ("entities written (new)", report.entities_new),
        ("entities updated", report.entities_updated),
        ("relations written (new)", report.relations_new),
        ("triples read", report.triples_read),
        ("triples written (new)", report.triples_new),
        ("triples already stored", report.triples_existing),
        ("rejected lines", report.rejected),
        ("names matched / unmatched", f"{report.names_matched} / {report.names_unmatched}"),
        ("store totals: entities / relations / triples",
         f"{report.entities_total} / {report.relations_total} / {report.triples_total}"),
        ("seconds", f"{report.seconds:.2f}"),
        ("triples/s", f"{report.triples_per_second:,.0f}"),
    ]
    for key, value in rows:
        table.add_row(key, f"{value:,}" if isinstance(value, int) else str(value))
    console.print(table)
    if report.rejected and report.rejects_path:
        console.print(f"rejected lines with reasons: {report.rejects_path}")


def print_rows(rows: list[dict[str, Any]], fmt: str = "table") -> None:
    """Query rows as a table, JSON or CSV; never read as markup, control characters escaped (CSV
    keeps values exact when stdout is a file or pipe: it has no escape of its own).

    Args:
        rows: The rows, each a dict in column order.
        fmt: ``table``, ``json`` or ``csv`` (header row, then one line per row: strings as they
            are, null empty, lists and maps as JSON; no rows: nothing).
    """
    from rich.table import Column
    from rich.text import Text

    from kgfm.cli.terminal import json_printable, printable

    if fmt == "json":
        print(json_printable(json.dumps(rows, indent=2, ensure_ascii=False, default=str)))
        return
    if fmt == "csv":
        import csv
        import sys

        if not rows:
            return  # no rows, no columns known: empty output
        safe = printable if sys.stdout.isatty() else str
        writer = csv.writer(sys.stdout, lineterminator="\n")
        columns = list(rows[0].keys())
        writer.writerow([safe(str(c)) for c in columns])
        for row in rows:
            writer.writerow([safe(v if isinstance(v, str) else "" if v is None else json.dumps(v, ensure_ascii=False, default=str))
                             for v in (row.get(c) for c in columns)])
        return
    console = Console()
    if not rows:
        console.print("(no rows)")
        return
    table = Table(*(Column(header=Text(printable(str(k)))) for k in rows[0].keys()))
    for row in rows:
        cells = (v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, default=str) for v in row.values())
        table.add_row(*(Text(printable(c)) for c in cells))
    console.print(table)
    console.print(f"{len(rows)} row(s)")


def print_stage_summary(stage: str, rows: list[tuple[str, str]], title: str | None = None) -> None:
    """The end-of-stage table (paths written, key metrics, wall time) on stdout.

    Args:
        stage: The stage (``graph``, ``pretrain``, ``finetune``).
        rows: ``(label, value)`` pairs from :func:`kgfm.training.report.stage_summary`.
        title: Instead of ``kgfm train --stage STAGE: done``.
    """
    table = Table(title=title or f"kgfm train --stage {stage}: done", show_header=False, title_justify="left")
    table.add_column("", style="bold")
    table.add_column("", overflow="fold")
    for label, value in rows:
        table.add_row(label, escape(value))
    Console(soft_wrap=False).print(table)
