"""The same behaviour, and the same read Cypher, on every backend."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kgfm.sources import read_source
from kgfm.store.base import StoreError
from kgfm.store.loader import GraphLoader, LoadAborted
from kgfm.store.readonly import ReadOnlyViolation, check_read_only


def load(store, path: Path, **kwargs):
    loader = GraphLoader(store, **kwargs)
    loader.load(read_source(path), str(path), ids_are_names=True)
    return loader.finish()


def test_load_counts_and_vocab(store, tiny_kb):
    report = load(store, tiny_kb)
    assert (report.entities_new, report.relations_new, report.triples_new) == (9, 3, 9)
    counts = store.counts()
    assert (counts.entities, counts.relations, counts.triples) == (9, 3, 9)
    assert counts.per_relation == {"directed_by": 3, "starred_actors": 5, "release_year": 1}
    graph = store.export_tensors()
    assert graph.entity_ids[:3] == ["Kismet", "William Dieterle", "Marlene Dietrich"]
    assert sorted(graph.relation_types) == ["directed_by", "release_year", "starred_actors"]
    triples = {
        (graph.entity_ids[h], graph.relation_types[r], graph.entity_ids[t])
        for h, r, t in zip(graph.head_index, graph.rel_type, graph.tail_index)
    }
    assert ("Morocco", "starred_actors", "Gary Cooper") in triples and len(triples) == 9
    assert store.get_entity("Kismet")["name"] == "Kismet"
    assert store.get_entity("nope") is None


def test_rerun_is_idempotent(store, tiny_kb):
    load(store, tiny_kb)
    before = store.export_tensors()
    again = load(store, tiny_kb)
    assert (again.entities_new, again.triples_new, again.triples_existing) == (0, 0, 9)
    after = store.export_tensors()
    assert after.entity_ids == before.entity_ids
    assert sorted(zip(after.head_index, after.rel_type, after.tail_index)) == sorted(
        zip(before.head_index, before.rel_type, before.tail_index)
    )


def test_vocabulary_stable_when_graph_grows(store, tiny_kb, tmp_path):
    load(store, tiny_kb)
    first = store.export_tensors()
    more = tmp_path / "more.txt"
    more.write_text("Casablanca|directed_by|Michael Curtiz\nKismet|written_by|Edward Knoblock\n", encoding="utf-8")
    load(store, more)
    grown = store.export_tensors()
    assert grown.entity_ids[: first.num_entities] == first.entity_ids
    assert grown.relation_types[: first.num_relations] == first.relation_types
    assert grown.num_entities == first.num_entities + 3 and grown.num_triples == 11


def test_export_order_is_canonical(store, tmp_path):
    """Triples come out sorted by (relation idx, head idx, tail idx), whatever order they were
    written in and however the backend scans them; a triple kept in two named graphs is two rows."""
    kb = tmp_path / "kb.nq"
    kb.write_text(
        "<http://x/c> <http://x/p> <http://x/a> .\n"   # entities c=0 a=1 b=2; relations p=0 q=1
        "<http://x/b> <http://x/q> <http://x/a> .\n"
        "<http://x/a> <http://x/p> <http://x/b> .\n"
        "<http://x/c> <http://x/q> <http://x/b> <http://x/g> .\n"
        "<http://x/c> <http://x/q> <http://x/b> .\n"
        "<http://x/a> <http://x/p> <http://x/a> .\n",
        encoding="utf-8",
    )
    loader = GraphLoader(store)
    loader.load(read_source(kb), str(kb))
    loader.finish()
    g = store.export_tensors()
    assert g.entity_ids == ["http://x/c", "http://x/a", "http://x/b"]
    assert [g.relation_predicates[i] for i in range(2)] == ["http://x/p", "http://x/q"]
    rows = list(zip(g.rel_type.tolist(), g.head_index.tolist(), g.tail_index.tolist()))
    assert rows == [(0, 0, 1), (0, 1, 1), (0, 1, 2), (1, 0, 2), (1, 0, 2), (1, 2, 1)]
    assert g.head_index.dtype == g.rel_type.dtype == g.tail_index.dtype == np.int64


def test_interrupted_load_then_rerun_is_exact(store, tiny_kb):
    records = list(read_source(tiny_kb))

    def interrupted():
        for i, record in enumerate(records):
            if i == 5:
                raise KeyboardInterrupt
            yield record

    loader = GraphLoader(store, batch_size=2, group_rows=1)
    with pytest.raises(KeyboardInterrupt):
        loader.load(interrupted(), "kb")
    partial = store.counts().triples
    assert 0 < partial < 9
    load(store, tiny_kb)
    counts = store.counts()
    assert (counts.entities, counts.triples) == (9, 9)


def test_fail_mode_writes_nothing_of_the_bad_batch(store, tmp_path):
    path = tmp_path / "bad.tsv"
    path.write_text("a\tr\tb\nc\tr\n", encoding="utf-8")
    with pytest.raises(LoadAborted) as info:
        load(store, path)
    assert f"{path}:2" in str(info.value)
    assert store.counts().triples == 0


def test_skip_mode_writes_good_rows_and_lists_rejects(store, tmp_path):
    path = tmp_path / "bad.tsv"
    path.write_text("a\tr\tb\nc\tr\n\nd\tr\t\ne\tr\tf\n", encoding="utf-8")
    rejects = tmp_path / "rejects.tsv"
    report = load(store, path, on_error="skip", rejects_path=rejects)
    assert (report.triples_new, report.rejected) == (2, 2)
    lines = rejects.read_text(encoding="utf-8").splitlines()
    assert [line.split("\t")[1] for line in lines] == ["2", "4"]
    assert store.counts().triples == 2


def test_neighbors_and_paths(store, tiny_kb):
    load(store, tiny_kb)
    one = store.neighbors("Kismet", hops=1)
    assert {n.id for n in one} == {"William Dieterle", "Marlene Dietrich", "Ronald Colman", "1944"}
    assert all(n.hops == 1 for n in one)
    two = {n.id: n.hops for n in store.neighbors("Kismet", hops=2)}
    assert two["The Blue Angel"] == 2 and two["Morocco"] == 2 and "Kismet" not in two
    assert store.neighbors("Kismet", hops=2, limit=2) == sorted(store.neighbors("Kismet", hops=2, limit=2), key=lambda n: (n.hops, n.id))
    paths = store.paths("Kismet", "Gary Cooper", max_hops=3)
    assert len(paths) == 1
    path = paths[0]
    assert path.nodes == ("Kismet", "Marlene Dietrich", "Morocco", "Gary Cooper")
    assert path.rels == ("starred_actors",) * 3
    assert path.directions == (1, -1, 1)
    assert store.paths("Kismet", "Gary Cooper", max_hops=2) == []


# The read Cypher users write: it must run unchanged on both backends and return these rows.
SHARED_QUERIES = [
    (
        "MATCH (m:Entity {id: $id})-[r]->(x:Entity) RETURN x.id AS id, r.predicate AS predicate ORDER BY id",
        {"id": "Kismet"},
        [
            {"id": "1944", "predicate": "release_year"},
            {"id": "Marlene Dietrich", "predicate": "starred_actors"},
            {"id": "Ronald Colman", "predicate": "starred_actors"},
            {"id": "William Dieterle", "predicate": "directed_by"},
        ],
    ),
    (
        "MATCH (m:Entity)-[:starred_actors]->(a:Entity {name: $name}) RETURN m.name AS movie ORDER BY movie",
        {"name": "Marlene Dietrich"},
        [{"movie": "Kismet"}, {"movie": "Morocco"}, {"movie": "The Blue Angel"}],
    ),
    (
        "MATCH (a:Entity {id: $id})<-[:starred_actors]-(m:Entity)-[:starred_actors]->(b:Entity) "
        "WHERE a <> b RETURN DISTINCT b.id AS costar ORDER BY costar",
        {"id": "Gary Cooper"},
        [{"costar": "Marlene Dietrich"}],
    ),
    (
        "MATCH (m:Entity)-[r:directed_by]->(d:Entity) RETURN d.name AS director, count(m) AS films "
        "ORDER BY films DESC, director LIMIT 2",
        {},
        [{"director": "Josef von Sternberg", "films": 2}, {"director": "William Dieterle", "films": 1}],
    ),
    ("MATCH (e:Entity) WHERE e.name STARTS WITH $p RETURN count(e) AS n", {"p": "M"}, [{"n": 2}]),
    (  # no aliases: the columns are named by the expressions as written, on both stores
        "MATCH (m:Entity)-[r:directed_by]->(d:Entity) RETURN d.name, toLower(d.name), count(*) "
        "ORDER BY count(*) DESC, d.name LIMIT 1",
        {},
        [{"d.name": "Josef von Sternberg", "toLower(d.name)": "josef von sternberg", "count(*)": 2}],
    ),
]


@pytest.mark.parametrize("query,params,expected", SHARED_QUERIES)
def test_shared_read_cypher(store, tiny_kb, query, params, expected):
    load(store, tiny_kb)
    assert store.cypher(query, params) == expected


ARCADEDB_ACCESS_MODE = (
    "ArcadeDB ignores Bolt's READ access mode and runs writes in a read session; real Neo4j 5 refuses them "
    "(Neo.ClientError.Statement.AccessMode). kgfm's own guard (kgfm.store.readonly) still refuses them."
)


def test_database_refuses_writes_in_a_read_session(store, tiny_kb, request):
    """The backend's own read-only mode (LadybugDB READ ONLY transaction, Neo4j READ access mode)."""
    if "arcadedb" in getattr(store, "server_agent", "").lower():
        request.applymarker(pytest.mark.xfail(reason=ARCADEDB_ACCESS_MODE, strict=True))
    load(store, tiny_kb)
    with pytest.raises(StoreError):
        store.cypher("CREATE (e:Entity {id: 'intruder', idx: 99})")
    assert store.get_entity("intruder") is None
    store.cypher("MATCH (e:Entity {id: $id}) SET e.description = $d", {"id": "Kismet", "d": "1944 film"}, write=True)
    assert store.get_entity("Kismet")["description"] == "1944 film"


