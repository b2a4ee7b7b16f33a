"""Every Cypher statement the embedded (LadybugDB) backend issues, in one place, and what its
errors tell a user who writes Neo4j's dialect (:func:`dialect_hint`).

LadybugDB's dialect differs from Neo4j's in a few places used here: ``label(r)`` instead of
``type(r)``, ``properties(nodes(p), 'id')`` instead of list comprehensions, explicit schema
(``CREATE NODE/REL TABLE``) and ``* SHORTEST`` / ``* ALL SHORTEST`` recursive patterns.
Relationship type names are quoted with :func:`kgfm.store.names.quote_identifier`.
"""

from __future__ import annotations

import re

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
    rel_statements,
)

CREATE_ENTITY_TABLE = (
    "CREATE NODE TABLE IF NOT EXISTS Entity("
    "id STRING PRIMARY KEY, idx INT64, name STRING, description STRING, names STRING, descriptions STRING, "
    "types STRING[], props STRING)"
)
CREATE_RELATION_TABLE = (
    "CREATE NODE TABLE IF NOT EXISTS RelationType(name STRING PRIMARY KEY, idx INT64, predicate STRING)"
)


def create_rel_table(rel_type: str) -> str:
    return f"CREATE REL TABLE IF NOT EXISTS {q(rel_type)}(FROM Entity TO Entity, predicate STRING, graph STRING)"


def copy_from(table: str, variable: str) -> str:
    """COPY from a pandas DataFrame bound to a local Python variable (LadybugDB scans it)."""
    return f"COPY {q(table)} FROM {variable}"


CHECKPOINT = "CHECKPOINT"
ENTITY_COLUMNS = "CALL table_info('Entity') RETURN name"
TABLES = "CALL show_tables() RETURN name"
# shown in the error for a query that uses an RDF class as a label (classes are in e.types here)
TYPE_FILTER_EXAMPLE = "MATCH (e:Entity) WHERE '{name}' IN e.types"
# Neo4j functions LadybugDB lacks, and what to write instead (the error for a query using one says so)
NEO4J_FUNCTIONS = {
    "type": "label(r), or r.predicate (which works on both stores)",
    "tostring": "CAST(x AS STRING)",
    "tointeger": "CAST(x AS INT64) (it rounds a float; Neo4j truncates)",
    "tofloat": "CAST(x AS DOUBLE)",
    "toboolean": "CAST(x AS BOOL)",
    "split": "string_split(s, delimiter)",
    "head": "list[1] (lists are 1-based here)",
    "last": "list[-1]",
    "tail": "list[2:]",
    "isempty": "size(x) = 0",
    "elementid": "id(n)",
    "startnode": "a variable on the start node of the pattern, MATCH (a)-[r]->(b)",
    "endnode": "a variable on the end node of the pattern, MATCH (a)-[r]->(b)",
    "relationships": "rels(p)",
    "rand": "random()",
    "datetime": "current_timestamp() or timestamp('2024-01-01 10:00:00')",
}
# Neo4j syntax LadybugDB does not parse: (pattern in the query, the Neo4j form, what to write instead)
NEO4J_SYNTAX = (
    (r"\b(?:all)?shortestPath\s*\(", "shortestPath(...)", "the pattern (a)-[* SHORTEST 1..5]-(b) (all of them: * ALL SHORTEST)"),
    (r"\bCALL\s+db\.", "CALL db.labels() / db.relationshipTypes()", "CALL show_tables() RETURN *"),
    (r"\bCALL\s*\{", "CALL { ... } subqueries", "WITH and aggregation, or EXISTS { MATCH ... } / COUNT { MATCH ... }"),
    (r"\b(?:EXISTS|COUNT)\s*\{\s*\(", "EXISTS { (n)--() }", "EXISTS { MATCH (n)--() } (COUNT likewise)"),
    (r"\[\s*\w+\s+IN\b[^\]]*(?:\||\bWHERE\b)", "[x IN list | f(x)] and [x IN list WHERE p(x)]",
     "list_transform(list, x -> f(x)) and list_filter(list, x -> p(x))"),
)

_MISSING_FUNCTION = re.compile(r"function (\w+) does not exist")


def one_line(message: str) -> str:
    """LadybugDB's message on one line, without the copy of the query and the caret line under it
    that a parser error adds (its first line already gives the line and offset)."""
    kept = [line.strip() for line in message.splitlines()
            if line.strip() and not re.fullmatch(r'\s*\^+\s*|\s*".*"\s*', line)]
    return " ".join(kept)


def dialect_hint(query: str, error: str) -> str | None:
    """What to write on LadybugDB for the Neo4j function or syntax that failed, if it is one."""
    missing = _MISSING_FUNCTION.search(error)
    if missing is not None and missing.group(1).lower() in NEO4J_FUNCTIONS:
        name = missing.group(1).lower()
        written = re.search(rf"\b({name})\s*\(", query, re.IGNORECASE)
        return f"for {written.group(1) if written else name}() write {NEO4J_FUNCTIONS[name]}"
    for pattern, neo4j, instead in NEO4J_SYNTAX:
        if re.search(pattern, query, re.IGNORECASE):
            return f"for {neo4j} write {instead}"
    return None


BEGIN_READ_ONLY = "BEGIN TRANSACTION READ ONLY"
ROLLBACK = "ROLLBACK"
INSERT_RELATIONS = "UNWIND $rows AS row CREATE (:RelationType {name: row.name, idx: row.idx, predicate: row.predicate})"
# The training-tensor export reads every relationship in one scan, with node offsets that it maps
# to ``idx`` itself: a statement per relationship type re-scans the whole Entity table each time
# (200 types x 1.4M entities at 10M triples), and reading ``a.idx``/``b.idx`` per row costs 1.6x the scan.
ALL_EDGES = "MATCH (a:Entity)-[r]->(b:Entity) RETURN offset(id(a)) AS head, label(r) AS rel, offset(id(b)) AS tail"
ENTITY_OFFSETS = "MATCH (e:Entity) RETURN offset(id(e)) AS offset, e.idx AS idx"

def neighbors(hops: int) -> str:
    """Every entity within ``hops`` (undirected) with its shortest distance."""
    return (
        f"MATCH p = (a:Entity {{id: $id}})-[* SHORTEST 1..{int(hops)}]-(b:Entity) "
        "WHERE b.id <> $id "
        "RETURN b.id AS id, b.name AS name, length(p) AS hops ORDER BY hops, id LIMIT $limit"
    )


def paths(max_hops: int) -> str:
    """All shortest undirected paths between two entities, with relationship directions."""
    return (
        f"MATCH p = (a:Entity {{id: $source}})-[* ALL SHORTEST 1..{int(max_hops)}]-(b:Entity {{id: $target}}) "
        "RETURN properties(nodes(p), 'id') AS ids, properties(nodes(p), 'name') AS names, "
        "list_transform(rels(p), r -> label(r)) AS types, "
        "properties(rels(p), '_src') AS srcs, properties(nodes(p), '_id') AS node_ids, length(p) AS hops, "
        "list_to_string(' ', list_transform(rels(p), r -> label(r))) AS type_key, "
        "list_to_string(' ', properties(nodes(p), 'id')) AS id_key "
        "ORDER BY hops, type_key, id_key LIMIT $limit"
    )
