"""Choosing the RDF parser by measurement: pyoxigraph vs rdflib, conformance and speed.

1. Conformance: every test of the five W3C RDF 1.1 suites (``../shared/data/w3c-rdf-tests``)
   through each parser alone: positives accepted, negatives rejected, evaluation tests whose
   graph equals ``mf:result`` (pyoxigraph: canonicalised datasets; rdflib: ``isomorphic``), and
   exceptions that are not the parser's syntax error (what would end in a traceback).
2. Speed on FB15k-237-sized input: train+valid+test (310,116 triples) written as N-Triples and
   as Turtle (IRIs ``http://fb.example/m/...``), parsed by pyoxigraph (bare iteration), by
   kgfm's reader (pyoxigraph + term mapping, :func:`kgfm.sources.read_rdf`) and by rdflib
   (``Graph.parse``), median of ``--repeats``; MB/s and triples/s.

    python bench/bench_rdf_parsers.py [--repeats 3]   -> bench/results/rdf_parsers.json
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import pyoxigraph as ox  # noqa: E402

from kgfm.sources import read_rdf  # noqa: E402
from tests.w3c.manifest import FORMAT_OF_SUITE, SUITES, W3C, load_suite  # noqa: E402

FB = (REPO / ".." / "shared" / "data" / "FB15k-237").resolve()
OX = {"nt": ox.RdfFormat.N_TRIPLES, "nquads": ox.RdfFormat.N_QUADS, "turtle": ox.RdfFormat.TURTLE,
      "trig": ox.RdfFormat.TRIG, "xml": ox.RdfFormat.RDF_XML}
RDFLIB = {"nt": "nt", "nquads": "nquads", "turtle": "turtle", "trig": "trig", "xml": "xml"}


def _ox_dataset(path: Path, fmt: ox.RdfFormat, base: str | None) -> set:
    dataset = ox.Dataset(ox.parse(path=str(path), format=fmt, base_iri=base))
    dataset.canonicalize(ox.CanonicalizationAlgorithm.UNSTABLE)
    return set(dataset)


def conformance_pyoxigraph(tests) -> dict:
    out = {"positive_accepted": 0, "negative_rejected": 0, "eval_equal": 0, "eval_total": 0, "other_exceptions": 0}
    for t in tests:
        fmt = OX[FORMAT_OF_SUITE[t.suite]]
        try:
            got = _ox_dataset(t.action, fmt, t.base or t.action.resolve().as_uri())
        except SyntaxError:
            out["negative_rejected"] += t.negative
            continue
        except Exception:  # noqa: BLE001 -- counted: would be a traceback
            out["other_exceptions"] += 1
            continue
        if t.negative:
            continue
        out["positive_accepted"] += 1
        if t.result is not None:
            out["eval_total"] += 1
            result_fmt = ox.RdfFormat.N_QUADS if t.result.suffix == ".nq" else ox.RdfFormat.N_TRIPLES
            out["eval_equal"] += got == _ox_dataset(t.result, result_fmt, None)
    return out


def conformance_rdflib(tests) -> dict:
    from rdflib import Dataset, Graph
    from rdflib.compare import isomorphic

    logging.getLogger("rdflib").setLevel(logging.CRITICAL)
    out = {"positive_accepted": 0, "negative_rejected": 0, "eval_equal": 0, "eval_total": 0, "other_exceptions": 0}
    for t in tests:
        fmt = FORMAT_OF_SUITE[t.suite]
        quads = fmt in ("nquads", "trig")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                g = (Dataset() if quads else Graph()).parse(t.action, format=RDFLIB[fmt], publicID=t.base or None)
                if t.negative:
                    g.serialize(format="nquads" if quads else "nt")  # writing is where bad escapes crash
        except SyntaxError:
            out["negative_rejected"] += t.negative
            continue
        except Exception as exc:  # noqa: BLE001 -- rdflib raises many types for syntax errors
            name = type(exc).__name__
            if "Syntax" in name or "Parse" in name or name in ("BadSyntax", "SAXParseException", "ParserError"):
                out["negative_rejected"] += t.negative
            else:
                out["other_exceptions"] += 1
            continue
        if t.negative:
            continue
        out["positive_accepted"] += 1
        if t.result is not None:
            out["eval_total"] += 1
            try:
                expected = (Dataset() if quads else Graph()).parse(t.result, format="nquads" if quads else "nt")
                same = isomorphic(g, expected) if not quads else len(g) == len(expected)
            except Exception:  # noqa: BLE001
                same = False
            out["eval_equal"] += bool(same)
    return out


def write_fb_rdf(folder: Path) -> tuple[Path, Path, int]:
    """FB15k-237 train+valid+test as N-Triples and Turtle files."""
    rows = []
    for name in ("train.txt.gz", "valid.txt", "test.txt"):
        path = FB / name
        opener = gzip.open if name.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8") as handle:
            rows.extend(line.rstrip("\r\n").split("\t") for line in handle if line.strip())
    nt, ttl = folder / "fb.nt", folder / "fb.ttl"
    with open(nt, "w", encoding="utf-8") as a, open(ttl, "w", encoding="utf-8") as b:
        b.write("@prefix m: <http://fb.example/m/> .\n@prefix r: <http://fb.example/r/> .\n")
        for h, r, t in rows:
            r = r.strip("/").replace("/", ".")
            a.write(f"<http://fb.example{h}> <http://fb.example/r/{r}> <http://fb.example{t}> .\n")
            b.write(f"m:{h[3:]} r:{r} m:{t[3:]} .\n")
    return nt, ttl, len(rows)


def _median(fn, repeats: int) -> tuple[float, int]:
    times, n = [], 0
    for _ in range(repeats):
        started = time.perf_counter()
        n = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), n


def speed(nt: Path, ttl: Path, repeats: int) -> dict:
    from rdflib import Graph

    cases = {
        "pyoxigraph_parse": lambda p, f: sum(1 for _ in ox.parse(path=str(p), format=OX[f])),
        "kgfm_read_rdf": lambda p, f: sum(1 for _ in read_rdf(p, f)),
        "rdflib_parse": lambda p, f: len(Graph().parse(p, format=RDFLIB[f])),
    }
    out: dict = {}
    for path, fmt in ((nt, "nt"), (ttl, "turtle")):
        mb = path.stat().st_size / 2**20
        for name, fn in cases.items():
            seconds, n = _median(lambda: fn(path, fmt), repeats)
            out[f"{fmt}_{name}"] = {"seconds": round(seconds, 3), "records": n, "mb": round(mb, 1),
                                     "mb_per_s": round(mb / seconds, 1), "per_s": round(n / seconds)}
            print(name, fmt, out[f"{fmt}_{name}"], flush=True)
        out[f"{fmt}_speedup_pyoxigraph_reader_vs_rdflib"] = round(
            out[f"{fmt}_rdflib_parse"]["seconds"] / out[f"{fmt}_kgfm_read_rdf"]["seconds"], 2)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "rdf_parsers.json")
    args = parser.parse_args()
    results: dict = {"load_average_start": os.getloadavg(), "pyoxigraph": ox.__version__}
    import rdflib

    results["rdflib"] = rdflib.__version__
    if W3C.is_dir():
        results["conformance"] = {}
        for suite in SUITES:
            tests = load_suite(suite)
            results["conformance"][suite] = {
                "tests": len(tests), "negative": sum(t.negative for t in tests),
                "pyoxigraph": conformance_pyoxigraph(tests), "rdflib": conformance_rdflib(tests),
            }
            print(suite, json.dumps(results["conformance"][suite]), flush=True)
    if FB.is_dir():
        with tempfile.TemporaryDirectory() as tmp:
            nt, ttl, n = write_fb_rdf(Path(tmp))
            results["speed"] = {"triples": n, **speed(nt, ttl, args.repeats)}
    results["load_average_end"] = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
