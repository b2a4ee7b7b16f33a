"""RDF readers: every syntax, the term mapping, blank-node ids and syntax-error rejects."""

from __future__ import annotations

import gzip
import hashlib
import os
import subprocess
import sys
from pathlib import Path

from kgfm.sources import read_source
from kgfm.sources.rdf import read_rdf
from kgfm.sources.records import EntityInfo, Reject, Triple

REPO = Path(__file__).resolve().parents[2]
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
EX = "http://example.org/"

TURTLE = """@prefix ex: <http://example.org/> .
@prefix schema: <http://schema.org/> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix imdb: <http://imdb.example/vocab#> .

ex:heat a schema:Movie, ex:CrimeFilm ;
    rdfs:label "Heat"@fr, "Heat (1995)", "Heat"@en ;
    rdfs:comment "A crime film."@en ;
    schema:datePublished "1995-12-15"^^<http://www.w3.org/2001/XMLSchema#date> ;
    imdb:rating "8.3" ;
    ex:genre "crime", "thriller" ;
    schema:director ex:mann ;
    ex:award [ rdfs:label "Best Score" ; ex:year "1996" ] .

ex:mann schema:name "Michael Mann" ; ex:bornIn ex:chicago .
"""


def _by_type(records):
    triples = [r for r in records if isinstance(r, Triple)]
    infos = {r.id: r for r in records if isinstance(r, EntityInfo)}
    rejects = [r for r in records if isinstance(r, Reject)]
    return triples, infos, rejects


def _bnode(basename: str, label: str) -> str:
    return "_:b" + hashlib.sha1(f"{basename}\x00{label}".encode()).hexdigest()[:16]


def test_turtle_mapping(tmp_path: Path) -> None:
    path = tmp_path / "movies.ttl"
    path.write_text(TURTLE)
    triples, infos, rejects = _by_type(list(read_source(path)))
    assert rejects == []
    award = _bnode("movies.ttl", "#0")
    assert [(t.head, t.relation, t.tail) for t in triples] == [
        (EX + "heat", "http://schema.org/director", EX + "mann"),
        (EX + "heat", EX + "award", award),
        (EX + "mann", EX + "bornIn", EX + "chicago"),
    ]
    heat = infos[EX + "heat"]
    assert heat.name == "Heat"  # English beats untagged and French
    assert heat.description == "A crime film."
    assert heat.types == ("Movie", "CrimeFilm")
    assert heat.props == {"schema:datePublished": "1995-12-15", "rating": "8.3", "genre": "crime; thriller"}
    assert infos[award] == EntityInfo(award, name="Best Score", props={"year": "1996"})
    assert infos[award].props == {"year": "1996"}
    assert infos[EX + "mann"].name == "Michael Mann"
    assert set(infos) == {EX + "heat", award, EX + "mann"}


