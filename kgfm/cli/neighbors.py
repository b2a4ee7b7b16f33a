"""``kgfm neighbors ENTITY -k 10 [--index DIR]``: nearest entities in the FAISS entity index."""

from __future__ import annotations

from pathlib import Path

import typer

from kgfm.cli.errors import friendly_errors

DEFAULT_INDEX = Path("runs/graph/index")


def neighbors(
    entity: str = typer.Argument(..., help="entity id, or its exact display name"),
    k: int = typer.Option(10, "-k", min=1, help="how many neighbours"),
    index: Path = typer.Option(DEFAULT_INDEX, "--index", help="entity index directory (kgfm train --stage graph writes runs/graph/index)"),
) -> None:
    """Print the entities whose GNN embeddings are nearest to ENTITY, with scores."""
    with friendly_errors():
        from kgfm.cli.terminal import printable
        from kgfm.index.entity_index import EntityIndex, UnknownEntityError

        if not index.is_dir():
            raise FileNotFoundError(f"{index}: no entity index here (run `kgfm train --stage graph` or pass --index)")
        idx = EntityIndex.load(index)
        try:
            row = idx.resolve(entity)
            hits = idx.neighbors(idx.entity_ids[row], k)
        except UnknownEntityError as exc:
            typer.echo(f"kgfm: error: {printable(str(exc.args[0]))}", err=True)
            raise typer.Exit(2) from None
        name, row_id = printable(idx.entity_names[row] or ""), printable(idx.entity_ids[row])
        typer.echo(f"nearest to {row_id}" + (f" ({name})" if name and name != row_id else "")
                   + f"  [{idx.metric}, {idx.config.get('index_type')}]")
        for rank, (eid, ename, score) in enumerate(hits, start=1):
            eid, ename = printable(eid), printable(ename or "")
            label = eid if not ename or ename == eid else f"{ename}  ({eid})"
            typer.echo(f"{rank:3d}. {score:9.4f}  {label}")
