"""Reading the W3C RDF 1.1 test manifests (``../shared/data/w3c-rdf-tests``) with pyoxigraph."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyoxigraph as ox

REPO = Path(__file__).resolve().parents[2]
W3C = REPO.parent / "shared" / "data" / "w3c-rdf-tests" / "rdf11"
SUITES = ("rdf-n-triples", "rdf-n-quads", "rdf-turtle", "rdf-trig", "rdf-xml")
FORMAT_OF_SUITE = {"rdf-n-triples": "nt", "rdf-n-quads": "nquads", "rdf-turtle": "turtle", "rdf-trig": "trig", "rdf-xml": "xml"}
MF = "http://www.w3.org/2001/sw/DataAccess/tests/test-manifest#"
RDFT = "http://www.w3.org/ns/rdftest#"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"


@dataclass(frozen=True)
class W3CTest:
    """One manifest entry."""

    suite: str
    name: str
    kind: str  # rdft: type local name, e.g. TestTurtleEval
    action: Path
    result: Path | None
    base: str  # mf:assumedTestBase + the action's path relative to the suite folder ("" without one)

    @property
    def negative(self) -> bool:
        return "Negative" in self.kind

    @property
    def evaluation(self) -> bool:
        return self.kind.endswith("Eval") and not self.negative


def _list(graph: dict, head: ox.Term) -> list:
    out = []
    while head != ox.NamedNode(RDF + "nil"):
        out.append(graph[(head, RDF + "first")][0])
        head = graph[(head, RDF + "rest")][0]
    return out


def load_suite(suite: str) -> list[W3CTest]:
    """Every test of one suite, in manifest order."""
    folder = W3C / suite
    manifest = folder / "manifest.ttl"
    base_url = manifest.resolve().as_uri()
    graph: dict = {}
    for t in ox.parse(path=str(manifest), format=ox.RdfFormat.TURTLE, base_iri=base_url):
        graph.setdefault((t.subject, t.predicate.value), []).append(t.object)
    root = ox.NamedNode(base_url)
    assumed = graph.get((root, MF + "assumedTestBase"))
    test_base = assumed[0].value if assumed else ""
    tests = []
    for entry in _list(graph, graph[(root, MF + "entries")][0]):
        kind = graph[(entry, RDF + "type")][0].value.rsplit("#", 1)[1]
        action = Path(ox_path(graph[(entry, MF + "action")][0]))
        result = graph.get((entry, MF + "result"))
        rel = action.relative_to(folder.resolve()).as_posix()
        tests.append(W3CTest(suite, graph[(entry, MF + "name")][0].value, kind, action,
                             Path(ox_path(result[0])) if result else None, test_base + rel if test_base else ""))
    return tests


def ox_path(node: ox.NamedNode) -> str:
    from urllib.parse import unquote, urlparse

    return unquote(urlparse(node.value).path)
