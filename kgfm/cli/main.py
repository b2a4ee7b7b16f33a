"""The Typer app: one module per command, registered here."""

from __future__ import annotations

import typer

from kgfm.cli import build_graph, corpus, cypher, eval as eval_cmd, export, extend, init, neighbors, qa, questions, serve, stats, train

app = typer.Typer(
    name="kgfm",
    help="Knowledge-graph-augmented models: build a graph, train encoders, ask questions.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)



def _print_version(value: bool) -> None:
    if value:
        from kgfm import __version__

        typer.echo(f"kgfm {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                 help="print the version and exit"),
) -> None:
    """Knowledge-graph-augmented models: build a graph, train encoders, ask questions."""


app.command("build-graph")(build_graph.build_graph)
app.command("cypher")(cypher.cypher)
app.command("stats")(stats.stats)
app.command("train")(train.train)
app.command("neighbors")(neighbors.neighbors)
app.command("qa")(qa.qa)
app.command("eval")(eval_cmd.eval_)
app.command("corpus")(corpus.corpus)
app.command("init")(init.init)
app.command("export")(export.export)
app.command("serve")(serve.serve)
app.command("questions")(questions.questions)
app.command("auto")(questions.auto)
app.command("extend-index")(extend.extend_index)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
