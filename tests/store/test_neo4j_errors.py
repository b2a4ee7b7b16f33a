"""Neo4j failures that need no server: clear messages, credentials only from the environment."""

import socket

import pytest

from kgfm.config import ConfigError, StoreConfig
from kgfm.store.base import StoreError
from kgfm.store.factory import open_store


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_server_is_a_clear_error(monkeypatch):
    pytest.importorskip("neo4j")
    monkeypatch.setenv("KGFM_NEO4J_PASSWORD", "secret")
    cfg = StoreConfig(backend="neo4j", neo4j_uri=f"bolt://127.0.0.1:{_free_port()}")
    with pytest.raises(StoreError, match="unreachable"):
        open_store(cfg)


def test_password_only_from_environment(monkeypatch):
    monkeypatch.delenv("KGFM_NEO4J_PASSWORD", raising=False)
    cfg = StoreConfig(backend="neo4j", neo4j_uri="bolt://127.0.0.1:7687")
    with pytest.raises(ConfigError, match="KGFM_NEO4J_PASSWORD"):
        open_store(cfg)
    with pytest.raises(Exception):
        StoreConfig(backend="neo4j", neo4j_password="x")  # no such field: extra="forbid"
