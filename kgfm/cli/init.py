"""``kgfm init``."""

from __future__ import annotations

from pathlib import Path

import typer

from kgfm.cli.errors import friendly_errors


def init(
    target: Path = typer.Argument(Path("."), help="folder to write configs/, graphs/ and quickstart.ipynb into"),
    force: bool = typer.Option(False, "--force", help="overwrite sample files that differ from the sample"),
) -> None:
    """Write the bundled sample configs, graphs and quickstart notebook into TARGET, so the README's commands run
    there."""
    with friendly_errors():
        from kgfm.samples import init as write_samples

        written = write_samples(target, force=force)
        typer.echo(f"wrote {len(written)} files: {target}/configs, {target}/graphs, {target}/quickstart.ipynb"
                   f"{'' if written else ' (all already there)'}. Next:")
        typer.echo(f"  cd {target} && kgfm build-graph graphs/movies_kb.txt --path .kgfm/graph.lbug")