def test_turtle_blank_node_ids_stable_across_processes(tmp_path: Path) -> None:
    path = tmp_path / "movies.ttl"
    path.write_text(TURTLE + "ex:x ex:y [ ex:z [ ex:w ex:v ] ] .\n")
    script = (
        "import sys; from kgfm.sources import read_source\n"
        "print(sorted(r.tail for r in read_source(sys.argv[1]) if type(r).__name__ == 'Triple'))"
    )
    outputs = set()
    for seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=seed, PYTHONPATH=str(REPO))
        result = subprocess.run([sys.executable, "-c", script, str(path)], env=env, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        outputs.add(result.stdout)
    assert len(outputs) == 1
    assert outputs.pop().count("_:b") == 3


def test_turtle_syntax_error_reject_has_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.ttl"
    lines = TURTLE.splitlines()
    lines.insert(14, "ex:broken ex:p ;")  # becomes line 15
    path.write_text("\n".join(lines) + "\n")
    records = list(read_source(path))
    assert len(records) == 1 and isinstance(records[0], Reject)
    assert records[0].line == 15
    assert records[0].reason.startswith("turtle syntax error:")
    assert records[0].text == "ex:broken ex:p ;"


NT = """# comment
<http://example.org/a> <http://example.org/knows> <http://example.org/b> .
_:n1 <http://www.w3.org/2000/01/rdf-schema#label> "Node eins"@de .
_:n1 <http://www.w3.org/2000/01/rdf-schema#label> "Node one"@en .
_:n1 <http://www.w3.org/2000/01/rdf-schema#label> "Node one, again"@en .
<http://example.org/a> <http://example.org/knows> _:n1 .
<http://example.org/a> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <http://schema.org/Person> .
<http://example.org/a> <http://schema.org/birthDate> "1970-01-01"^^<http://www.w3.org/2001/XMLSchema#date> .
<http://example.org/a> <http://example.org/knows> "unterminated .
<http://example.org/a> <http://example.org/knows> <http://example.org/c>
<http://example.org/a> <http://example.org/knows> <http://example.org/d> . extra

<http://example.org/c> <http://example.org/knows> <http://example.org/a> .
"""


def test_ntriples_line_by_line(tmp_path: Path) -> None:
    path = tmp_path / "g.nt.gz"
    path.write_bytes(gzip.compress(NT.encode()))
    records = list(read_source(path))
    n1 = _bnode("g.nt.gz", "n1")
    # triples and rejects stream in line order ...
    assert records[:5] == [
        Triple(EX + "a", EX + "knows", EX + "b", str(path), 2),
        Triple(EX + "a", EX + "knows", n1, str(path), 6),
        Reject(str(path), 9, "N-Triples syntax error: bad object (expected <IRI>, _:label or a literal)",
               '<http://example.org/a> <http://example.org/knows> "unterminated .'),
        Reject(str(path), 10, "N-Triples syntax error: bad statement end (expected ' .')",
               "<http://example.org/a> <http://example.org/knows> <http://example.org/c>"),
        Reject(str(path), 11, "N-Triples syntax error: trailing text after the final '.'",
               "<http://example.org/a> <http://example.org/knows> <http://example.org/d> . extra"),
    ]
    assert records[5] == Triple(EX + "c", EX + "knows", EX + "a", str(path), 13)
    # ... then one merged EntityInfo per subject: the first English label beats German
    assert records[6:] == [
        EntityInfo(n1, name="Node one"),
        EntityInfo(EX + "a", types=("Person",), props={"schema:birthDate": "1970-01-01"}),
    ]
    assert records[7].props == {"schema:birthDate": "1970-01-01"}


def test_ntriples_bad_utf8_line(tmp_path: Path) -> None:
    path = tmp_path / "g.nt"
    path.write_bytes(b'<http://e/a> <http://e/p> "caf\xe9" .\n<http://e/a> <http://e/r> <http://e/b> .\n')
    records = list(read_rdf(path, "nt"))
    assert isinstance(records[0], Reject) and (records[0].line, records[0].reason) == (1, "invalid UTF-8 bytes")
    assert records[1] == Triple("http://e/a", "http://e/r", "http://e/b", str(path), 2)


def test_nquads_graph_names_dropped(tmp_path: Path) -> None:
    path = tmp_path / "g.nq"
    path.write_text(
        "<http://e/a> <http://e/r> <http://e/b> <http://e/g1> .\n"
        "<http://e/a> <http://e/r> <http://e/c> .\n"
        "_:x <http://e/r> <http://e/c> _:g .\n"
        '<http://e/a> <http://e/r> <http://e/c> "g" .\n'
    )
    records = list(read_source(path))
    assert records[:3] == [
        Triple("http://e/a", "http://e/r", "http://e/b", str(path), 1),
        Triple("http://e/a", "http://e/r", "http://e/c", str(path), 2),
        Triple(_bnode("g.nq", "x"), "http://e/r", "http://e/c", str(path), 3),
    ]
    assert isinstance(records[3], Reject) and records[3].line == 4
    assert "graph name" in records[3].reason


def test_trig_all_graphs(tmp_path: Path) -> None:
    path = tmp_path / "g.trig"
    path.write_text(
        "@prefix ex: <http://example.org/> .\n"
        "ex:g1 { ex:a ex:r ex:b . ex:a <http://www.w3.org/2000/01/rdf-schema#label> \"A\" . }\n"
        "ex:g2 { ex:b ex:r ex:c . ex:a ex:r ex:b . }\n"
        "ex:d ex:r ex:a .\n"
    )
    triples, infos, rejects = _by_type(list(read_source(path)))
    assert rejects == []
    assert [(t.head[-1], t.tail[-1]) for t in triples] == [("a", "b"), ("b", "c"), ("d", "a")]
    assert infos == {EX + "a": EntityInfo(EX + "a", name="A")}


RDFXML = """<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
         xmlns:rdfs="http://www.w3.org/2000/01/rdf-schema#"
         xmlns:skos="http://www.w3.org/2004/02/skos/core#"
         xmlns:ex="http://example.org/">
  <ex:City rdf:about="http://example.org/paris">
    <rdfs:label>Paris label</rdfs:label>
    <skos:prefLabel>Paris</skos:prefLabel>
    <skos:definition xml:lang="en">Capital of France.</skos:definition>
    <ex:population>2100000</ex:population>
    <ex:country rdf:resource="http://example.org/france"/>
  </ex:City>
</rdf:RDF>
"""


def test_rdf_xml(tmp_path: Path) -> None:
    path = tmp_path / "g.rdf"
    path.write_text(RDFXML)
    triples, infos, rejects = _by_type(list(read_source(path)))
    assert rejects == []
    assert [(t.head, t.relation, t.tail) for t in triples] == [(EX + "paris", EX + "country", EX + "france")]
    paris = infos[EX + "paris"]
    # same language rank (untagged): skos:prefLabel is preferred over rdfs:label
    assert (paris.name, paris.description, paris.types) == ("Paris", "Capital of France.", ("City",))
    assert paris.props == {"population": "2100000"}


def test_rdf_xml_syntax_error_line(tmp_path: Path) -> None:
    path = tmp_path / "g.owl"
    path.write_text(RDFXML.replace("</skos:prefLabel>", "</skos:prefLabe>"))
    records = list(read_source(path))
    assert len(records) == 1 and isinstance(records[0], Reject)
    assert records[0].line == 8 and records[0].reason.startswith("xml syntax error")


def test_json_ld(tmp_path: Path) -> None:
    path = tmp_path / "g.jsonld"
    path.write_text(
        '{"@context": {"ex": "http://example.org/", "name": "https://schema.org/name",'
        ' "description": "https://schema.org/description"},\n'
        ' "@graph": [{"@id": "ex:a", "@type": "ex:Person", "name": "Ann", "description": "A person.",\n'
        '             "ex:knows": {"@id": "ex:b"}, "ex:age": 42}]}\n'
    )
    triples, infos, rejects = _by_type(list(read_source(path)))
    assert rejects == []
    assert [(t.head, t.relation, t.tail) for t in triples] == [(EX + "a", EX + "knows", EX + "b")]
    assert infos[EX + "a"] == EntityInfo(EX + "a", name="Ann", description="A person.", types=("Person",))
    assert infos[EX + "a"].props == {"age": "42"}


def test_json_ld_syntax_error_line(tmp_path: Path) -> None:
    path = tmp_path / "g.json-ld"
    path.write_text('{"@id": "http://e/a",\n "http://e/p": }\n')
    records = list(read_source(path))
    assert len(records) == 1 and isinstance(records[0], Reject)
    assert records[0].line == 2 and records[0].reason.startswith("json-ld syntax error")


def test_json_ld_remote_context_is_refused_without_network(tmp_path: Path) -> None:
    path = tmp_path / "g.jsonld"
    path.write_text('{"@context": "https://schema.org/", "@id": "http://e/a", "name": "A"}')
    records = list(read_source(path))
    assert len(records) == 1 and isinstance(records[0], Reject)
    assert "remote context 'https://schema.org/'" in records[0].reason
    nested = tmp_path / "n.jsonld"
    nested.write_text('{"@graph": [{"@context": [{"@import": "http://x/ctx.jsonld"}], "@id": "http://e/a"}]}')
    assert "http://x/ctx.jsonld" in next(iter(read_source(nested))).reason


def test_turtle_gzip_and_relative_iris(tmp_path: Path) -> None:
    path = tmp_path / "rel.ttl.gz"
    path.write_bytes(gzip.compress(b"<alice> <knows> <bob> .\n"))
    records = list(read_source(path))
    assert records == [Triple("file:///alice", "file:///knows", "file:///bob", str(path), 0)]


def test_document_with_bad_utf8(tmp_path: Path) -> None:
    path = tmp_path / "g.ttl"
    path.write_bytes(b"@prefix ex: <http://e/> .\nex:a ex:b ex:c .\nex:a ex:n \"caf\xe9\" .\n")
    records = list(read_source(path))
    assert records == [Reject(str(path), 3, "invalid UTF-8 bytes")]


def test_same_graph_same_records_across_syntaxes(tmp_path: Path) -> None:
    """The streaming (N-Triples) and whole-document (Turtle, RDF/XML) paths give the same records."""
    ttl = tmp_path / "g.ttl"
    ttl.write_text(TURTLE)
    from rdflib import Graph

    graph = Graph().parse(ttl)
    nt = tmp_path / "g.nt"
    nt.write_text(graph.serialize(format="nt"))
    xml = tmp_path / "g.rdf"
    xml.write_text(graph.serialize(format="xml"))

    def normalized(path: Path):
        records = list(read_source(path))
        assert not [r for r in records if isinstance(r, Reject)]
        triples = sorted((t.head, t.relation, t.tail) for t in records if isinstance(t, Triple) and not t.tail.startswith("_:"))
        infos = sorted(
            (i.name, i.description, tuple(sorted(i.types)), tuple(sorted((k, tuple(sorted(v.split("; ")))) for k, v in i.props.items())))
            for i in records
            if isinstance(i, EntityInfo)
        )
        return triples, infos

    reference = normalized(ttl)
    assert normalized(nt) == reference
    assert normalized(xml) == reference
    assert len(reference[0]) == 2 and len(reference[1]) == 3
