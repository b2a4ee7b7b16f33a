"""Does a fine-tuned QA model's relation-following term reach the answers? Per question type.

For each model and each sampled test question with a linked topic and a gold answer, the scorer's
path mass ``p`` (:meth:`kgfm.qa.model.AnswerScorer.path_scores`) of the best gold answer:

* ``reaches`` -- the share of questions where ``p_gold > 0.5`` (the relation path the question's
  vector asks for carries most of its mass to a gold answer);
* ``path_top1`` -- the share where a gold answer has the highest path mass of all candidates
  (ties count against it): the path term alone would answer;
* ``median_p_gold``, and Hits@1 of the whole scorer beside them, overall and per question type.

This is how the 2-hop failure of ``scorer.path_score: mass`` was found: for questions about a
person (``actor_to_movie_to_director``...) the attention is spread over the directions, so
``p_gold`` stays far below 0.5 (``reaches`` 0.00 on all 18 person types of 21), ``8 * p`` is too small to
count beside the embedding term, and that term alone ranks the candidates.

    python bench/qa_path_probe.py --hops 2 --limit 1000 --threads 1 \\
        --model runs/qa-seeds-2hop-e1/2hop-plain-s0/model runs/qa-seeds-2hop-e1/2hop-plain-logpath-s0/model \\
                runs/qa-seeds-2hop-e1-alltrain/2hop-plain-s0/model runs/qa-seeds-2hop-e1-alltrain/2hop-plain-logpath-s0/model \\
        --out bench/results/qa_path_probe_2hop.json

(the plain MiniLM runs of seed 0 from ``bench_qa_seeds.py``, with 2,000 and with all training questions,
under ``mass`` and under ``log``)
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from _emit import emit  # noqa: E402  (bench/, the script's own folder)


def probe(model_dir: Path, hops: int, limit: int) -> dict:
    import numpy as np
    import torch

    from kgfm.qa.answer import QAEngine
    from kgfm.qa.data import prepare_examples
    from kgfm.qa.evaluate import split_examples
    from kgfm.qa.metaqa import EntityLookup, sample_indices
    from kgfm.qa.candidates import candidate_sets
    from kgfm.qa.ranking import encode_questions, gold_ranks

    engine = QAEngine.load(model_dir)
    try:
        examples = split_examples(engine.config, hops, "test")
        examples = [examples[i] for i in sample_indices(len(examples), limit)]  # as `kgfm eval --limit`
        prepared = prepare_examples(examples, engine.linker, EntityLookup(engine.graph))
        vectors = encode_questions(engine.model.encoder, prepared)
        ranks = gold_ranks(engine.model.scorer, vectors, prepared.topics, prepared.answers, engine.adjacency, hops)
        per_type: dict[str, list[tuple[float, bool, bool]]] = defaultdict(list)
        with torch.no_grad():
            for i, example in enumerate(examples):
                topic = prepared.topics[i : i + 1]
                if topic[0] < 0 or not len(prepared.answers[i]):
                    continue
                cands = candidate_sets(engine.adjacency, topic, hops)[0]
                cands = cands[cands >= 0]
                p = engine.model.scorer.path_scores(vectors[i : i + 1], torch.from_numpy(topic))[0][cands]
                gold = torch.isin(cands, torch.as_tensor(prepared.answers[i]))
                p_gold = float(p[gold].max()) if gold.any() else 0.0
                path_top1 = bool(gold.any()) and (not (~gold).any() or p_gold > float(p[~gold].max()))
                per_type[example.qtype or "all"].append((p_gold, path_top1, bool(ranks[i] == 1)))
    finally:
        engine.close()

    def summary(rows: list[tuple[float, bool, bool]]) -> dict:
        p = np.array([r[0] for r in rows])
        return {"n": len(rows), "reaches": round(float((p > 0.5).mean()), 4),
                "path_top1": round(float(np.mean([r[1] for r in rows])), 4),
                "median_p_gold": float(f"{np.median(p):.3g}"), "hits@1": round(float(np.mean([r[2] for r in rows])), 4)}

    rows = [r for v in per_type.values() for r in v]
    return {"model": str(model_dir), "path_score": engine.model.scorer.shape.path_score,
            "encoder_kind": engine.model.encoder.kind, **summary(rows),
            "per_qtype": {k: summary(v) for k, v in sorted(per_type.items())}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", type=Path, nargs="+", required=True, help="fine-tuned QA model folders")
    ap.add_argument("--hops", type=int, default=2)
    ap.add_argument("--limit", type=int, default=1000, help="seeded test sample (as kgfm eval --limit)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    import torch

    from kgfm.hf import offline_env

    offline_env()
    torch.set_num_threads(args.threads)
    emit({"hops": args.hops, "limit": args.limit, "models": [probe(m, args.hops, args.limit) for m in args.model]}, args.out)


if __name__ == "__main__":
    main()
