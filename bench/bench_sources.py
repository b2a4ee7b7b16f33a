"""Reader throughput on the real benchmark files (stage 1 only: parsing, no store).

    nice -n 10 .venv/bin/python bench/bench_sources.py [--repeats 3]

Cases:

* FB15k-237 train.txt.gz + valid.txt + test.txt (310,116 TSV lines, CRLF) and the MetaQA
  kb_partial.txt.gz (128,185 pipe lines), each through ``read_delimited_batches`` (plain
  tuples) and ``read_delimited`` (Triple records); baseline in the same run: the bare loop
  ``open -> split -> append tuple`` with no checks, the floor any reader pays;
* N-Triples: FB15k-237 valid+test rewritten as IRIs (38,001 lines, written to a temp
  dir), through ``read_rdf(.., "nt")`` (line by line) against rdflib's own
  ``Graph.parse(format="nt")`` (whole file) as baseline; the same graph as Turtle through
  ``read_rdf(.., "turtle")``;
* entity text: FB15k-237 entity2text.txt, entity2wikidata.json, WN18RR entity2text.txt.

Timings are the median of ``--repeats`` runs (min also saved). Peak Python heap of the
streaming TSV readers (tracemalloc, separate runs) on valid.txt alone and on all three
files shows memory is bounded by the batch size, not the file size.
Writes bench/results/sources.json.
"""

from __future__ import annotations

import argparse
import gzip
import json
import platform
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from kgfm.sources import read_delimited, read_delimited_batches, read_entity_text, read_rdf  # noqa: E402
from kgfm.sources.records import Reject  # noqa: E402

DATA = (REPO / ".." / "shared" / "data").resolve()
FB = DATA / "FB15k-237"
FB_FILES = [FB / "train.txt.gz", FB / "valid.txt", FB / "test.txt"]
METAQA_KB = DATA / "MetaQA" / "kb_partial.txt.gz"


def _open(path: Path):
    return gzip.open(path, "rt", encoding="utf-8") if path.suffix == ".gz" else open(path, encoding="utf-8")


def floor_loop(files: list[Path], sep: str) -> int:
    """The bare minimum: read, strip the newline, split, keep a tuple."""
    rows = []
    for path in files:
        with _open(path) as handle:
            for line in handle:
                rows.append(tuple(line.rstrip("\n").split(sep)))
    return len(rows)


def batches(files: list[Path], fmt: str) -> int:
    n = 0
    for path in files:
        for rows, rejects in read_delimited_batches(path, fmt):
            assert not rejects, rejects[0].message()
            n += len(rows)
    return n


def records(files: list[Path], fmt: str) -> int:
    n = 0
    for path in files:
        for record in read_delimited(path, fmt):
            assert not isinstance(record, Reject), record.message()
            n += 1
    return n


def timed(fn: Callable[[], int], repeats: int) -> dict:
    times, count = [], 0
    for _ in range(repeats):
        start = time.perf_counter()
        count = fn()
        times.append(time.perf_counter() - start)
    median = statistics.median(times)
    return {"lines": count, "seconds": round(median, 4), "seconds_min": round(min(times), 4),
            "lines_per_s": round(count / median)}


def write_rdf_copies(tmp: Path) -> tuple[Path, Path, int]:
    """FB15k-237 valid+test as N-Triples (IRIs under rdf.freebase.com) and as Turtle."""
    from rdflib import Graph

    base = "http://rdf.freebase.com/ns"
    lines = []
    for path in FB_FILES[1:]:
        with _open(path) as handle:
            for line in handle:
                h, r, t = line.rstrip("\n").split("\t")
                lines.append(f"<{base}{h}> <{base}{r}> <{base}{t}> .\n")
    nt = tmp / "fb_valid_test.nt"
    nt.write_text("".join(lines), encoding="utf-8")
    ttl = tmp / "fb_valid_test.ttl"
    ttl.write_text(Graph().parse(nt, format="nt").serialize(format="turtle"), encoding="utf-8")
    return nt, ttl, len(lines)


