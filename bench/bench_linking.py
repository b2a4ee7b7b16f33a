"""Topic-entity linking accuracy on MetaQA questions, with and without the brackets.

The linker is built from the MetaQA KB (``kb_partial.txt.gz``: entity names = the KB's node
strings, degree prior from its triples, relation names as stopword sources), exactly as
``EntityLinker.from_tensors`` does on a store export. For each question the gold topic
entity is the bracketed string; the prediction is ``linker.topic(question)``:

* ``bracketed``: the question as given (``what does [Tom Cullen] act in``);
* ``unbracketed``: the brackets removed (``what does Tom Cullen act in``) -- longest-match
  detection + fuzzy fallback have to find the entity;
* ``unbracketed_misspelled``: one character of the entity name deleted (seeded), brackets removed.

Also reported: alias-index build time and mean/p95 link latency per question.
Results: printed and saved to bench/results/linking.json.

    nice -n 10 python bench/bench_linking.py [--data ../shared/data] [--splits 1-hop/vanilla/qa_dev.txt ...]
"""

from __future__ import annotations

import argparse
import gzip
import json
import platform
import random
import re
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from kgfm.fusion.linking import EntityLinker  # noqa: E402
from kgfm.store.base import GraphTensors  # noqa: E402

BRACKET = re.compile(r"\[([^\]]*)\]")


def metaqa_graph(data: Path) -> GraphTensors:
    ids: dict[str, int] = {}
    rels: dict[str, int] = {}
    h, r, t = [], [], []
    with gzip.open(data / "MetaQA" / "kb_partial.txt.gz", "rt", encoding="utf-8") as handle:
        for line in handle:
            head, rel, tail = line.rstrip("\n").split("|")
            h.append(ids.setdefault(head, len(ids)))
            r.append(rels.setdefault(rel, len(rels)))
            t.append(ids.setdefault(tail, len(ids)))
    # every name of the entity dictionary (516 never occur in the partial KB)
    for line in open(data / "MetaQA" / "entity" / "kb_entity_dict.txt", encoding="utf-8"):
        ids.setdefault(line.rstrip("\n").split("\t", 1)[1], len(ids))
    names = list(ids)
    return GraphTensors(names, list(names), list(rels), list(rels), np.array(h), np.array(r), np.array(t))


def misspell(name: str, rng: random.Random) -> str:
    letters = [i for i, c in enumerate(name) if c.isalpha()]
    if len(letters) < 5:
        return name
    i = rng.choice(letters[1:-1])
    return name[:i] + name[i + 1:]


def evaluate(linker: EntityLinker, path: Path, limit: int | None, seed: int) -> dict:
    lines = [ln.split("\t")[0] for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    lines = lines[:limit] if limit else lines
    rng = random.Random(seed)
    out = {}
    for mode in ("bracketed", "unbracketed", "unbracketed_misspelled"):
        correct, latencies, none = 0, [], 0
        for q in lines:
            gold = BRACKET.search(q).group(1)
            if mode == "bracketed":
                text = q
            elif mode == "unbracketed":
                text = BRACKET.sub(lambda m: m.group(1), q)
            else:
                text = BRACKET.sub(lambda m: misspell(m.group(1), rng), q)
            t0 = time.perf_counter()
            m = linker.topic(text)
            latencies.append(time.perf_counter() - t0)
            if m is None:
                none += 1
            elif linker.entity_names[m.entity_idx] == gold:
                correct += 1
        lat = np.array(latencies) * 1000
        out[mode] = {"questions": len(lines), "accuracy": correct / len(lines), "no_entity": none,
                     "latency_ms_mean": float(lat.mean()), "latency_ms_p95": float(np.percentile(lat, 95))}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=REPO / ".." / "shared" / "data")
    parser.add_argument("--splits", nargs="+",
                        default=["1-hop/vanilla/qa_dev.txt", "2-hop/vanilla/qa_dev.txt", "1-hop/ntm/qa_dev.txt"])
    parser.add_argument("--limit", type=int, default=None, help="questions per split (default: all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "linking.json")
    args = parser.parse_args()
    data = args.data.resolve()
    graph = metaqa_graph(data)
    t0 = time.perf_counter()
    linker = EntityLinker.from_tensors(graph)
    build_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    linker.fuzzy_lookup(["warmup"])  # the trigram index is built lazily on the first fuzzy lookup
    fuzzy_build_s = time.perf_counter() - t0
    results = {"entities": graph.num_entities, "aliases": len(linker.aliases), "build_s": build_s,
               "fuzzy_index_build_s": fuzzy_build_s, "splits": {}}
    print(f"linker: {graph.num_entities} entities, {len(linker.aliases)} aliases, build {build_s:.2f}s "
          f"(+ fuzzy index {fuzzy_build_s:.2f}s)")
    for split in args.splits:
        path = data / "MetaQA" / split
        if not path.is_file():
            print(f"skip {split}: not found")
            continue
        res = evaluate(linker, path, args.limit, args.seed)
        results["splits"][split] = res
        for mode, r in res.items():
            print(f"{split:28s} {mode:24s} acc {r['accuracy']:.4f}  none {r['no_entity']:5d}  "
                  f"{r['latency_ms_mean']:.3f} ms/q (p95 {r['latency_ms_p95']:.3f})")
    results["settings"] = {"limit": args.limit, "seed": args.seed, "python": platform.python_version(),
                           "machine": platform.machine(), "note": "shared 2-core CPU, nice -n 10"}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2), encoding="utf-8")
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
