"""Entities added after training: can the trained GNN embed them from their neighbours?

A user's graph grows after the encoder is trained. A shallow decoder has nothing for a new
entity (its embedding was never trained); a GNN computes every embedding from the graph, so it
can embed a new entity from the facts that connect it to known ones, with no retraining. This
measures that on FB15k-237:

* ``--new K`` entities that occur in the test split (training degree in ``[--min-degree,
  --max-degree]``, seeded choice) are removed from training: every training and validation triple
  that touches one is dropped, so the model never sees them (they stay in the vocabulary, as a
  grown store's idx order would have them, and their embedding rows are zeroed before scoring);
* the model (item 4's 12-minute CompGCN-sub or no-message-passing ComplEx settings) trains under
  the wall-clock budget on what is left, keeping the best validation weights;
* then the new entities' training triples are added back to the message-passing graph only, and
  every test triple touching a new entity is scored both ways (tail and head prediction), filtered
  against all of train/valid/test: ``no_edges`` (the graph as trained), ``with_edges`` (the new
  facts in the graph: the GNN's inductive embedding; identical to ``no_edges`` for the shallow
  model), ``mean_entity`` (a new entity's embedding set to the mean of the known ones: the
  relation prior, what a model knows with no fact about the entity), and ``neighbour_mean`` (set
  to the mean of its known neighbours' final embeddings: a cheap rule that needs no GNN).
  ``transductive`` is the usual test MRR on the test triples among known entities.

Usage (both runs at the same time on one core each, as item 4's pairs)::

    python bench/linkpred_inductive.py --model gnn --minutes 12 --threads 1 --out runs/bench/ind_gnn.json
    python bench/linkpred_inductive.py --model shallow --minutes 12 --threads 1 --out runs/bench/ind_shallow.json
    python bench/linkpred_inductive.py --combine runs/bench/ind_gnn.json runs/bench/ind_shallow.json \
        --out bench/results/linkpred_inductive_fb15k237.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from bench_linkpred import device_info, load_splits, timed_fit  # noqa: E402

# item 4's 12-minute ComplEx pair (README, item 4)
SHARED = ["train.sampler=full", "train.batch_size=4096", "model.dim=200", "optim.optimizer=adagrad", "optim.lr=0.1",
          "train.regularization=0.05"]
VARIANTS = {"gnn": ["model.composition=sub", "optim.gnn_lr=0.01", "model.gnn_dropout=0.0"], "shallow": ["model.conv=none"]}


def pick_new(data, k: int, seed: int, lo: int, hi: int) -> torch.Tensor:
    """``k`` entities of the test split whose training degree is in ``[lo, hi]``, seeded, sorted."""
    degree = torch.bincount(data.train[:, [0, 2]].reshape(-1), minlength=data.num_entities)
    in_test = torch.zeros(data.num_entities, dtype=torch.bool)
    in_test[data.test[:, 0]] = True
    in_test[data.test[:, 2]] = True
    pool = torch.nonzero(in_test & (degree >= lo) & (degree <= hi)).flatten()
    if len(pool) < k:
        raise SystemExit(f"only {len(pool)} test entities with training degree in [{lo}, {hi}]; asked for {k}")
    g = torch.Generator().manual_seed(seed)
    return pool[torch.randperm(len(pool), generator=g)[:k]].sort().values


@torch.no_grad()
def score(model, ent: torch.Tensor, queries: torch.Tensor, is_new: torch.Tensor, known, num_relations: int) -> dict:
    """Filtered MRR / Hits of the test triples touching a new entity, both directions."""
    from kgfm.encoder.evaluate import rank_queries

    h, r, t = queries.unbind(1)
    fn = lambda e, rel: model.score_all(ent, e, rel)  # noqa: E731
    ranks = torch.cat([rank_queries(fn, h, r, t, known, 512), rank_queries(fn, t, r + num_relations, h, known, 512)]).double()
    query, answer = torch.cat([h, t]), torch.cat([t, h])

    def summary(mask: torch.Tensor) -> dict:
        x = ranks[mask]
        return {"queries": int(mask.sum()), "mrr": round(float((1.0 / x).mean()), 4) if len(x) else None,
                "hits@1": round(float((x <= 1).double().mean()), 4) if len(x) else None,
                "hits@10": round(float((x <= 10).double().mean()), 4) if len(x) else None}

    everything = torch.ones_like(ranks, dtype=torch.bool)
    return {"all": summary(everything), "query_is_new": summary(is_new[query] & ~is_new[answer]),
            "answer_is_new": summary(is_new[answer] & ~is_new[query]), "both_new": summary(is_new[query] & is_new[answer])}


def neighbour_mean(ent: torch.Tensor, edges: torch.Tensor, is_new: torch.Tensor) -> torch.Tensor:
    """``ent`` with each new entity's row replaced by the mean of its known neighbours' rows."""
    h, t = edges[:, 0], edges[:, 2]
    src, dst = torch.cat([t, h]), torch.cat([h, t])  # message from src to dst, both directions
    keep = is_new[dst] & ~is_new[src]
    sums = torch.zeros_like(ent).index_add_(0, dst[keep], ent[src[keep]])
    count = torch.zeros(len(ent), dtype=ent.dtype).index_add_(0, dst[keep], torch.ones(int(keep.sum()), dtype=ent.dtype))
    out = ent.clone()
    out[is_new] = sums[is_new] / count[is_new].clamp(min=1).unsqueeze(1)
    return out


def run(args) -> dict:
    from kgfm.config import load_config, parse_overrides
    from kgfm.encoder.config import GraphTrainConfig
    from kgfm.encoder.data import LinkPredData
    from kgfm.encoder.evaluate import KnownAnswers
    from kgfm.encoder.loop import Trainer
    from kgfm.encoder.model import KGEncoder

    torch.set_num_threads(args.threads)
    device = torch.device("cpu")
    _graph, data = load_splits(args.data)
    new = pick_new(data, args.new, args.seed, args.min_degree, args.max_degree)
    is_new = torch.zeros(data.num_entities, dtype=torch.bool)
    is_new[new] = True

    def touches(x: torch.Tensor) -> torch.Tensor:
        return is_new[x[:, 0]] | is_new[x[:, 2]]

    reduced = LinkPredData(data.num_entities, data.num_relations, train=data.train[~touches(data.train)],
                           valid=data.valid[~touches(data.valid)], test=data.test[~touches(data.test)],
                           valid_missing=data.valid_missing, test_missing=data.test_missing)
    overrides = parse_overrides(SHARED + VARIANTS[args.model] + [f"run.seed={args.seed}", f"run.max_minutes={args.minutes}"])
    cfg = load_config(GraphTrainConfig, REPO / "configs/graph_fb15k237.yaml", overrides)
    torch.manual_seed(cfg.run.seed)
    model = KGEncoder(data.num_entities, data.num_relations, cfg.model)
    trainer = Trainer(model, reduced, cfg, device, max_valid_triples=1000)
    state = timed_fit(trainer, args.minutes, 60.0)
    trainer.restore_best()
    t0 = time.monotonic()
    transductive = {k: v for k, v in trainer.evaluate("test").items() if not isinstance(v, dict)}
    model.eval()
    with torch.no_grad():
        model.entity.weight[new] = 0.0  # never trained: only pushed around as negatives
    known = KnownAnswers(torch.cat([data.train, data.valid, data.test]), data.num_entities, data.num_relations)
    queries = data.test[touches(data.test)]
    with torch.no_grad():
        settings = {"no_edges": model.encode()}
        settings["mean_entity"] = settings["no_edges"].clone()
        settings["mean_entity"][is_new] = settings["no_edges"][~is_new].mean(0)
        model.set_graph(*LinkPredData(data.num_entities, data.num_relations, data.train, data.valid, data.test).graph())
        settings["with_edges"] = model.encode()
        settings["neighbour_mean"] = neighbour_mean(settings["with_edges"], data.train, is_new)
    inductive = {name: score(model, ent, queries, is_new, known, data.num_relations) for name, ent in settings.items()}
    return {
        "model": args.model, "seed": args.seed, "minutes": args.minutes, "overrides": SHARED + VARIANTS[args.model],
        "new_entities": int(len(new)), "degree_range": [args.min_degree, args.max_degree],
        "train_triples_removed": int(touches(data.train).sum()), "valid_triples_removed": int(touches(data.valid).sum()),
        "test_triples_touching_new": int(len(queries)), "train_triples_left": int(len(reduced.train)),
        "train_seconds": state.elapsed_s, "epochs": state.epoch, "eval_seconds": round(time.monotonic() - t0, 1),
        "transductive_test": transductive, "inductive": inductive, "load_average": list(os.getloadavg()),
        "curve": [{"epoch": h["epoch"], "elapsed": h["elapsed"], "val_mrr": (h.get("val") or {}).get("mrr")}
                  for h in state.history],
        "env": device_info(device),
    }


def combine(paths: list[Path], out: Path, note: str) -> dict:
    """Merge runs: every (model, seed, setting) row, the mean of each over seeds, and the GNN's inductive
    embedding (``gnn/with_edges``) against each shallow setting, paired by seed (MRR over all queries and
    over the queries asked from a new entity)."""
    import numpy as np
    from scipy import stats

    runs = [json.loads(p.read_text()) for p in paths]
    rows = []
    for r in runs:
        for name, res in r["inductive"].items():
            rows.append({"model": r["model"], "seed": r["seed"], "setting": name, "mrr": res["all"]["mrr"],
                         "hits@10": res["all"]["hits@10"], "query_is_new_mrr": res["query_is_new"]["mrr"],
                         "answer_is_new_mrr": res["answer_is_new"]["mrr"], "transductive_mrr": r["transductive_test"]["mrr"]})

    def by_seed(model: str, setting: str, key: str) -> dict[int, float]:
        return {r["seed"]: r[key] for r in rows if r["model"] == model and r["setting"] == setting}

    means = {}
    for model, setting in sorted({(r["model"], r["setting"]) for r in rows}):
        means[f"{model}/{setting}"] = {key: round(float(np.mean(list(by_seed(model, setting, key).values()))), 4)
                                       for key in ("mrr", "query_is_new_mrr", "answer_is_new_mrr", "transductive_mrr")}
    paired = {}
    for setting in ("mean_entity", "neighbour_mean", "no_edges"):
        for key in ("mrr", "query_is_new_mrr"):
            a, b = by_seed("gnn", "with_edges", key), by_seed("shallow", setting, key)
            seeds = sorted(set(a) & set(b))
            if not seeds:
                continue
            d = np.array([a[s] - b[s] for s in seeds])
            entry = {"seeds": seeds, "mean_diff": round(float(d.mean()), 4), "per_seed": [round(float(x), 4) for x in d]}
            if len(seeds) >= 2:
                entry["sd"] = round(float(d.std(ddof=1)), 4)
                entry["p"] = float(stats.ttest_rel([a[s] for s in seeds], [b[s] for s in seeds]).pvalue)
            paired[f"gnn/with_edges - shallow/{setting}: {key}"] = entry
    result = {"note": note, "means": means, "paired": paired, "summary": rows, "runs": runs}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({"means": means, "paired": paired}, indent=1))
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", choices=sorted(VARIANTS))
    p.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "FB15k-237")
    p.add_argument("--minutes", type=float, default=12.0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--new", type=int, default=500, help="entities held out of training")
    p.add_argument("--min-degree", type=int, default=3)
    p.add_argument("--max-degree", type=int, default=100)
    p.add_argument("--combine", nargs="+", type=Path)
    p.add_argument("--note", default="")
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args()
    if args.combine:
        combine(args.combine, args.out, args.note)
        return
    if args.model is None:
        p.error("--model is required unless --combine")
    result = run(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("model", "new_entities", "transductive_test", "inductive")}, indent=1))


if __name__ == "__main__":
    main()
