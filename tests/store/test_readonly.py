"""The read-only allow-list on its own: which statements pass, which are refused, and why."""

from __future__ import annotations

import pytest

from kgfm.store.readonly import (
    CypherSyntaxError,
    ReadOnlyViolation,
    check_read_only,
    query_parameters,
    return_columns,
    tokenize,
)

READS = [
    "MATCH (n) RETURN n",
    "match (n:Entity {id: $id})-[r]->(m) return m.id as id order by id desc skip 1 limit 5",
    "OPTIONAL MATCH (n)-[:starred_actors]->(m) WITH n, count(m) AS c WHERE c > 1 RETURN n.name, c",
    "UNWIND $ids AS id MATCH (e:Entity {id: id}) RETURN e",
    "MATCH (n) RETURN n.name AS name UNION ALL MATCH (m) RETURN m.id AS name",
    "MATCH (n) RETURN n UNION MATCH (n) RETURN n",
    "MATCH (n) WHERE n.name STARTS WITH 'M' AND NOT n.id ENDS WITH 'x' RETURN n",
    "MATCH (n) WHERE n.name IS NOT NULL RETURN CASE WHEN n.idx > 1 THEN 'a' ELSE 'b' END AS k",
    "MATCH (n) WHERE EXISTS { MATCH (n)-->(m) WHERE m.id = 'x' } RETURN n",
    "MATCH (n) RETURN COUNT { (n)-->() } AS degree",
    "MATCH (n) CALL { WITH n MATCH (n)-->(m) RETURN count(m) AS c } RETURN n, c",
    "CALL db.labels() YIELD label RETURN label",
    "CALL show_tables() RETURN name",
    "CALL table_info('Entity') RETURN *",
    "EXPLAIN MATCH (n) RETURN n",
    "PROFILE MATCH (n) RETURN count(*)",
    "RETURN 1",
    "RETURN 'CREATE (n) DELETE n; CHECKPOINT' AS s",
    "MATCH (n) RETURN n.set AS `create`, n.delete",
    "MATCH (n:`DROP`) RETURN n // CREATE (m)\n",
    "MATCH (n) /* SET n.x = 1 */ RETURN n",
    "MATCH (n) RETURN {merge: 1, set: [x IN range(1, 3) WHERE x > 1 | x * 2]} AS m",
    "MATCH p = (a:Entity {id: $s})-[* SHORTEST 1..3]-(b:Entity {id: $t}) RETURN length(p)",
    "MATCH (a)-[r:directed_by*1..2]->(b) RETURN a, b",
    "MATCH (m:Entity)-[r:directed_by]->(d:Entity) RETURN d.name AS director, count(m) AS films ORDER BY films DESC, director LIMIT 2",
    "RETURN 1;",
    "MATCH (n) RETURN n LIMIT 1; MATCH (m) RETURN m",
]

