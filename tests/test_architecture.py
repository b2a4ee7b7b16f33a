"""The layout rules from the developers' brief, checked on the source tree.

* data flows forward: a stage imports only itself and earlier stages;
* no module much past 400 lines;
* the store's Cypher lives in one module per backend.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "kgfm"
STAGES = ["sources", "store", "encoder", "index", "fusion", "qa", "serve"]
SHARED = {"config", "artifacts", "hf", "__init__"}  # stage-independent foundations
MAX_LINES = 420


def _modules() -> list[Path]:
    return sorted(p for p in PKG.rglob("*.py"))


def _imported_kgfm_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("kgfm"))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("kgfm"):
            out.add(node.module)
    return out


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PKG)))
def test_imports_flow_forward(path: Path):
    parts = path.relative_to(PKG).parts
    if parts[0] not in STAGES:
        if parts[0] == "cli" or path.stem in SHARED:
            return
        pytest.fail(f"{path}: module outside the stage folders")
    rank = STAGES.index(parts[0])
    for module in _imported_kgfm_modules(path):
        target = module.split(".")[1] if "." in module else ""
        if target in SHARED or target == "":
            continue
        assert target != "cli", f"{path}: a stage must not import the CLI"
        assert target in STAGES, f"{path}: imports unknown package {module}"
        assert STAGES.index(target) <= rank, f"{path} (stage {parts[0]}) imports later stage {module}"


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PKG)))
def test_module_size(path: Path):
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{path}: {lines} lines; split it by concept"


def test_store_cypher_in_one_place_per_backend():
    for name in ("embedded.py", "neo4j.py", "loader.py", "build.py", "stats.py"):
        text = (PKG / "store" / name).read_text(encoding="utf-8")
        for keyword in ("MATCH (", "MERGE (", "UNWIND $", "CREATE NODE", "CREATE CONSTRAINT"):
            assert keyword not in text, f"store/{name} holds Cypher ({keyword!r}); it belongs in *_cypher.py"
