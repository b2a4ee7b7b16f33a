"""Films added after training: ``kgfm extend-index`` (no retraining) against training again, on MetaQA.

A user trains on their graph, then adds facts: new entities. ``kgfm extend-index`` embeds them with
the trained GNN from their facts and extends the entity index, so the QA model answers about them at
once; the alternative is the whole chain again. This measures both on MetaQA, with ``kgfm auto``
(generated questions, no MetaQA question in training):

* ``--films K`` films that are topic entities of 1-hop test questions are chosen (seeded); the
  *base* KB is every triple whose head is not one of them, the *new* KB theirs (MetaQA's triples all
  have a film as head, so the films, and people only they mention, are new entities);
* **extend**: a store of the base KB, ``kgfm auto`` on it, then ``build-graph`` of the new KB into
  it and ``kgfm extend-index`` (timed);
* **retrain**: a store of base + new KB (the same facts), ``kgfm auto`` on it with the same budgets;
* both models answer MetaQA's 1-hop and 2-hop *test* questions whose topic is a new film (all of
  them) and a seeded sample of the others, Hits@1 over all entities (``kgfm eval --file``);
* ``extend_mean_rows``: the extended model with the new entities' rows set to the mean known row
  (a shallow model's best stand-in for an entity it never trained on): what the GNN's embedding of
  the new entities adds to QA, beside the graph's new edges, which both use.

Usage (from the repository root; each step reads what the one before wrote under --work)::

    python bench/extend_index.py --prepare --films 300
    python bench/extend_index.py --run extend --graph-minutes 5 --qa-minutes 8
    python bench/extend_index.py --run retrain --graph-minutes 5 --qa-minutes 8
    python bench/extend_index.py --run retrain --run-seed 1 --graph-minutes 5 --qa-minutes 8   # run-to-run spread
    python bench/extend_index.py --evaluate --limit 1000 --out bench/results/extend_index_metaqa.json
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
METAQA = REPO / ".." / "shared" / "data" / "MetaQA"
TOPIC = re.compile(r"\[([^\]]+)\]")


def topic(line: str) -> str:
    return TOPIC.search(line.split("\t", 1)[0]).group(1)


def prepare(work: Path, films: int, seed: int) -> dict:
    with gzip.open(METAQA / "kb_partial.txt.gz", "rt", encoding="utf-8") as f:
        kb = [line.rstrip("\n") for line in f if line.strip()]
    heads = {line.split("|", 1)[0] for line in kb}
    test_topics = sorted({topic(q) for q in (METAQA / "1-hop" / "vanilla" / "qa_test.txt").read_text(encoding="utf-8").splitlines()})
    pool = [t for t in test_topics if t in heads]
    held = set(random.Random(seed).sample(pool, films))
    work.mkdir(parents=True, exist_ok=True)
    base = [t for t in kb if t.split("|", 1)[0] not in held]
    new = [t for t in kb if t.split("|", 1)[0] in held]
    (work / "base_kb.txt").write_text("\n".join(base) + "\n", encoding="utf-8")
    (work / "new_kb.txt").write_text("\n".join(new) + "\n", encoding="utf-8")
    (work / "new_films.txt").write_text("\n".join(sorted(held)) + "\n", encoding="utf-8")
    doc = {"films": films, "seed": seed, "pool": len(pool), "base_triples": len(base), "new_triples": len(new)}
    (work / "prepare.json").write_text(json.dumps(doc, indent=1), encoding="utf-8")
    return doc


def run(work: Path, arm: str, graph_minutes: float, qa_minutes: float, seed: int = 0) -> dict:
    """One arm; ``seed`` > 0 (its folder ``ARM-sSEED``) draws other questions and fine-tune order: a
    second run of an arm measures how far two trainings on the same data differ."""
    import kgfm

    folder = work / (arm if not seed else f"{arm}-s{seed}")
    store, out = folder / "graph.lbug", folder / "runs"
    sources = [work / "base_kb.txt"] + ([work / "new_kb.txt"] if arm == "retrain" else [])
    start = time.perf_counter()
    kgfm.build_graph(*sources, path=store, replace=True, progress=False)
    kgfm.auto(out=out, path=store, graph_minutes=graph_minutes, qa_minutes=qa_minutes, seed=seed,
              overrides={"run.seed": seed} if seed else None)
    doc = {"arm": arm, "seed": seed, "graph_minutes": graph_minutes, "qa_minutes": qa_minutes,
           "train_seconds": round(time.perf_counter() - start, 1)}
    if arm == "extend":
        t0 = time.perf_counter()
        kgfm.build_graph(work / "new_kb.txt", path=store, progress=False)
        built = time.perf_counter() - t0
        result = kgfm.extend_index(out / "qa" / "model")
        doc.update(build_new_seconds=round(built, 2), extend_seconds=round(result.seconds, 2),
                   entities_before=result.before, entities_after=result.after, facts=result.facts)
    (folder / "run.json").write_text(json.dumps(doc, indent=1), encoding="utf-8")
    return doc


def question_files(work: Path, limit: int, seed: int) -> dict[str, Path]:
    held = set((work / "new_films.txt").read_text(encoding="utf-8").split("\n")) - {""}
    files = {}
    for hops in (1, 2):
        lines = (METAQA / f"{hops}-hop" / "vanilla" / "qa_test.txt").read_text(encoding="utf-8").splitlines()
        new = [q for q in lines if topic(q) in held]
        rest = [q for q in lines if topic(q) not in held]
        for name, subset in ((f"{hops}hop_new", new), (f"{hops}hop_known", random.Random(seed).sample(rest, min(limit, len(rest))))):
            files[name] = work / "questions" / f"{name}.txt"
            files[name].parent.mkdir(parents=True, exist_ok=True)
            files[name].write_text("\n".join(subset) + "\n", encoding="utf-8")
    return files


def mean_rows_index(work: Path) -> Path:
    """The extended index with every added row replaced by the mean of the known rows: a shallow model's
    best stand-in for an entity it never trained on (bench/linkpred_inductive.py), so the difference
    to ``extend`` is what the GNN's embedding of the new entities does for QA."""
    import numpy as np

    from kgfm.index.entity_index import EntityIndex

    index = EntityIndex.load(work / "extend" / "runs" / "graph" / "index", use_gpu=False)
    n0 = json.loads((work / "extend" / "run.json").read_text())["entities_before"]
    emb = index.embeddings.copy()
    emb[n0:] = emb[:n0].mean(axis=0)
    dest = work / "extend" / "index_mean_rows"
    EntityIndex.build(emb, index.entity_ids, index.entity_names, metric=index.metric, use_gpu=False).save(dest)
    return dest