REFUSED = [
    ("CREATE (e:Entity {id: 'x'})", "CREATE"),
    ("MATCH (n) SET n.x = 1", "SET"),
    ("MATCH (n) DETACH DELETE n", "DETACH"),
    ("MATCH (n) DELETE n", "DELETE"),
    ("MATCH (n) REMOVE n:Entity", "REMOVE"),
    ("MERGE (n:Entity {id: 'x'})", "MERGE"),
    ("DROP TABLE Entity", "DROP"),
    ("ALTER TABLE Entity ADD x INT64", "ALTER"),
    ("CHECKPOINT", "CHECKPOINT"),
    ("checkpoint;", "CHECKPOINT"),
    ("COPY (MATCH (n:Entity) RETURN n.id LIMIT 2) TO '/tmp/x.csv'", "COPY"),
    ("COPY Entity FROM 'x.csv'", "COPY"),
    ("EXPORT DATABASE '/tmp/dir'", "EXPORT"),
    ("IMPORT DATABASE '/tmp/dir'", "IMPORT"),
    ("INSTALL json", "INSTALL"),
    ("LOAD EXTENSION json", "LOAD"),
    ("LOAD json", "LOAD"),
    ("LOAD FROM 'x.csv' RETURN *", "LOAD"),
    ("ATTACH 'other.lbug' AS other (dbtype lbug)", "ATTACH"),
    ("DETACH other", "DETACH"),
    ("USE other MATCH (n) RETURN n", "USE"),
    ("BEGIN TRANSACTION", "BEGIN"),
    ("CALL threads=4", "threads"),
    ("CALL apoc.create.node(['X'], {})", "apoc.create.node"),
    ("CALL db.createLabel('X')", "db.createLabel"),
    ("MATCH (n) CALL { CREATE (m) } RETURN n", "CREATE"),
    ("MATCH (n) WHERE EXISTS { MATCH (n) SET n.x = 1 } RETURN n", "SET"),
    ("MATCH (n) FOREACH (x IN [1] | CREATE (m))", "FOREACH"),
    ("MATCH (n) RETURN n; CREATE (m)", "CREATE"),
    ("MATCH (n) RETURN n UNION CREATE (m) RETURN m", "CREATE"),
    ("MATCH (n) FROBNICATE n", "FROBNICATE"),
    ("FROBNICATE", "FROBNICATE"),
    ("RETURN nextval('seq')", "nextval"),
    ("SHOW DATABASES", "SHOW"),
    ("OPTIONAL CREATE (n)", "CREATE"),
    ("(n)", "'('"),
    ("", "empty"),
    ("   // only a comment", "empty"),
]


@pytest.mark.parametrize("query", READS)
def test_reads_pass(query):
    check_read_only(query)


@pytest.mark.parametrize("query,named", REFUSED)
def test_writes_and_state_changes_are_refused(query, named):
    with pytest.raises(ReadOnlyViolation) as info:
        check_read_only(query)
    message = str(info.value)
    assert named in message and "--write" in message and "\n" not in message


@pytest.mark.parametrize("query", ["RETURN 'open", "MATCH (n) /* never closed", "RETURN `x"])
def test_unterminated_tokens_are_syntax_errors(query):
    with pytest.raises(CypherSyntaxError, match="unterminated"):
        check_read_only(query)


def test_tokenizer_keeps_strings_comments_and_names_apart():
    kinds = [(t.kind, t.text) for t in tokenize("MATCH (n {a: 'x // y'}) // c\nRETURN `we``ird`, $p, $`q r`, 0x1F")]
    assert ("string", "'x // y'") in kinds and ("name", "we`ird") in kinds
    assert ("param", "p") in kinds and ("param", "q r") in kinds and ("number", "0x1F") in kinds
    assert "c" not in [text for _, text in kinds]


def test_query_parameters_in_order_without_strings_or_comments():
    assert query_parameters("MATCH (n {id: $id}) WHERE n.x = '$no' /* $nor */ RETURN $limit, $id") == ["id", "limit"]


@pytest.mark.parametrize("query, columns", [
    ("MATCH (a)-[r]->(b) RETURN type(r), count(*) ORDER BY count(*) DESC", ["type(r)", "count(*)"]),
    ("MATCH (n) RETURN DISTINCT n.name AS name, toLower( n.name ) LIMIT 3", ["name", "toLower( n.name )"]),
    ('RETURN n.`odd name`, "a, b", [x IN l | x] AS `my col`, $p // note', ["n.`odd name`", '"a, b"', "my col", "$p"]),
    ("MATCH (n) WHERE EXISTS { MATCH (n)--() RETURN 1 } WITH n RETURN n.order, n.limit SKIP 1", ["n.order", "n.limit"]),
    ("MATCH (n) RETURN n.a /* x */ ;", ["n.a"]),
    ("MATCH (n) RETURN *", None), ("CALL db.labels()", None), ("EXPLAIN MATCH (n) RETURN n", None), ("RETURN 'open", None),
])
def test_return_columns_are_named_as_neo4j_names_them(query, columns):
    assert return_columns(query) == columns
