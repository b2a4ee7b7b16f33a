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


def _bnode(path: Path, ordinal: int) -> str:
    return "_:b" + hashlib.sha1(f"{path.resolve().as_uri()}\x00{ordinal}".encode()).hexdigest()[:16]


XSD = "http://www.w3.org/2001/XMLSchema#"
SCHEMA = "http://schema.org/"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"


def test_turtle_mapping_is_lossless(tmp_path: Path) -> None:
    path = tmp_path / "movies.ttl"
    path.write_text(TURTLE)
    triples, infos, rejects = _by_type(list(read_source(path)))
    assert rejects == []
    award = _bnode(path, 0)
    assert [(t.head, t.relation, t.tail) for t in triples] == [
        (EX + "heat", SCHEMA + "director", EX + "mann"),
        (EX + "heat", EX + "award", award),
        (EX + "mann", EX + "bornIn", EX + "chicago"),
    ]
    heat = infos[EX + "heat"]
    assert heat.name == "Heat"  # English beats untagged and French
    assert heat.names == {"fr": "Heat", "": "Heat (1995)", "en": "Heat"}
    assert heat.description == "A crime film." and heat.descriptions == {"en": "A crime film."}
    assert heat.types == ("Movie", "CrimeFilm")
    assert heat.props == {
        RDF_TYPE: [{"@id": SCHEMA + "Movie"}, {"@id": EX + "CrimeFilm"}],
        RDFS + "label": [{"@value": "Heat", "@language": "fr"}, {"@value": "Heat (1995)"}, {"@value": "Heat", "@language": "en"}],
        RDFS + "comment": [{"@value": "A crime film.", "@language": "en"}],
        SCHEMA + "datePublished": [{"@value": "1995-12-15", "@type": XSD + "date"}],
        "http://imdb.example/vocab#rating": [{"@value": "8.3"}],
        EX + "genre": [{"@value": "crime"}, {"@value": "thriller"}],
    }
    assert infos[award].name == "Best Score" and infos[award].props[EX + "year"] == [{"@value": "1996"}]
    assert infos[EX + "mann"].name == "Michael Mann"
    assert list(infos) == [EX + "heat", award, EX + "mann"]


def test_plain_typed_and_tagged_literals_stay_distinct(tmp_path: Path) -> None:
    path = tmp_path / "lit.nt"
    path.write_bytes(
        b'<http://e/s> <http://e/p> "o" .\n<http://e/s> <http://e/p> "o"^^<http://e/dt> .\n'
        b'<http://e/s> <http://e/p> "o"@en .\n<http://e/s> <http://e/p> "a\\rb" .\n'
    )
    (info,) = [r for r in read_source(path) if isinstance(r, EntityInfo)]
    assert info.props == {"http://e/p": [{"@value": "o"}, {"@value": "o", "@type": "http://e/dt"},
                                          {"@value": "o", "@language": "en"}, {"@value": "a\rb"}]}


def test_carriage_return_in_a_turtle_literal_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "cr.ttl"
    path.write_bytes(b'<http://e/s> <http://e/p> """a\rb\r\nc""" .\n')
    (info,) = [r for r in read_source(path) if isinstance(r, EntityInfo)]
    assert info.props["http://e/p"] == [{"@value": "a\rb\r\nc"}]


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


def test_turtle_syntax_error_reject_has_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "bad.ttl"
    lines = TURTLE.splitlines()
    lines.insert(14, "ex:broken ex:p ;")  # becomes line 15
    path.write_text("\n".join(lines) + "\n")
    records = list(read_source(path))
    rejects = [r for r in records if isinstance(r, Reject)]
    assert len(rejects) == 1
    assert (rejects[0].line, rejects[0].column) == (15, 16)
    assert rejects[0].reason.startswith("Turtle syntax error:")
    assert rejects[0].text == "ex:broken ex:p ;"
    assert rejects[0].message().startswith(f"{path}:15:16: Turtle syntax error")
    # what came before the error is kept (streamed), nothing after it
    assert not [r for r in records if isinstance(r, Triple) and r.head == EX + "mann"]