def evaluate(work: Path, limit: int, seed: int, out: Path) -> dict:
    import kgfm

    files = question_files(work, limit, seed)
    doc = {"prepare": json.loads((work / "prepare.json").read_text()), "runs": {}, "hits1": {}, "questions": {}}
    arms = {"extend": None, "extend_mean_rows": mean_rows_index(work), "retrain": None}
    arms.update({p.parent.name: None for p in sorted(work.glob("*-s*/run.json"))})  # second runs (--run-seed)
    for arm, index in arms.items():
        folder = work / arm.split("_")[0]
        doc["runs"][arm] = json.loads((folder / "run.json").read_text())
        for name, path in files.items():
            report = kgfm.evaluate(folder / "runs" / "qa" / "model", file=path, index=index,
                                   out=folder / f"eval-{arm}-{name}.json")
            scores = report.get("with_fusion") or report["plain_encoder"]
            doc["hits1"].setdefault(name, {})[arm] = round(scores["hits@1"], 4)
            doc["questions"][name] = {"n": report["questions"], "ceiling": round(report["ceiling"], 4),
                                      "topic_linked": round(report["topic_linked"], 4)}
    doc["mean_over_runs"] = {  # extend vs retrain over their runs (seed 0 and --run-seed ones)
        name: {kind: round(sum(v for a, v in arms_.items() if a.split("-s")[0] == kind)
                           / sum(1 for a in arms_ if a.split("-s")[0] == kind), 4) for kind in ("extend", "retrain")}
        for name, arms_ in doc["hits1"].items()}
    out.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    return doc


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--work", type=Path, default=REPO / "runs" / "bench" / "extend")
    ap.add_argument("--prepare", action="store_true")
    ap.add_argument("--films", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--run", choices=("extend", "retrain"))
    ap.add_argument("--run-seed", type=int, default=0, help="a second run of an arm: other questions and order")
    ap.add_argument("--graph-minutes", type=float, default=5.0)
    ap.add_argument("--qa-minutes", type=float, default=8.0)
    ap.add_argument("--evaluate", action="store_true")
    ap.add_argument("--limit", type=int, default=1000)
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "extend_index_metaqa.json")
    args = ap.parse_args()
    if args.prepare:
        print(json.dumps(prepare(args.work, args.films, args.seed)))
    if args.run:
        print(json.dumps(run(args.work, args.run, args.graph_minutes, args.qa_minutes, args.run_seed)))
    if args.evaluate:
        print(json.dumps(evaluate(args.work, args.limit, args.seed, args.out), indent=1))


if __name__ == "__main__":
    main()
