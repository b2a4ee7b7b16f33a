"""Read and update Cypher that is valid, unchanged, in both dialects (LadybugDB and Neo4j 5).

Each backend's ``*_cypher.py`` re-exports these, so a backend still reads all of its Cypher
from one module; the conformance suite runs the same statements on both.
"""

from __future__ import annotations

from kgfm.store.names import quote_identifier as q

UPDATE_ENTITIES = (
    "UNWIND $rows AS row MATCH (e:Entity {id: row.id}) "
    "SET e.name = coalesce(row.name, e.name), e.description = coalesce(row.description, e.description), "
    "e.types = CASE WHEN size(row.types) > 0 THEN row.types ELSE e.types END, "
    "e.props = coalesce(row.props, e.props), e.names = coalesce(row.names, e.names), "
    "e.descriptions = coalesce(row.descriptions, e.descriptions)"
)

ENTITY_INDEX = "MATCH (e:Entity) RETURN e.id AS id, e.idx AS idx"
ENTITY_VOCAB = "MATCH (e:Entity) RETURN e.idx AS idx, e.id AS id, e.name AS name ORDER BY e.idx"
ENTITY_VOCAB_TEXT = (
    "MATCH (e:Entity) RETURN e.idx AS idx, e.id AS id, e.name AS name, e.description AS description ORDER BY e.idx"
)
RELATION_VOCAB = "MATCH (r:RelationType) RETURN r.name AS name, r.idx AS idx, r.predicate AS predicate ORDER BY r.idx"
COUNT_ENTITIES = "MATCH (e:Entity) RETURN count(e) AS n"


def count_rel(rel_type: str) -> str:
    return f"MATCH ()-[r:{q(rel_type)}]->() RETURN count(r) AS n"


def rel_pairs(rel_type: str) -> str:
    return f"MATCH (a:Entity)-[:{q(rel_type)}]->(b:Entity) RETURN a.idx AS head, b.idx AS tail"


def rel_keys(rel_type: str) -> str:
    """Head/tail idx and graph name of every relationship of one type (the loader's dedup keys)."""
    return f"MATCH (a:Entity)-[r:{q(rel_type)}]->(b:Entity) RETURN a.idx AS head, b.idx AS tail, r.graph AS graph"


def rel_statements(rel_type: str) -> str:
    """Every relationship of one type as ids, for ``kgfm export``."""
    return (
        f"MATCH (a:Entity)-[r:{q(rel_type)}]->(b:Entity) "
        "RETURN a.id AS head, r.predicate AS predicate, b.id AS tail, r.graph AS graph"
    )


ENTITY_STATEMENTS = (
    "MATCH (e:Entity) WHERE e.props IS NOT NULL OR e.name IS NOT NULL OR e.description IS NOT NULL "
    "RETURN e.id AS id, e.props AS props, e.name AS name, e.description AS description ORDER BY e.idx"
)


GET_ENTITY = (
    "MATCH (e:Entity {id: $id}) RETURN e.id AS id, e.idx AS idx, e.name AS name, "
    "e.description AS description, e.names AS names, e.descriptions AS descriptions, "
    "e.types AS types, e.props AS props"
)
