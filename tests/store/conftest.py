"""Store fixtures: every conformance test runs on the embedded store, and on Neo4j when
``KGFM_NEO4J_URI`` (+ ``KGFM_NEO4J_USER`` / ``KGFM_NEO4J_PASSWORD``) points at a disposable
server (the tests delete all of its data). CI points them at ArcadeDB speaking Bolt
(``scripts/bolt_server.sh``) and sets ``KGFM_REQUIRE_NEO4J=1``, which turns the "no server"
skip into a failure so a misconfigured run cannot pass by skipping."""

from __future__ import annotations

from pathlib import Path

import pytest

from kgfm.config import StoreConfig
from kgfm.store.factory import open_store

def pytest_collection_modifyitems(items) -> None:
    # The Neo4j half of the parametrised suite carries the ``neo4j`` marker (CI selects it).
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("store_config") == "neo4j":
            item.add_marker(pytest.mark.neo4j)

TINY_KB = """\
Kismet|directed_by|William Dieterle
Kismet|starred_actors|Marlene Dietrich
Kismet|starred_actors|Ronald Colman
Kismet|release_year|1944
The Blue Angel|starred_actors|Marlene Dietrich
The Blue Angel|directed_by|Josef von Sternberg
Morocco|directed_by|Josef von Sternberg
Morocco|starred_actors|Marlene Dietrich
Morocco|starred_actors|Gary Cooper
"""


@pytest.fixture
def tiny_kb(tmp_path: Path) -> Path:
    path = tmp_path / "kb.txt"
    path.write_text(TINY_KB, encoding="utf-8")
    return path


def _clear_neo4j(store) -> None:
    store.cypher("MATCH (n) DETACH DELETE n", write=True)


@pytest.fixture(params=["embedded", "neo4j"])
def store_config(request, tmp_path: Path) -> StoreConfig:
    if request.param == "neo4j":
        request.getfixturevalue("neo4j_env")  # tests/conftest.py: skips (or fails) without a Bolt server
        cfg = StoreConfig(backend="neo4j", batch_size=3)
        with open_store(cfg) as store:
            _clear_neo4j(store)
        return cfg
    return StoreConfig(backend="embedded", path=tmp_path / "graph.lbug")


@pytest.fixture
def store(store_config: StoreConfig):
    with open_store(store_config) as s:
        yield s
