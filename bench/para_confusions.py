"""Which relation does a 1-hop model's top answer come from? Per question type, on one paraphrase half.

Issue 13, item 3: with the tuned relation wordings, ``movie_to_actor`` gained most on the held-out
half although no actor wording was added. The reading to test: MetaQA's tags are often people's
names, so a model that does not keep "who acted in" apart from "what words describe" answers an actor
question with a tag. This re-ranks each run's questions of the chosen types (top 1 over the topic's
1-hop candidates, fusion on, as ``kgfm eval``) and labels every top answer with the relation(s)
joining it to the topic in the KB (``has_tags``; ``starred_actors^-1`` for an edge into the topic).
It reports, per tag and type (mean over seeds), the share of questions answered right, and the share
answered wrong through each relation -- and, as a property of the KB alone, how many gold actors
are also among the movie's tags (where following ``has_tags`` would be right by accident).

    python bench/para_confusions.py --half B --work runs/qa-seeds-1hop-alltrain --seeds 0 1 2 \\
        --tags plain-logpath fusion-pretrained3k-templates-v2-logpath --out bench/results/para_halfB_confusions.json
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
from _emit import emit
from para_halves import METAQA, REPO, split_halves, trained_runs


def edge_relations(graph) -> dict[tuple[int, int], set[str]]:  # noqa: ANN001  (GraphTensors)
    """``(a, b) -> {relation, ...}`` for every edge of the graph, read in both directions
    (``r`` from ``a`` to ``b``, ``r^-1`` where the edge runs from ``b`` to ``a``)."""
    out: dict[tuple[int, int], set[str]] = defaultdict(set)
    names = graph.relation_types
    for h, r, t in zip(graph.head_index.tolist(), graph.rel_type.tolist(), graph.tail_index.tolist()):
        out[(h, t)].add(names[r])
        out[(t, h)].add(names[r] + "^-1")
    return out


def label(relations: set[str]) -> str:
    """One label for a top answer: its relation, or several joined by ``+`` (sorted)."""
    return "+".join(sorted(relations)) if relations else "(no edge)"


def confusions(model_dir: Path, file: Path, qtype_file: Path, qtypes: set[str]) -> dict:
    """Per type: questions, right, and wrong answers counted by the relation that reaches them."""
    from kgfm.qa.answer import QAEngine
    from kgfm.qa.data import prepare_examples
    from kgfm.qa.evalfile import read_eval_file
    from kgfm.qa.metaqa import EntityLookup
    from kgfm.qa.ranking import encode_questions, rank_answers

    engine = QAEngine.load(model_dir)
    try:
        examples = [e for e in read_eval_file(file, qtype_file) if e.qtype in qtypes]
        prepared = prepare_examples(examples, engine.linker, EntityLookup(engine.graph))
        vectors = encode_questions(engine.model.encoder, prepared)
        top, _, _ = rank_answers(engine.model.scorer, vectors, prepared.topics, engine.adjacency, 1)
        rels = edge_relations(engine.graph)
        tag_rel = next((r for r in engine.graph.relation_types if r.lower() == "has_tags"), None)  # MetaQA's
        per: dict[str, dict] = {}
        for i, e in enumerate(examples):
            row = per.setdefault(e.qtype, {"n": 0, "right": 0, "wrong_via": Counter(), "gold_also_tag": 0})
            row["n"] += 1
            t, answer, gold = int(prepared.topics[i]), int(top[i, 0]), prepared.answers[i]
            row["gold_also_tag"] += bool(tag_rel and t >= 0 and any(tag_rel in rels.get((t, int(g)), ()) for g in gold))
            if answer >= 0 and answer in gold:
                row["right"] += 1
            else:
                row["wrong_via"][label(rels.get((t, answer), set())) if answer >= 0 and t >= 0 else "(no answer)"] += 1
    finally:
        engine.close()
    return per


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--half", choices=("A", "B"), required=True)
    ap.add_argument("--work", type=Path, required=True, help="folder of bench_qa_seeds.py runs")
    ap.add_argument("--tags", nargs="+", required=True, help="run tags (folders {work}/1hop-{tag}-s{seed})")
    ap.add_argument("--seeds", nargs="+", type=int, required=True)
    ap.add_argument("--qtypes", nargs="+", default=["movie_to_actor", "movie_to_tags", "movie_to_director"])
    ap.add_argument("--halves-dir", type=Path, default=REPO / "runs" / "para-halves")
    ap.add_argument("--paraphrases", type=Path, default=METAQA / "1-hop" / "ntm" / "qa_dev.txt")
    ap.add_argument("--qtype", type=Path, default=METAQA / "1-hop" / "qa_dev_qtype.txt")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    info = split_halves(args.paraphrases, args.qtype, args.halves_dir)
    file, qtype_file = args.halves_dir / f"{args.half}.txt", args.halves_dir / f"{args.half}_qtype.txt"
    runs: dict[str, dict[str, dict]] = {tag: {} for tag in args.tags}
    for tag, seed, run in trained_runs(args.work, args.tags, args.seeds):
        runs[tag][str(seed)] = confusions(run / "model", file, qtype_file, set(args.qtypes))
        print(f"{tag} seed {seed}: " + ", ".join(f"{q} {v['right']}/{v['n']}"
                                                 for q, v in sorted(runs[tag][str(seed)].items())), file=sys.stderr)
    summary: dict[str, dict] = {}
    for tag in args.tags:
        summary[tag] = {}
        for q in sorted(args.qtypes):
            rows = [r[q] for r in runs[tag].values() if q in r]
            if not rows:
                continue
            n = rows[0]["n"]
            vias = sorted({v for r in rows for v in r["wrong_via"]})
            summary[tag][q] = {
                "n": n, "right": float(np.mean([r["right"] / n for r in rows])),
                "wrong_via": {v: float(np.mean([r["wrong_via"].get(v, 0) / n for r in rows])) for v in vias},
                "gold_also_tag": rows[0]["gold_also_tag"] / n,
            }
    emit({"half": args.half, "halves": info, "work": str(args.work), "seeds": args.seeds, "qtypes": args.qtypes,
          "summary": summary, "runs": runs, "command": "python " + " ".join(sys.argv),
          "wall_s": round(time.perf_counter() - t0, 1)}, args.out)


if __name__ == "__main__":
    main()