def rdf_count(path: Path, fmt: str) -> int:
    n = 0
    for record in read_rdf(path, fmt):
        assert not isinstance(record, Reject), record.message()
        n += 1
    return n


def rdflib_baseline(path: Path) -> int:
    from rdflib import Graph

    return len(Graph().parse(path, format="nt"))


def peak_heap_mb(fn: Callable[[], int]) -> float:
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return round(peak / 2**20, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "sources.json")
    args = parser.parse_args()
    missing = [p for p in FB_FILES + [METAQA_KB] if not p.exists()]
    if missing:
        sys.exit(f"benchmark data not found: {missing[0]}")
    r = args.repeats
    results: dict = {}

    def report(name: str, value: dict) -> None:
        results[name] = value
        print(f"{name:32s} " + "  ".join(f"{k}={v}" for k, v in value.items()), flush=True)

    report("fb15k237_floor_split", timed(lambda: floor_loop(FB_FILES, "\t"), r))
    report("fb15k237_batches", timed(lambda: batches(FB_FILES, "tsv"), r))
    report("fb15k237_records", timed(lambda: records(FB_FILES, "tsv"), r))
    report("metaqa_floor_split", timed(lambda: floor_loop([METAQA_KB], "|"), r))
    report("metaqa_batches", timed(lambda: batches([METAQA_KB], "pipe"), r))
    report("metaqa_records", timed(lambda: records([METAQA_KB], "pipe"), r))
    floor = results["fb15k237_floor_split"]["seconds"]
    results["fb15k237_ratio_to_floor"] = {
        "batches": round(results["fb15k237_batches"]["seconds"] / floor, 2),
        "records": round(results["fb15k237_records"]["seconds"] / floor, 2),
    }
    print("fb15k237 ratio to floor loop:", results["fb15k237_ratio_to_floor"], flush=True)
    heap = {}
    for label, files in (("valid_only", FB_FILES[1:2]), ("all_three", FB_FILES)):
        heap[f"batches_65536_{label}"] = peak_heap_mb(lambda f=files: batches(f, "tsv"))
        heap[f"records_{label}"] = peak_heap_mb(lambda f=files: records(f, "tsv"))
    heap["uncompressed_input_mb_all_three"] = round(
        sum(len(gzip.decompress(p.read_bytes())) if p.suffix == ".gz" else p.stat().st_size for p in FB_FILES) / 2**20, 1
    )
    results["fb15k237_peak_heap_mb"] = heap
    print("peak heap MB:", heap, flush=True)

    with tempfile.TemporaryDirectory() as tmp:
        nt, ttl, n_lines = write_rdf_copies(Path(tmp))
        report("nt_read_rdf_line_by_line", timed(lambda: rdf_count(nt, "nt"), r))
        report("nt_rdflib_graph_parse_baseline", timed(lambda: rdflib_baseline(nt), r))
        report("turtle_read_rdf_whole_file", timed(lambda: rdf_count(ttl, "turtle"), r))
        results["nt_ratio_to_rdflib"] = round(
            results["nt_read_rdf_line_by_line"]["seconds"] / results["nt_rdflib_graph_parse_baseline"]["seconds"], 2)
        results["nt_source_lines"] = n_lines

    text_cases = {
        "fb15k237_entity2text": (FB / "entity2text.txt", "auto"),
        "fb15k237_entity2wikidata_json": (FB / "entity2wikidata.json", "auto"),
        "wn18rr_entity2text_name_gloss": (DATA / "WN18RR" / "entity2text.txt", "name-gloss"),
    }
    for name, (path, kind) in text_cases.items():
        report(name, timed(lambda p=path, k=kind: sum(1 for _ in read_entity_text(p, k)), r))

    results["meta"] = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "repeats": r,
        "note": "2-core CPU shared with other jobs; lines = records produced; peak heap via tracemalloc",
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
