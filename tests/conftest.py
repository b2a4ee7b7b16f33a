"""Shared fixtures: where the public benchmark data lives, and offline model settings."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = (REPO / ".." / "shared" / "data").resolve()
GRAPHS = REPO / "graphs"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` beside the checkout; tests needing it skip with the reason if absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"benchmark data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def graphs_dir() -> Path:
    return GRAPHS


@pytest.fixture
def neo4j_env() -> dict[str, str]:
    """The environment naming a disposable Bolt server (``KGFM_NEO4J_URI``, user, password): CI's
    ArcadeDB (``scripts/bolt_server.sh``) or Neo4j 5 (docker/compose.yaml). Skips without one;
    fails instead under ``KGFM_REQUIRE_NEO4J=1`` (CI's Bolt step)."""
    if not os.environ.get("KGFM_NEO4J_URI"):
        if os.environ.get("KGFM_REQUIRE_NEO4J") == "1":
            pytest.fail("KGFM_REQUIRE_NEO4J=1 but KGFM_NEO4J_URI is not set", pytrace=False)
        pytest.skip("KGFM_NEO4J_URI not set: Neo4j tests need a disposable Bolt server "
                    "(scripts/bolt_server.sh start, or Neo4j 5 from docker/compose.yaml)")
    return dict(os.environ)
