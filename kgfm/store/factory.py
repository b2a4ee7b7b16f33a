"""Opening the store a config names."""

from __future__ import annotations

from kgfm.config import StoreConfig
from kgfm.store.base import GraphStore


def open_store(config: StoreConfig, read_only: bool = False, bulk: bool = False) -> GraphStore:
    """The configured backend.

    Args:
        config: Store section of a config.
        read_only: Embedded: open read-only (LadybugDB refuses writes). Neo4j: ignored here;
            :meth:`GraphStore.cypher` runs user queries in READ transactions unless ``write``.
        bulk: Embedded: bulk-load mode (checkpoint once at the end instead of per write).
    """
    if config.backend == "neo4j":
        from kgfm.store.neo4j import Neo4jStore

        uri, user, password, database = config.resolved_neo4j()
        return Neo4jStore(uri, user, password, database, batch_size=config.batch_size, merge=config.neo4j_merge)
    from kgfm.store.embedded import EmbeddedStore

    return EmbeddedStore(config.path, read_only=read_only, buffer_pool_mb=config.buffer_pool_mb, bulk=bulk)
