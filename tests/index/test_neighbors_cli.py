"""`kgfm neighbors`: prints nearest entities from a saved index; clear errors otherwise."""

from __future__ import annotations

import numpy as np
import typer
from typer.testing import CliRunner

from kgfm.cli.neighbors import neighbors
from kgfm.index.entity_index import EntityIndex


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command()(neighbors)
    return app


def test_neighbors_by_name_and_id(tmp_path) -> None:
    emb = np.eye(5, 4, dtype=np.float32) + 0.1
    emb[1] = emb[0] * 0.9  # "Kismet"'s nearest neighbour is e1
    EntityIndex.build(emb, [f"e{i}" for i in range(5)], ["Kismet", "Kismet 2", None, "Other", "Last"],
                      use_gpu=False).save(tmp_path / "idx")
    runner = CliRunner()
    result = runner.invoke(_app(), ["Kismet", "-k", "2", "--index", str(tmp_path / "idx")])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[0].startswith("nearest to e0 (Kismet)")
    assert len(lines) == 3 and "Kismet 2  (e1)" in lines[1]
    assert "e0" not in "".join(lines[1:]).replace("(e0", "")
    by_id = runner.invoke(_app(), ["e0", "-k", "2", "--index", str(tmp_path / "idx")])
    assert by_id.output.splitlines()[1:] == lines[1:]


def test_neighbors_errors_are_one_line(tmp_path) -> None:
    EntityIndex.build(np.ones((2, 3), np.float32), ["a", "b"], use_gpu=False).save(tmp_path / "idx")
    runner = CliRunner()
    missing = runner.invoke(_app(), ["zzz", "--index", str(tmp_path / "idx")])
    assert missing.exit_code == 2 and "no entity with id or exact name 'zzz'" in missing.output
    no_index = runner.invoke(_app(), ["a", "--index", str(tmp_path / "nothing")])
    assert no_index.exit_code == 2 and "no entity index" in no_index.output
    assert "Traceback" not in missing.output + no_index.output
