"""The bundled sample configs, graphs and quickstart notebook, wherever kgfm is installed.

In a source checkout they are ``configs/``, ``graphs/`` and ``quickstart.ipynb`` at the repository
root; in a wheel they ship as ``kgfm/_samples/{configs,graphs,quickstart.ipynb}`` (copied there by
``setup.py`` at build time). Users reach them by name (``--config sample:graph``, ``kgfm build-graph
sample:movies_kb.txt``) or write them into a folder of their own with ``kgfm init DIR`` (the notebook
at DIR's top, where its first cell's ``kgfm.write_samples(".")`` finds everything already there).
"""

from __future__ import annotations

import shutil
from pathlib import Path

PREFIX = "sample:"
FOLDERS = ("configs", "graphs")
FILES = ("quickstart.ipynb",)  # written at the top of the target folder


class SampleError(FileNotFoundError):
    """A ``sample:NAME`` that names no bundled file."""


def samples_root() -> Path:
    """The folder holding ``configs/`` and ``graphs/`` (package data first, then the checkout)."""
    package = Path(__file__).resolve().parent
    for root in (package / "_samples", package.parent):
        if all((root / folder).is_dir() for folder in FOLDERS):
            return root
    raise SampleError(f"the bundled samples are missing from this installation ({package / '_samples'})")


def names(folder: str) -> list[str]:
    """Sample file names in ``folder`` (``configs`` or ``graphs``), sorted."""
    base = samples_root() / folder
    return sorted(str(p.relative_to(base)) for p in base.rglob("*") if p.is_file() and p.suffix != ".py")


def resolve(value: str | Path, folder: str) -> Path:
    """``sample:NAME`` -> the bundled file; anything else is returned unchanged as a Path.

    For configs the ``.yaml`` suffix is optional (``sample:graph`` = ``configs/graph.yaml``).

    Raises:
        SampleError: naming the available samples when NAME is not one of them.
    """
    text = str(value)
    if not text.startswith(PREFIX):
        return Path(value)
    name = text[len(PREFIX):]
    base = samples_root() / folder
    candidates = [base / name] + ([base / f"{name}.yaml"] if folder == "configs" else [])
    for candidate in candidates:
        if candidate.is_file() and base in candidate.resolve().parents:
            return candidate
    available = ", ".join(n.removesuffix(".yaml") for n in names(folder))
    raise SampleError(f"{text}: no such bundled sample in {folder}/ (available: {available})")


def init(target: Path, force: bool = False) -> list[Path]:
    """Copy the sample ``configs/``, ``graphs/`` and ``quickstart.ipynb`` into ``target`` so the README's
    commands (and the notebook) run there.

    Running it again is a no-op: a file that already holds the sample's bytes is left alone (a notebook
    cell re-run, a second ``kgfm init``).

    Args:
        target: Folder to write into (created).
        force: Overwrite files that differ from the sample; otherwise any such file is an error and
            nothing is written.

    Returns:
        The files written (not those already identical).
    """
    root = samples_root()
    plan = [(src, target / folder / src.relative_to(root / folder))
            for folder in FOLDERS for src in sorted((root / folder).rglob("*"))
            if src.is_file() and src.suffix != ".py" and "__pycache__" not in src.parts]
    plan += [(root / name, target / name) for name in FILES if (root / name).is_file()]
    plan = [(src, dest) for src, dest in plan if not (dest.is_file() and dest.read_bytes() == src.read_bytes())]
    existing = [dest for _, dest in plan if dest.exists()]
    if existing and not force:
        raise FileExistsError(f"{existing[0]}: already exists ({len(existing)} sample file(s) would be overwritten; "
                              "use --force)")
    for src, dest in plan:
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dest)
    return [dest for _, dest in plan]
