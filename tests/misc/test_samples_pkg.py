"""Bundled samples by name and ``kgfm init`` (the wheel's copy is checked by scripts/wheel_check.sh)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from kgfm.samples import SampleError, init, names, resolve

REPO = Path(__file__).resolve().parents[2]


def test_resolve_sample_names():
    assert resolve("sample:graph", "configs").read_bytes() == (REPO / "configs" / "graph.yaml").read_bytes()
    assert resolve("sample:movies_kb.txt", "graphs").name == "movies_kb.txt"
    assert resolve("my/own.yaml", "configs") == Path("my/own.yaml")
    with pytest.raises(SampleError, match="available: .*graph"):
        resolve("sample:nope", "configs")
    with pytest.raises(SampleError):
        resolve("sample:../pyproject.toml", "configs")  # no escaping the samples folder
    assert "movies_kb.txt" in names("graphs") and "make_samples.py" not in names("graphs")


def test_init_writes_samples_and_refuses_to_overwrite(tmp_path: Path):
    written = init(tmp_path)
    assert (tmp_path / "configs" / "graph.yaml").read_bytes() == (REPO / "configs" / "graph.yaml").read_bytes()
    assert (tmp_path / "graphs" / "movies_kb.txt").is_file()
    assert (tmp_path / "quickstart.ipynb").read_bytes() == (REPO / "quickstart.ipynb").read_bytes()  # at the top
    assert len(written) == len(names("configs")) + len(names("graphs")) + 1
    assert init(tmp_path) == []  # again: every file already holds the sample, nothing to write, no error
    (tmp_path / "configs" / "graph.yaml").write_text("mine", encoding="utf-8")
    cli = subprocess.run([sys.executable, "-m", "kgfm.cli.main", "init", str(tmp_path)], capture_output=True, text=True)
    assert cli.returncode == 2 and "already exists" in cli.stderr and "Traceback" not in cli.stderr
    assert (tmp_path / "configs" / "graph.yaml").read_text(encoding="utf-8") == "mine"
    assert init(tmp_path, force=True) == [tmp_path / "configs" / "graph.yaml"]  # only the changed file


def test_version_flag():
    from kgfm import __version__

    out = subprocess.run([sys.executable, "-m", "kgfm.cli.main", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == f"kgfm {__version__}"
