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
    ENTITY_STATEMENTS,
    GET_ENTITY,
    RELATION_VOCAB,
    UPDATE_ENTITIES,
    count_rel,
    rel_keys,
    rel_pairs,
    rel_statements,
)

CONSTRAINTS = (
    "CREATE CONSTRAINT kgfm_entity_id IF NOT EXISTS FOR (e:Entity) REQUIRE e.id IS UNIQUE",
    "CREATE CONSTRAINT kgfm_relation_name IF NOT EXISTS FOR (r:RelationType) REQUIRE r.name IS UNIQUE",
    "CREATE INDEX kgfm_entity_idx IF NOT EXISTS FOR (e:Entity) ON (e.idx)",
    "CREATE INDEX kgfm_entity_name IF NOT EXISTS FOR (e:Entity) ON (e.name)",
)

# The loader only hands over rows it knows are new (checked against what the store held at the
# start plus what this run wrote), so the bulk path is CREATE: measured 1.3-1.8x faster than MERGE
# on ArcadeDB over Bolt (bench/bench_bolt.py). The Entity.id uniqueness constraint still refuses
# a duplicate entity. The MERGE forms stay for ``Neo4jStore(merge=True)``: several loaders
# writing into one database at once.
CREATE_ENTITIES = (
    "UNWIND $rows AS row CREATE (e:Entity {id: row.id, idx: row.idx, name: row.name, "
    "description: row.description, names: row.names, descriptions: row.descriptions, "
    "types: row.types, props: row.props})"
)
MERGE_ENTITIES = (
    "UNWIND $rows AS row MERGE (e:Entity {id: row.id}) "
    "ON CREATE SET e.idx = row.idx, e.name = row.name, e.description = row.description, "
    "e.types = row.types, e.props = row.props, e.names = row.names, e.descriptions = row.descriptions"
)


def add_type_labels(label: str) -> str:
    """Entities also carry their types as labels (Neo4j allows several labels per node)."""
    return f"UNWIND $ids AS id MATCH (e:Entity {{id: id}}) SET e:{q(label)}"


def create_triples(rel_type: str) -> str:
    """``$rows``: ``[head_id, tail_id, graph]`` rows; ``$p``: their (shared) predicate."""
    return (
        "UNWIND $rows AS row MATCH (a:Entity {id: row[0]}) MATCH (b:Entity {id: row[1]}) "
        f"CREATE (a)-[:{q(rel_type)} {{predicate: $p, graph: row[2]}}]->(b)"
    )


def merge_triples(rel_type: str) -> str:
    """As :func:`create_triples`, idempotent against concurrent writers."""
    return (
        "UNWIND $rows AS row MATCH (a:Entity {id: row[0]}) MATCH (b:Entity {id: row[1]}) "
        f"MERGE (a)-[r:{q(rel_type)} {{graph: row[2]}}]->(b) ON CREATE SET r.predicate = $p"
    )


# ``build-graph --replace``: kgfm's nodes and their relationships, a batch per transaction (one
# transaction for millions of deletions would hold them all in the server's memory)
DELETE_BATCH = (
    "MATCH (n) WHERE n:Entity OR n:RelationType WITH n LIMIT $limit DETACH DELETE n RETURN count(*) AS deleted"
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