NT = """# comment
<http://example.org/a> <http://example.org/knows> <http://example.org/b> .
_:n1 <http://www.w3.org/2000/01/rdf-schema#label> "Node eins"@de .
_:n1 <http://www.w3.org/2000/01/rdf-schema#label> "Node one"@en .
_:n1 <http://www.w3.org/2000/01/rdf-schema#label> "Node one, again"@en .
<http://example.org/a> <http://example.org/knows> _:n1 .
<http://example.org/a> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <http://schema.org/Person> .
<http://example.org/a> <http://schema.org/birthDate> "1970-01-01"^^<http://www.w3.org/2001/XMLSchema#date> .
<http://example.org/a> <http://example.org/knows> "unterminated .
<http://example.org/a> <http://example.org/kn ows> <http://example.org/c> .
<http://example.org/a> <http://example.org/knows> <http://example.org/d> . extra

<http://example.org/c> <http://example.org/knows> <http://example.org/a> .
"""


def test_ntriples_streamed_and_resumed_after_bad_lines(tmp_path: Path) -> None:
    path = tmp_path / "g.nt.gz"
    path.write_bytes(gzip.compress(NT.encode()))
    records = list(read_source(path))
    n1 = _bnode(path, 0)
    triples, infos, rejects = _by_type(records)
    assert [(t.head, t.tail) for t in triples] == [(EX + "a", EX + "b"), (EX + "a", n1), (EX + "c", EX + "a")]
    assert [r.line for r in rejects] == [9, 10, 11]
    assert all(r.reason.startswith("N-Triples syntax error") and r.column for r in rejects)
    assert rejects[1].text == "<http://example.org/a> <http://example.org/kn ows> <http://example.org/c> ."
    assert infos[n1].name == "Node one" and infos[n1].names == {"de": "Node eins", "en": "Node one"}
    assert infos[EX + "a"].types == ("Person",)
    assert infos[EX + "a"].props["http://schema.org/birthDate"] == [{"@value": "1970-01-01", "@type": XSD + "date"}]


def test_ntriples_bad_utf8_line(tmp_path: Path) -> None:
    path = tmp_path / "g.nt"
    path.write_bytes(b'<http://e/a> <http://e/p> "caf\xe9" .\n<http://e/a> <http://e/r> <http://e/b> .\n')
    records = list(read_rdf(path, "nt"))
    assert isinstance(records[0], Reject) and records[0].line == 1 and "UTF-8" in records[0].reason
    assert records[1] == Triple("http://e/a", "http://e/r", "http://e/b", str(path), 0)


def test_nquads_graph_names_kept(tmp_path: Path) -> None:
    path = tmp_path / "g.nq"
    path.write_text(
        "<http://e/a> <http://e/r> <http://e/b> <http://e/g1> .\n"
        "<http://e/a> <http://e/r> <http://e/c> .\n"
        "_:x <http://e/r> <http://e/c> _:g .\n"
        '<http://e/a> <http://e/r> <http://e/c> "g" .\n'
    )
    triples, _infos, rejects = _by_type(list(read_source(path)))
    assert [(t.head, t.tail, t.graph) for t in triples] == [
        ("http://e/a", "http://e/b", "http://e/g1"),
        ("http://e/a", "http://e/c", ""),
        (_bnode(path, 0), "http://e/c", _bnode(path, 1)),
    ]
    assert [r.line for r in rejects] == [4]


def test_trig_graphs(tmp_path: Path) -> None:
    path = tmp_path / "g.trig"
    path.write_text(
        "@prefix ex: <http://example.org/> .\n"
        "ex:g1 { ex:a ex:r ex:b . ex:a <http://www.w3.org/2000/01/rdf-schema#label> \"A\" . }\n"
        "ex:g2 { ex:b ex:r ex:c . ex:a ex:r ex:b . }\n"
        "ex:d ex:r ex:a .\n"
    )
    triples, infos, rejects = _by_type(list(read_source(path)))
    assert rejects == []
    assert [(t.head[-1], t.tail[-1], t.graph[-2:]) for t in triples] == [("a", "b", "g1"), ("b", "c", "g2"), ("a", "b", "g2"), ("d", "a", "")]
    assert infos[EX + "a"].name == "A"
    assert infos[EX + "a"].props == {RDFS + "label": [{"@value": "A", "graph": EX + "g1"}]}


