"""The ``kgfm`` command line. Each command lives in its own module and imports heavy
libraries (torch, transformers, faiss, the stores) inside the function, so ``kgfm --help``
stays instant."""

from __future__ import annotations

import typer

from kgfm.cli import build_graph, cypher, eval as eval_cmd, neighbors, qa, stats, train

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


def main() -> None:
    app()
