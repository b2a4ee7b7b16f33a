"""Every Cypher statement the Neo4j backend issues, in one place (Neo4j 5 dialect).

All values are parameters; only label/type names are interpolated, backtick-quoted by
:func:`kgfm.store.names.quote_identifier` after :mod:`kgfm.store.names` sanitised them.
"""

from __future__ import annotations

from kgfm.store.names import quote_identifier as q
from kgfm.store.portable_cypher import (  # noqa: F401  (re-exported: this backend's Cypher)
    COUNT_ENTITIES,
    ENTITY_INDEX,
    ENTITY_VOCAB,
    ENTITY_VOCAB_TEXT,
    GET_ENTITY,
    RELATION_VOCAB,
    UPDATE_ENTITIES,
    count_rel,
    rel_pairs,
)

CONSTRAINTS = (
    "CREATE CONSTRAINT kgfm_entity_id IF NOT EXISTS FOR (e:Entity) REQUIRE e.id IS UNIQUE",
    "CREATE CONSTRAINT kgfm_relation_name IF NOT EXISTS FOR (r:RelationType) REQUIRE r.name IS UNIQUE",
    "CREATE INDEX kgfm_entity_idx IF NOT EXISTS FOR (e:Entity) ON (e.idx)",
    "CREATE INDEX kgfm_entity_name IF NOT EXISTS FOR (e:Entity) ON (e.name)",
)

# MERGE keeps the write idempotent even if another writer got there first; ON CREATE keeps
# the idx of an entity that exists.
MERGE_ENTITIES = (
    "UNWIND $rows AS row MERGE (e:Entity {id: row.id}) "
    "ON CREATE SET e.idx = row.idx, e.name = row.name, e.description = row.description, "
    "e.types = row.types, e.props = row.props"
)


def add_type_labels(label: str) -> str:
    """Entities also carry their types as labels (Neo4j allows several labels per node)."""
    return f"UNWIND $ids AS id MATCH (e:Entity {{id: id}}) SET e:{q(label)}"


def merge_triples(rel_type: str) -> str:
    return (
        "UNWIND $rows AS row MATCH (a:Entity {id: row.h}) MATCH (b:Entity {id: row.t}) "
        f"MERGE (a)-[r:{q(rel_type)}]->(b) ON CREATE SET r.predicate = row.p"
    )


MERGE_RELATIONS = (
    "UNWIND $rows AS row MERGE (r:RelationType {name: row.name}) "
    "ON CREATE SET r.idx = row.idx, r.predicate = row.predicate"
)

def neighbors(hops: int) -> str:
    """Entities within ``hops`` (undirected) with their distance: a breadth-first expansion that visits
    each entity once per hop (DISTINCT frontiers), never enumerating the variable-length paths."""
    steps = "".join(
        "CALL { WITH seen, frontier UNWIND frontier AS f MATCH (f)--(n:Entity) WHERE NOT n IN seen "
        "RETURN collect(DISTINCT n) AS next } "
        f"WITH seen + next AS seen, next AS frontier, found + [x IN next | {{b: x, hops: {h}}}] AS found "
        for h in range(1, int(hops) + 1)
    )
    return (
        "MATCH (a:Entity {id: $id}) WITH [a] AS seen, [a] AS frontier, [] AS found "
        + steps
        + "UNWIND found AS row RETURN row.b.id AS id, row.b.name AS name, row.hops AS hops ORDER BY hops, id LIMIT $limit"
    )


def paths(max_hops: int) -> str:
    return (
        "MATCH (a:Entity {id: $source}), (b:Entity {id: $target}) "
        f"MATCH p = allShortestPaths((a)-[*..{int(max_hops)}]-(b)) "
        "RETURN [n IN nodes(p) | n.id] AS ids, [n IN nodes(p) | n.name] AS names, "
        "[r IN relationships(p) | type(r)] AS types, [r IN relationships(p) | startNode(r).id] AS starts "
        "ORDER BY length(p), types, ids LIMIT $limit"
    )
