"""The Typer app: one module per command, registered here."""

from __future__ import annotations

import typer

from kgfm.cli import build_graph, corpus, cypher, eval as eval_cmd, neighbors, qa, serve, stats, train

app = typer.Typer(
    name="kgfm",
    help="Knowledge-graph-augmented models: build a graph, train encoders, ask questions.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

app.command("build-graph")(build_graph.build_graph)
app.command("cypher")(cypher.cypher)
app.command("stats")(stats.stats)
app.command("train")(train.train)
app.command("neighbors")(neighbors.neighbors)
app.command("qa")(qa.qa)
app.command("eval")(eval_cmd.eval_)
app.command("corpus")(corpus.corpus)
app.command("serve")(serve.serve)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
