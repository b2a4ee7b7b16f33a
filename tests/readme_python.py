"""Extract (and optionally run) the ```python block of README.md's "Python" section.

Used by tests/misc/test_readme_python.py and by scripts/wheel_check.sh (against the installed wheel,
from an empty folder): ``python tests/readme_python.py README.md --run``. The same block, a cell per
numbered step, is ``quickstart.ipynb`` (shipped as a sample: ``kgfm init`` writes it); ``python
tests/readme_python.py README.md --notebook quickstart.ipynb`` writes it again after README changes
(tests/misc/test_notebook.py checks that the two agree and runs the notebook in a real Jupyter kernel).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path


def python_block(readme: Path, section: str = "Python") -> str:
    """The first ```python fenced block after the heading ``## … {section}``."""
    text = readme.read_text(encoding="utf-8")
    heading = re.search(rf"^##+ .*\b{re.escape(section)}\b.*$", text, flags=re.MULTILINE)
    if heading is None:
        raise SystemExit(f"{readme}: no '## {section}' section")
    block = re.search(r"^```python\n(.*?)^```", text[heading.end():], flags=re.MULTILINE | re.DOTALL)
    if block is None:
        raise SystemExit(f"{readme}: the '{section}' section has no ```python block")
    return block.group(1)


def notebook_cells(code: str) -> list[str]:
    """The block cut into notebook cells: a new cell at each numbered step comment (``# 1. ...``)."""
    cells: list[list[str]] = [[]]
    for line in code.splitlines():
        if re.match(r"# \d+\. ", line) and any(s.strip() for s in cells[-1]):
            cells.append([])
        cells[-1].append(line)
    return ["\n".join(lines).strip("\n") for lines in cells]


def write_notebook(code: str, out: Path) -> None:
    """``quickstart.ipynb``: a title cell, then :func:`notebook_cells` as code cells (no outputs)."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata = {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                   "language_info": {"name": "python"}}
    intro = ("# kgfm quickstart\n\nREADME's Python example, a cell per step: the bundled movie KG into the "
             "embedded store, the GNN encoder and its FAISS index, QA fine-tuning of MiniLM with fusion layers, "
             "answers with evidence, and an evaluation. Runs offline on a CPU in a few minutes; put your own "
             "triple file in step 1.")
    nb.cells = [nbformat.v4.new_markdown_cell(intro)] + [nbformat.v4.new_code_cell(c) for c in notebook_cells(code)]
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i}"  # stable ids: the file is the same every time it is written
    out.write_text(nbformat.writes(nb) + "\n", encoding="utf-8")


if __name__ == "__main__":
    code = python_block(Path(sys.argv[1]))
    if "--run" in sys.argv[2:]:
        exec(compile(code, f"{sys.argv[1]}:Python", "exec"), {"__name__": "__main__"})
    elif "--notebook" in sys.argv[2:]:
        write_notebook(code, Path(sys.argv[sys.argv.index("--notebook") + 1]))
    else:
        print(code)