@pytest.mark.parametrize(
    "statement",
    ["CREATE (e:Entity {id: 'intruder', idx: 99})", "MATCH (e:Entity) SET e.name = 'x'", "MATCH (e) DETACH DELETE e",
     "MERGE (e:Entity {id: 'intruder'})", "MATCH (e:Entity) WITH e LIMIT 1 CALL { CREATE (x:Entity {id: 'y'}) } RETURN e"],
)
def test_read_only_guard_refuses_before_any_backend(store, tiny_kb, statement):
    """What ``kgfm cypher`` (and a server) run first without --write: the allow-list, on both backends."""
    load(store, tiny_kb)
    before = store.counts()
    with pytest.raises(ReadOnlyViolation, match="--write"):
        check_read_only(statement)
        store.cypher(statement)  # never reached
    assert store.counts() == before and store.get_entity("intruder") is None
    assert store.get_entity("Kismet")["name"] == "Kismet"


def test_rdf_attributes_reach_the_store(store, graphs_dir):
    path = graphs_dir / "movies.ttl"
    loader = GraphLoader(store)
    loader.load(read_source(path), str(path))
    loader.finish()
    graph = store.export_tensors(with_text=True)
    named = [n for n in graph.entity_names if n]
    assert len(named) > 10
    typed = store.cypher("MATCH (e:Entity) WHERE size(e.types) > 0 RETURN count(e) AS n")[0]["n"]
    assert typed > 10
    assert np.all(graph.head_index < graph.num_entities)