RDFXML = """<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
         xmlns:rdfs="http://www.w3.org/2000/01/rdf-schema#"
         xmlns:skos="http://www.w3.org/2004/02/skos/core#"
         xmlns:ex="http://example.org/">
  <ex:City rdf:about="http://example.org/paris">
    <rdfs:label>Paris label</rdfs:label>
    <skos:prefLabel>Paris</skos:prefLabel>
    <skos:definition xml:lang="en">Capital of France.</skos:definition>
    <ex:population rdf:datatype="http://www.w3.org/2001/XMLSchema#integer">2100000</ex:population>
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
    assert paris.props[EX + "population"] == [{"@value": "2100000", "@type": XSD + "integer"}]


def test_rdf_xml_errors_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "g.owl"
    path.write_text(RDFXML.replace("</skos:prefLabel>", "</skos:prefLabe>"))
    (reject,) = [r for r in read_source(path) if isinstance(r, Reject)]
    assert reject.line == 8 and reject.reason.startswith("RDF/XML syntax error")
    bad_id = tmp_path / "id.rdf"
    bad_id.write_text(RDFXML.replace('<ex:country rdf:resource="http://example.org/france"/>', '<ex:country rdf:ID="1bad"/>'))
    (reject,) = [r for r in read_source(bad_id) if isinstance(r, Reject)]
    assert reject.line == 11 and "rdf:ID" in reject.reason and reject.text.strip() == '<ex:country rdf:ID="1bad"/>'


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
    a = infos[EX + "a"]
    assert (a.name, a.description, a.types) == ("Ann", "A person.", ("Person",))
    assert a.props[EX + "age"] == [{"@value": "42", "@type": XSD + "integer"}]


def test_json_ld_syntax_error_line(tmp_path: Path) -> None:
    path = tmp_path / "g.json-ld"
    path.write_text('{"@id": "http://e/a",\n "http://e/p": }\n')
    records = list(read_source(path))
    assert len(records) == 1 and isinstance(records[0], Reject)
    assert records[0].line == 2 and records[0].reason.startswith("JSON-LD syntax error")


def test_json_ld_remote_context_is_refused_without_network(tmp_path: Path) -> None:
    path = tmp_path / "g.jsonld"
    path.write_text('{"@context": "https://schema.org/", "@id": "http://e/a", "name": "A"}')
    records = list(read_source(path))
    assert len(records) == 1 and isinstance(records[0], Reject)
    assert "remote context 'https://schema.org/'" in records[0].reason
    nested = tmp_path / "n.jsonld"
    nested.write_text('{"@graph": [{"@context": [{"@import": "http://x/ctx.jsonld"}], "@id": "http://e/a"}]}')
    assert "http://x/ctx.jsonld" in next(iter(read_source(nested))).reason


def test_relative_iris_resolve_against_the_document(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    for folder in (one, two):
        (folder / "rel.ttl.gz").write_bytes(gzip.compress(b"<alice> <knows> <bob> .\n"))
    (a,) = list(read_source(one / "rel.ttl.gz"))
    (b,) = list(read_source(two / "rel.ttl.gz"))
    assert a.head == (one / "alice").resolve().as_uri() and b.head == (two / "alice").resolve().as_uri()
    (c,) = list(read_source(one / "rel.ttl.gz", base="http://example.org/data/"))
    assert (c.head, c.relation, c.tail) == ("http://example.org/data/alice", "http://example.org/data/knows", "http://example.org/data/bob")


def test_document_with_bad_utf8(tmp_path: Path) -> None:
    path = tmp_path / "g.ttl"
    path.write_bytes(b"@prefix ex: <http://e/> .\nex:a ex:b ex:c .\nex:a ex:n \"caf\xe9\" .\n")
    rejects = [r for r in read_source(path) if isinstance(r, Reject)]
    assert len(rejects) == 1 and rejects[0].line == 3 and "UTF-8" in rejects[0].reason


def test_same_graph_same_records_across_syntaxes(tmp_path: Path) -> None:
    """Turtle, N-Triples and RDF/XML of one graph give the same records (blank nodes aside)."""
    import pyoxigraph as ox

    ttl = tmp_path / "g.ttl"
    ttl.write_text(TURTLE)
    quads = list(ox.parse(path=str(ttl), base_iri="http://example.org/"))
    nt, xml = tmp_path / "g.nt", tmp_path / "g.rdf"
    nt.write_bytes(ox.serialize([ox.Triple(q.subject, q.predicate, q.object) for q in quads], format=ox.RdfFormat.N_TRIPLES))
    xml.write_bytes(ox.serialize([ox.Triple(q.subject, q.predicate, q.object) for q in quads], format=ox.RdfFormat.RDF_XML))

    def normalized(path: Path):
        records = list(read_source(path))
        assert not [r for r in records if isinstance(r, Reject)]
        triples = sorted((t.head, t.relation, t.tail) for t in records if isinstance(t, Triple) and not t.tail.startswith("_:"))
        infos = sorted(
            (i.name, i.description, tuple(sorted(i.types)), sorted((k, sorted(map(str, v))) for k, v in i.props.items()))
            for i in records
            if isinstance(i, EntityInfo)
        )
        return triples, infos

    reference = normalized(ttl)
    assert normalized(nt) == reference
    assert normalized(xml) == reference
    assert len(reference[0]) == 2 and len(reference[1]) == 3


def test_chosen_literals_become_value_entities_and_names_never_do(tmp_path: Path) -> None:
    """``--value-entities``: a literal of a chosen predicate (by local name here) becomes a triple to an entity
    whose id is the literal's N-Triples form; the other literals stay properties and are counted."""
    from collections import Counter

    from kgfm.sources import RdfOptions

    path = tmp_path / "g.ttl"
    path.write_text(TURTLE, encoding="utf-8")
    options = RdfOptions(values=frozenset({"genre", SCHEMA + "datePublished", "label"}))
    triples, infos, rejects = _by_type(list(read_source(path, options=options)))
    assert rejects == []
    assert [(t.head, t.relation, t.tail) for t in triples if t.tail.startswith('"')] == [
        (EX + "heat", SCHEMA + "datePublished", f'"1995-12-15"^^<{XSD}date>'),
        (EX + "heat", EX + "genre", '"crime"'),
        (EX + "heat", EX + "genre", '"thriller"'),
    ]
    assert (infos['"crime"'].name, infos['"crime"'].types) == ("crime", ("string",))
    assert (infos[f'"1995-12-15"^^<{XSD}date>'].name, infos[f'"1995-12-15"^^<{XSD}date>'].types) == ("1995-12-15", ("date",))
    heat = infos[EX + "heat"]
    assert heat.name == "Heat" and EX + "genre" not in heat.props and RDFS + "label" in heat.props  # labels stay names
    assert options.unused == Counter({"http://imdb.example/vocab#rating": 1, EX + "year": 1})
    plain = RdfOptions()
    _by_type(list(read_source(path, options=plain)))
    assert plain.unused == Counter({EX + "genre": 2, SCHEMA + "datePublished": 1, "http://imdb.example/vocab#rating": 1,
                                    EX + "year": 1})


def test_value_ids_round_trip_every_escape() -> None:
    from kgfm.sources.rdf_terms import RDF_LANG_STRING, XSD_STRING, parse_value_id, value_id

    for lexical, language, datatype, written in [
        ("1995", "", XSD + "gYear", f'"1995"^^<{XSD}gYear>'),
        ("Heat", "en-GB", RDF_LANG_STRING, '"Heat"@en-GB'),
        ('say "hi"\\\n\r', "", XSD_STRING, '"say \\"hi\\"\\\\\\n\\r"'),
    ]:
        assert value_id(lexical, language if language else "", datatype) == written
        assert parse_value_id(written) == (lexical, language, datatype)
    for other in ("http://example.org/a", "_:b1", '"open', '"a"^^<not an iri>', '"a"@'):
        assert parse_value_id(other) is None
