"""quickstart.ipynb: README's Python block as a notebook, run in a real Jupyter kernel (ipykernel via
nbclient) in an empty folder, with what notebook users do that a script does not: re-run cells while a
model is still open, and watch progress in the output area."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK = REPO / "quickstart.ipynb"
sys.path.insert(0, str(REPO / "tests"))
from readme_python import notebook_cells, python_block, write_notebook  # noqa: E402


def test_notebook_is_readme_python_block_cell_by_cell(tmp_path: Path):
    code = python_block(REPO / "README.md")
    nb = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    cells = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    hint = "README changed: python tests/readme_python.py README.md --notebook quickstart.ipynb"
    assert cells == notebook_cells(code), hint
    assert "\n\n".join(cells) + "\n" == code  # nothing of the block lost or reordered in the cut
    write_notebook(code, tmp_path / "again.ipynb")
    assert (tmp_path / "again.ipynb").read_bytes() == NOTEBOOK.read_bytes(), hint  # the same bytes every time
    assert all(not c.get("outputs") for c in nb["cells"] if c["cell_type"] == "code")  # shipped without outputs


def test_cells_start_at_numbered_steps():
    code = "import kgfm\n\nx = 1\n\n# 1. first\na = 1\n# not a step\n# 2. second\nb = 2\n"
    assert notebook_cells(code) == ["import kgfm\n\nx = 1", "# 1. first\na = 1\n# not a step", "# 2. second\nb = 2"]


def outputs(cell: dict, name: str) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("name") == name)


@pytest.mark.slow
def test_quickstart_runs_in_a_jupyter_kernel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    import nbformat
    from nbclient import NotebookClient

    # A kernelspec of our own, so the kernel is this interpreter and not whatever "python3" a machine has.
    spec = tmp_path / "jupyter" / "kernels" / "kgfm-test"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "kgfm test", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.delenv("KGFM_PROGRESS", raising=False)  # the kernel must pick its progress mode itself
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    work = tmp_path / "work"
    work.mkdir()

    nb = nbformat.read(NOTEBOOK, as_version=4)
    steps = len(nb.cells)
    nb.cells.insert(0, nbformat.v4.new_code_cell("import sys; print('kernel', sys.executable)"))
    nb.cells += [nbformat.v4.new_code_cell(src) for src in (
        # what a notebook user does next: re-run the set-up and build cells while a model is held open
        "held = kgfm.QAModel.from_pretrained('runs/qa/sample/model')\n"
        "print('samples again', len(kgfm.write_samples('.')))\n"
        "again = kgfm.build_graph('graphs/movies_kb.txt', path='.kgfm/graph.lbug')\n"
        "print('rebuilt', again.triples_new, again.entities_total)\n"
        "print('held answers', held.answer('who directed [Orchard of Havana]')['answers'][0]['name'])\n"
        "held.close()",
        "from kgfm.progress import progress_mode\nprint('progress', progress_mode())",
    )]
    NotebookClient(nb, timeout=1200, kernel_name="kgfm-test", resources={"metadata": {"path": str(work)}}).execute()

    out = [outputs(c, "stdout") for c in nb.cells]
    err = "".join(outputs(c, "stderr") for c in nb.cells)
    assert out[0].split() == ["kernel", sys.executable]
    text = "".join(out)
    assert "716 triples, 266 entities" in text and "which films did [Rosa Kimura] act in ->" in text
    assert "test Hits@1:" in text and (work / "runs" / "qa" / "sample" / "model" / "manifest.json").is_file()
    step4 = out[1 + steps - 4]  # the cell of step 4 (answers): its first line starts with the best answer's name
    served = out[1 + steps - 2].split()  # step 6: the answer over HTTP from a server in a thread of the kernel
    assert served[0].startswith("http://127.0.0.1:") and served[1] == "->" and len(served) > 2, served
    grown = out[1 + steps - 1]  # step 7: a film added after training, embedded by the GNN, answered
    assert "before=266, after=267, facts=2" in grown and "who directed [Neon Harbor] -> Noah Lindqvist" in grown, grown
    assert "'entities': 267, 'was': 266" in grown, grown  # the step-6 server, reloaded
    assert "over HTTP: who directed [Neon Harbor] -> Noah Lindqvist" in grown, grown
    rerun = out[1 + steps].splitlines()
    assert rerun[:2] == ["samples again 0", "rebuilt 0 267"]
    assert step4.startswith(rerun[2].removeprefix("held answers ") + " ")
    assert out[-1].strip() == "progress bar"
    assert "%|" in err and "Traceback" not in err  # live text bars (no ipywidgets here)
    # at most tqdm.auto's one import-time "IProgress not found" (PyG, transformers and huggingface_hub import
    # tqdm.auto); kgfm's own bars never go through tqdm.auto
    assert err.count("IProgress not found") <= 1