def test_rdf_export_statements_on_every_backend(store, graphs_dir, tiny_kb):
    """What ``kgfm export`` reads: an RDF entity's literals carry its name (no extra statement), a pipe
    KB's entity has only its id-as-name."""
    path = graphs_dir / "movies.ttl"
    loader = GraphLoader(store)
    loader.load(read_source(path), str(path))
    loader.load(read_source(tiny_kb), str(tiny_kb), ids_are_names=True)
    loader.finish()
    rows = {e.id: e for batch in store.iter_entity_statements(batch=7) for e in batch}
    kismet = rows["Kismet"]
    assert (kismet.props, kismet.name, kismet.description) == ({}, "Kismet", None)
    rdf = [e for e in rows.values() if e.props]
    assert len(rdf) > 10
    for e in rdf:
        stated = {v["@value"] for values in e.props.values() for v in values if "@value" in v}
        assert e.name is None or e.name in stated, e


def test_merge_mode_writes_the_same_graph(store_config, tiny_kb):
    """``store.neo4j_merge`` (MERGE instead of CREATE, for concurrent loaders) ends in the same graph."""
    from kgfm.store.factory import open_store

    with open_store(store_config.model_copy(update={"neo4j_merge": True})) as store:
        report = load(store, tiny_kb)
        again = load(store, tiny_kb)
        counts = store.counts()
    assert (report.triples_new, again.triples_new, again.triples_existing) == (9, 0, 9)
    assert (counts.entities, counts.triples) == (9, 9)


