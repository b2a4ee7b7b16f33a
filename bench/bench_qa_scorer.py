"""The QA scorer's embedding term, forward + backward per batch: the projection of every candidate
(the formula before 2026-12-07) against the question projected back to the embedding width
(:meth:`kgfm.qa.model.AnswerScorer.embedding_scores`), with either of its two branches forced.

MetaQA's sizes: the entity table of the QA index (42,718 x 200), batch 32, projection 128, and
candidate lists of 7 (1-hop mean), 1,000 and 3,000, 10,118 (3-hop mean) and 30,000 entities.
Each cell is the best of ``--repeats`` timed passes after one warm-up, all in one process, so the
ratios compare like with like. Also reports the largest difference between the formulas.

    python bench/bench_qa_scorer.py --index runs/graph-metaqa-sub-e1/index --out bench/results/qa_scorer.json
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from _emit import emit  # noqa: E402  (bench/, the script's own folder)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--index", type=Path, default=None, help="entity index folder (default: a random 42,718 x 200 table)")
    ap.add_argument("--candidates", type=int, nargs="+", default=[7, 1000, 3000, 10118, 30000])
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()

    import torch

    from kgfm.qa.model import AnswerScorer, ScorerShape

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    if args.index:
        from kgfm.index import EntityIndex

        table = torch.from_numpy(EntityIndex.load(args.index).embeddings.astype("float32"))
    else:
        table = torch.randn(42718, 200)
    n, d = table.shape
    scorer = AnswerScorer(ScorerShape(hidden_size=384, num_directed_relations=18, max_hops=3, entity_dim=d,
                                      proj_dim=128, dropout=0.0))
    scorer.entity_embeddings = table

    def projected(q, topics, cands):  # every candidate projected to k, then the dot product
        query = scorer.topic_proj(table[topics]) * scorer.question_relation(q) + scorer.question_type(q)
        return torch.einsum("bk,bck->bc", query, scorer.cand_proj(table[cands])) / math.sqrt(scorer.shape.proj_dim)

    def branch(factor):
        def run(q, topics, cands):
            scorer.DENSE_TABLE_FACTOR = factor
            return scorer.embedding_scores(q, topics, cands)
        return run

    variants = {"projected_candidates": projected, "whole_table": branch(10**9), "candidate_rows": branch(0),
                "shipped": branch(AnswerScorer.DENSE_TABLE_FACTOR)}
    rows = []
    for c in args.candidates:
        topics = torch.randint(0, n, (args.batch,))
        cands = torch.randint(0, n, (args.batch, c))
        q = torch.randn(args.batch, 384)
        row = {"candidates": c}
        with torch.no_grad():
            ref = projected(q, topics, cands)
            row["max_abs_diff"] = max(float((v(q, topics, cands) - ref).abs().max()) for v in variants.values())
        for name, fn in variants.items():
            times = []
            for rep in range(args.repeats + 1):
                scorer.zero_grad(set_to_none=True)
                t = time.perf_counter()
                fn(q, topics, cands).sum().backward()
                times.append(time.perf_counter() - t)
            row[f"{name}_ms"] = round(min(times[1:]) * 1000, 2)
        scorer.DENSE_TABLE_FACTOR = AnswerScorer.DENSE_TABLE_FACTOR
        row["speedup_shipped_vs_projected"] = round(row["projected_candidates_ms"] / row["shipped_ms"], 1)
        rows.append(row)
        print(row, flush=True)
    emit({"entities": n, "dim": d, "batch": args.batch, "proj_dim": scorer.shape.proj_dim, "threads": args.threads,
          "dense_table_factor": AnswerScorer.DENSE_TABLE_FACTOR, "load_average": [round(x, 2) for x in os.getloadavg()],
          "what": "embedding term forward + backward per batch, best of repeats, ms", "rows": rows,
          "command": " ".join(["python", "bench/bench_qa_scorer.py", *sys.argv[1:]])}, args.out)


if __name__ == "__main__":
    main()
