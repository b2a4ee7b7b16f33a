"""How much Hits@1 a MetaQA question set leaves above a model, given this KB (issue 13, item 3).

No model is involved: each question's type (``qa_*_qtype.txt``, e.g. ``actor_to_movie_to_director``)
names its relation path, which is followed from the bracketed topic over ``kb_partial.txt.gz``
(the topic itself excluded, as MetaQA's answers exclude it). Per split and per question type:

* ``path_oracle`` -- the share of questions whose path reaches a gold answer: the Hits@1 of a model
  that follows the right relations and ranks a gold answer first among what they reach. No scorer
  that answers from this KB can do better on average than this, short of guessing off-path;
* ``uniform_pick`` -- the expected Hits@1 of a model that follows the right relations and picks
  uniformly among what they reach (gold share of the reached set);
* ``empty_path`` -- the share whose path reaches nothing (a missing KB line).

Reported for the whole split and for the seeded sample that ``kgfm eval --limit N`` and
``bench/bench_qa_seeds.py`` score (:func:`kgfm.qa.metaqa.sample_indices`), so a +1-point target can
be set against the points a model has left.

    python bench/qa_headroom.py --limit 1000 --out bench/results/qa_headroom.json
"""

from __future__ import annotations

import argparse
import gzip
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from _emit import emit  # noqa: E402  (bench/, the script's own folder)

METAQA = REPO.parent / "shared" / "data" / "MetaQA"
# the relation that links a movie to an entity of each kind named in MetaQA's question types
KIND_RELATION = {"actor": "starred_actors", "director": "directed_by", "writer": "written_by",
                 "genre": "has_genre", "language": "in_language", "year": "release_year", "tags": "has_tags",
                 "tag": "has_tags", "imdbrating": "has_imdb_rating", "imdbvotes": "has_imdb_votes"}
SETS = {  # name -> (QA file, qtype file, hops)
    "1-hop test": ("1-hop/vanilla/qa_test.txt", "1-hop/qa_test_qtype.txt", 1),
    "1-hop paraphrased dev": ("1-hop/ntm/qa_dev.txt", "1-hop/qa_dev_qtype.txt", 1),
    "2-hop test": ("2-hop/vanilla/qa_test.txt", "2-hop/qa_test_qtype.txt", 2),
}


def qtype_path(qtype: str) -> list[tuple[str, bool]]:
    """``actor_to_movie_to_director`` -> ``[(starred_actors, backward), (directed_by, forward)]``.

    Every MetaQA step goes through a movie: ``X_to_movie`` follows X's relation from the movie's
    side (tail -> head), ``movie_to_X`` follows it forward (head -> tail).
    """
    kinds = qtype.split("_to_")
    steps = []
    for a, b in zip(kinds, kinds[1:]):
        if b == "movie":
            steps.append((KIND_RELATION[a], False))
        elif a == "movie":
            steps.append((KIND_RELATION[b], True))
        else:
            raise ValueError(f"question type {qtype!r}: a step {a}->{b} that does not pass a movie")
    return steps


def load_kb(path: Path) -> dict[tuple[str, bool], dict[str, set[str]]]:
    """``(relation, forward)`` -> node -> neighbours, from ``head|relation|tail`` lines."""
    adj: dict[tuple[str, bool], dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            head, rel, tail = line.rstrip("\n").split("|", 2)
            adj[(rel, True)][head].add(tail)
            adj[(rel, False)][tail].add(head)
    return adj


def follow(adj, topic: str, steps: list[tuple[str, bool]]) -> set[str]:
    frontier = {topic}
    for step in steps:
        table = adj.get(step, {})
        frontier = set().union(*(table.get(n, set()) for n in frontier)) if frontier else set()
    frontier.discard(topic)
    return frontier


def score(adj, examples) -> dict:
    per: dict[str, list[tuple[bool, float, bool]]] = defaultdict(list)
    for e in examples:
        reached = follow(adj, e.topic, qtype_path(e.qtype))
        gold = set(e.answers)
        hit = len(reached & gold)
        per[e.qtype].append((hit > 0, hit / len(reached) if reached else 0.0, not reached))

    def summary(rows) -> dict:
        a = np.array(rows, dtype=float)
        return {"n": len(rows), "path_oracle": round(float(a[:, 0].mean()), 4),
                "uniform_pick": round(float(a[:, 1].mean()), 4), "empty_path": round(float(a[:, 2].mean()), 4)}

    out = summary([r for rows in per.values() for r in rows])
    out["per_qtype"] = {t: summary(rows) for t, rows in sorted(per.items())}
    return out


def main() -> None:
    from kgfm.qa.metaqa import read_qa_file, sample_indices

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=1000, help="the seeded sample size scored by the QA benches")
    ap.add_argument("--kb", type=Path, default=METAQA / "kb_partial.txt.gz")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "qa_headroom.json")
    args = ap.parse_args()
    adj = load_kb(args.kb)
    result: dict = {"kb": str(args.kb.relative_to(REPO.parent)) if args.kb.is_relative_to(REPO.parent) else str(args.kb),
                    "limit": args.limit, "command": " ".join(["python", "bench/qa_headroom.py", *sys.argv[1:]]),
                    "sets": {}}
    for name, (qa, qt, hops) in SETS.items():
        examples = read_qa_file(METAQA / qa, METAQA / qt)
        keep = sample_indices(len(examples), args.limit)
        result["sets"][name] = {"hops": hops, "whole_split": score(adj, examples),
                                f"sample_{args.limit}": score(adj, [examples[i] for i in keep])}
        whole, sample = result["sets"][name]["whole_split"], result["sets"][name][f"sample_{args.limit}"]
        print(f"{name}: path oracle {whole['path_oracle']:.4f} (sample {sample['path_oracle']:.4f}), "
              f"uniform pick {whole['uniform_pick']:.4f} (sample {sample['uniform_pick']:.4f})", flush=True)
    emit(result, args.out)


if __name__ == "__main__":
    main()