def _build(store_config, tmp_path: Path, text: str, **kwargs):
    from kgfm.store.build import BuildGraphConfig, run_build

    source = tmp_path / "kb.txt"
    source.write_text(text, encoding="utf-8")
    config = BuildGraphConfig(store=store_config, sources=[{"path": source}], out_dir=tmp_path / "out", **kwargs)
    return run_build(config, show_progress=False)


def test_replace_leaves_exactly_the_new_sources_and_a_rerun_says_what_it_kept(store_config, tmp_path):
    """A user edits their KG file (one triple removed, one added) and builds again: adding keeps the
    removed triple and says so; ``replace`` stores exactly the edited file."""
    from kgfm.store.factory import open_store

    old = "Kismet|directed_by|William Dieterle\nKismet|release_year|1944\nMorocco|directed_by|Josef von Sternberg\n"
    new = "Kismet|directed_by|William Dieterle\nMorocco|directed_by|Josef von Sternberg\nMorocco|release_year|1930\n"
    assert _build(store_config, tmp_path, old).triples_total == 3
    added = _build(store_config, tmp_path, new)
    assert (added.triples_new, added.triples_existing, added.triples_total) == (1, 2, 4)
    assert added.warnings == [
        "the store also holds at least 1 triple that these sources do not state (from earlier builds or an earlier "
        "version of a file; build-graph adds, it never removes); --replace rebuilds the store from these sources only"]
    replaced = _build(store_config, tmp_path, new, replace=True)
    assert (replaced.triples_new, replaced.triples_existing, replaced.warnings) == (3, 0, [])
    with open_store(store_config, read_only=True) as store:
        rows = store.cypher("MATCH (a:Entity)-[r]->(b:Entity) RETURN a.id AS h, r.predicate AS p, b.id AS t ORDER BY h, p")
        counts = store.counts()
    assert [(r["h"], r["p"], r["t"]) for r in rows] == [
        ("Kismet", "directed_by", "William Dieterle"), ("Morocco", "directed_by", "Josef von Sternberg"),
        ("Morocco", "release_year", "1930")]
    assert (counts.entities, counts.relations, counts.triples) == (5, 2, 3)  # "1944" is gone with its triple
    if store_config.backend == "embedded":
        assert sorted(p.name for p in store_config.path.parent.iterdir()) == ["graph.lbug", "kb.txt", "out"]


FILMS = """@prefix ex: <http://example.org/> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
ex:heat a ex:Film ; rdfs:label "Heat"@en ; ex:releaseYear "1995"^^xsd:gYear ; ex:directedBy ex:mann ; ex:genre "crime" .
ex:collateral a ex:Film ; rdfs:label "Collateral" ; ex:releaseYear "2004"^^xsd:gYear ; ex:directedBy ex:mann ;
    ex:genre "crime" ; ex:runtime 120 .
ex:mann rdfs:label "Michael Mann" ; ex:nickname "The \\"Mann\\""@en .
"""


def test_value_entities_are_queryable_and_export_as_the_literals_they_were(store_config, tmp_path):
    """Literals made value entities: one entity per distinct value (both films share "crime"), found by
    Cypher like any entity, and ``kgfm export`` writes the source graph back exactly."""
    import pyoxigraph as ox

    from kgfm.store.build import BuildGraphConfig, run_build
    from kgfm.store.export import export_rdf
    from kgfm.store.factory import open_store

    source = tmp_path / "films.ttl"
    source.write_text(FILMS, encoding="utf-8")
    config = BuildGraphConfig(store=store_config, sources=[{"path": source, "value_entities": ["all"]}],
                              out_dir=tmp_path / "out")
    report = run_build(config, show_progress=False)
    assert (report.triples_new, report.entities_total, report.warnings) == (8, 8, [])
    with open_store(store_config, read_only=True) as store:
        rows = store.cypher("MATCH (f:Entity)-[r]->(v:Entity {name: $v}) RETURN f.name AS film, v.id AS id ORDER BY film",
                            {"v": "crime"})
        assert rows == [{"film": "Collateral", "id": '"crime"'}, {"film": "Heat", "id": '"crime"'}]
        export_rdf(store, tmp_path / "back.nt", fmt="nt")
    original = set(ox.parse(path=str(source), format=ox.RdfFormat.TURTLE, base_iri="http://example.org/"))
    assert set(ox.parse(path=str(tmp_path / "back.nt"), format=ox.RdfFormat.N_TRIPLES)) == original
