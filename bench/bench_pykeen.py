"""Link-prediction peer: PyKEEN on the same TSV splits, under a wall-clock budget.

PyKEEN's dataset classes download their files, which cannot reach the network here, so the
splits are read with ``TriplesFactory.from_path``: train.txt[.gz] builds the vocabulary, and
valid/test are mapped through it (``entity_to_id`` / ``relation_to_id``). PyKEEN drops
valid/test triples whose entity never occurs in train; kgfm counts them as misses (rank
infinity), so the MRR / Hits reported under ``test`` are PyKEEN's own numbers times the
fraction of mapped triples (``test_pykeen_known_only`` has PyKEEN's raw numbers).

Settings: PyKEEN's reproducibility configurations, shipped in the package
(``pykeen/experiments/<model>/<paper>_<model>_<dataset>.json``): RotatE (Sun et al. 2019) exists
for WN18RR and FB15k-237; ComplEx (Trouillon et al. 2016) only for their parent datasets WN18 and
FB15k, which are used here (``--model complex``, the default: PyKEEN's RotatE scoring broadcasts
``[B, N, d]`` complex tensors and took ~0.5 s per query on this CPU, hours for one test pass).
``num_epochs`` is replaced by the wall-clock budget; ``--lr`` / ``--negatives`` override the
shipped values (stored in the result). Training is PyKEEN's own ``SLCWATrainingLoop`` with a
callback that stops at the deadline and validates every ``--eval-seconds`` of training on a
seeded valid subset; the clock stops while it validates (PyKEEN's evaluator is slow here). The
best-validation weights are scored on test with PyKEEN's ``RankBasedEvaluator`` (filtered with
train + valid + test, both sides, realistic rank; ``--max-test`` scores a seeded subset).

Usage::

    python bench/bench_pykeen.py --dataset wn18rr --minutes 12 --threads 1 --out runs/bench/wn_pykeen.json
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
DATASETS = {"wn18rr": "WN18RR", "fb15k237": "FB15k-237"}
# PyKEEN ships ComplEx configs only for the parent datasets (Trouillon et al. 2016: WN18, FB15k);
# WN18RR / FB15k-237 are their inverse-leakage-free subsets, so those are the closest recommended settings.
CONFIGS = {("rotate", "wn18rr"): "rotate/sun2019_rotate_wn18rr.json",
           ("rotate", "fb15k237"): "rotate/sun2019_rotate_fb15k237.json",
           ("complex", "wn18rr"): "complex/trouillon2016_complex_wn18.json",
           ("complex", "fb15k237"): "complex/trouillon2016_complex_fb15k.json"}
METRICS = {"mrr": "inverse_harmonic_mean_rank", "hits@1": "hits_at_1", "hits@3": "hits_at_3", "hits@10": "hits_at_10",
           "mr": "arithmetic_mean_rank"}


class Deadline(Exception):
    """Raised inside the training loop when the wall-clock budget is spent."""


def load_factories(data_dir: Path):
    from pykeen.triples import TriplesFactory

    train_file = data_dir / "train.txt"
    if not train_file.is_file():
        train_file = data_dir / "train.txt.gz"
    train = TriplesFactory.from_path(train_file)
    counts = {}
    out = [train]
    for split in ("valid", "test"):
        path = data_dir / f"{split}.txt"
        total = sum(1 for line in path.read_text().splitlines() if line.strip())
        tf = TriplesFactory.from_path(path, entity_to_id=train.entity_to_id, relation_to_id=train.relation_to_id)
        counts[split] = {"total": total, "known": tf.num_triples}
        out.append(tf)
    return out, counts


def metrics(result, known_fraction: float) -> tuple[dict, dict]:
    raw = {k: float(result.get_metric(f"both.realistic.{m}")) for k, m in METRICS.items()}
    adjusted = {k: (v * known_fraction if k != "mr" else v) for k, v in raw.items()}
    return adjusted, raw


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", choices=sorted(DATASETS), required=True)
    p.add_argument("--data", type=Path, help="folder with train.txt[.gz], valid.txt, test.txt")
    p.add_argument("--model", default="complex", choices=sorted({m for m, _ in CONFIGS}))
    p.add_argument("--minutes", type=float, default=12.0, help="training wall-clock budget (validation inside it)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--lr", type=float, help="override the shipped learning rate")
    p.add_argument("--negatives", type=int, help="override the shipped negatives per positive")
    p.add_argument("--sub-batch", type=int, default=64, help="PyKEEN sub_batch_size (memory only; same gradient)")
    p.add_argument("--max-valid", type=int, default=250, help="seeded valid subset per evaluation")
    p.add_argument("--eval-seconds", type=float, default=180.0, help="training seconds between validations")
    p.add_argument("--eval-batch", type=int, default=64, help="triples per evaluation batch")
    p.add_argument("--max-test", type=int, default=0, help="score a seeded random subset of N test triples (0: all)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tag", default="")
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args()

    import pykeen.experiments
    from importlib.metadata import version

    from pykeen.evaluation import RankBasedEvaluator
    from pykeen.losses import loss_resolver
    from pykeen.models import model_resolver
    from pykeen.optimizers import optimizer_resolver
    from pykeen.training import SLCWATrainingLoop
    from pykeen.training.callbacks import TrainingCallback
    from pykeen.utils import set_random_seed

    torch.set_num_threads(args.threads)
    set_random_seed(args.seed)
    cfg_path = Path(pykeen.experiments.__file__).parent / CONFIGS[(args.model, args.dataset)]
    shipped = json.loads(cfg_path.read_text())
    pipe = copy.deepcopy(shipped["pipeline"])
    if args.lr is not None:
        pipe["optimizer_kwargs"]["lr"] = args.lr
    if args.negatives is not None:
        pipe["negative_sampler_kwargs"]["num_negs_per_pos"] = args.negatives
    data_dir = args.data or (REPO / ".." / "shared" / "data" / DATASETS[args.dataset])
    t0 = time.monotonic()
    (train, valid, test), counts = load_factories(data_dir)
    load_s = time.monotonic() - t0
    print(f"{args.dataset}: {train.num_entities} entities, {train.num_relations} relations, {train.num_triples} train, "
          f"splits {counts}", flush=True)

    model_kwargs = dict(pipe["model_kwargs"])
    if "regularizer" in pipe:  # as pykeen.pipeline does: the model's regularizer
        model_kwargs.update(regularizer=pipe["regularizer"], regularizer_kwargs=pipe.get("regularizer_kwargs"))
    model = model_resolver.make(pipe["model"], model_kwargs, triples_factory=train,
                                loss=loss_resolver.make(pipe["loss"], pipe["loss_kwargs"]), random_seed=args.seed)
    optimizer = optimizer_resolver.make(pipe["optimizer"], pipe["optimizer_kwargs"], params=model.parameters())
    assert pipe["training_loop"].lower() == "slcwa"
    loop = SLCWATrainingLoop(model=model, triples_factory=train, optimizer=optimizer,
                             negative_sampler=pipe["negative_sampler"],
                             negative_sampler_kwargs=pipe["negative_sampler_kwargs"])
    evaluator = RankBasedEvaluator(filtered=True)
    g = torch.Generator().manual_seed(args.seed)
    vsub = valid.mapped_triples
    if len(vsub) > args.max_valid:
        vsub = vsub[torch.randperm(len(vsub), generator=g)[: args.max_valid]]
    valid_known = counts["valid"]["known"] / counts["valid"]["total"]
    test_known = counts["test"]["known"] / counts["test"]["total"]
    filters = [train.mapped_triples, valid.mapped_triples]
    batches_per_epoch = -(-train.num_triples // pipe["training_kwargs"]["batch_size"])
    load_start = list(os.getloadavg())
    start = time.monotonic()
    deadline = start + args.minutes * 60
    state = {"batches": 0, "next_eval": start + args.eval_seconds, "best": -1.0, "best_state": None, "loss": 0.0, "n": 0, "val_total": 0.0}
    curve: list[dict] = []

    def validate() -> None:
        nonlocal deadline
        v0 = time.monotonic()
        res = evaluator.evaluate(model, vsub, batch_size=args.eval_batch, additional_filter_triples=filters,
                                 use_tqdm=False)
        model.train()
        val, _ = metrics(res, valid_known)
        point = {"epoch": state["batches"] / batches_per_epoch, "elapsed": v0 - start - state["val_total"],
                 "loss": state["loss"] / max(state["n"], 1), "val_mrr": val["mrr"], "val": val, "batches": state["batches"]}
        point["val_seconds"] = time.monotonic() - v0
        state["val_total"] += point["val_seconds"]
        deadline += point["val_seconds"]  # the clock stops while PyKEEN validates (its evaluator is slow on CPU)
        curve.append(point)
        state["loss"], state["n"] = 0.0, 0
        print(f"[pykeen] epoch {point['epoch']:.3f} batch {state['batches']} loss {point['loss']:.4f} "
              f"val MRR {val['mrr']:.4f} t={point['elapsed']:.0f}s", flush=True)
        if val["mrr"] > state["best"]:
            state["best"] = val["mrr"]
            state["best_state"] = {k: v.detach().clone() for k, v in model.state_dict().items()}

    class Clock(TrainingCallback):
        def on_batch(self, epoch: int, batch, batch_loss: float, **kwargs) -> None:
            state["loss"] += float(batch_loss)
            state["n"] += 1

        def post_batch(self, epoch: int, batch, **kwargs) -> None:
            state["batches"] += 1
            now = time.monotonic()
            if now >= deadline:
                raise Deadline()
            if now >= state["next_eval"]:
                validate()
                state["next_eval"] = time.monotonic() + args.eval_seconds

    try:
        loop.train(triples_factory=train, num_epochs=10_000, batch_size=pipe["training_kwargs"]["batch_size"],
                   sub_batch_size=args.sub_batch, use_tqdm=False, use_tqdm_batch=False, callbacks=[Clock()])
    except Deadline:
        pass
    validate()
    train_s = time.monotonic() - start
    result_train_s = train_s - sum(c["val_seconds"] for c in curve)
    model.load_state_dict(state["best_state"])
    t1 = time.monotonic()
    test_triples = test.mapped_triples
    if args.max_test and len(test_triples) > args.max_test:
        test_triples = test_triples[torch.randperm(len(test_triples), generator=torch.Generator().manual_seed(args.seed))[: args.max_test]]
    res = evaluator.evaluate(model, test_triples, batch_size=args.eval_batch, additional_filter_triples=filters,
                             use_tqdm=False)
    test_m, test_raw = metrics(res, test_known)
    result = {
        "dataset": args.dataset, "model": f"pykeen-{args.model}", "tag": args.tag, "budget_minutes": args.minutes,
        "hyper": {"config_file": f"pykeen/experiments/{CONFIGS[(args.model, args.dataset)]}", "title": shipped["metadata"]["title"],
                  "pipeline": pipe, "overrides": {"lr": args.lr, "negatives": args.negatives}, "sub_batch_size": args.sub_batch,
                  "evaluator": "RankBasedEvaluator(filtered=True), both sides, realistic rank, filter train+valid+test"},
        "train_seconds": train_s - sum(c["val_seconds"] for c in curve), "wall_seconds_with_validation": train_s,
        "test_triples_scored": len(test_triples), "epochs": state["batches"] / batches_per_epoch, "batches": state["batches"],
        "validation_seconds": sum(c["val_seconds"] for c in curve), "best_epoch": max(curve, key=lambda c: c["val_mrr"])["epoch"], "test_eval_seconds": time.monotonic() - t1,
        "test": test_m | {"known_fraction": test_known}, "test_pykeen_known_only": test_raw, "curve": curve,
        "split_counts": counts, "parameters": sum(p.numel() for p in model.parameters()),
        "load_seconds": load_s, "load_average_start": load_start, "load_average_end": list(os.getloadavg()),
        "threads": args.threads, "mrr_per_minute": test_m["mrr"] / max(result_train_s / 60.0, 1e-9),
        "env": {"device": "cpu", "torch": torch.__version__, "pykeen": version("pykeen"), "cpu_count": os.cpu_count(),
                "torch_threads": torch.get_num_threads(), "host": platform.node()},
        "command": " ".join(sys.argv),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=str))
    print(f"RESULT {args.dataset} pykeen-{args.model}: test MRR {test_m['mrr']:.4f} (known-only {test_raw['mrr']:.4f}) "
          f"H@10 {test_m['hits@10']:.4f} in {train_s / 60:.1f} min ({result['epochs']:.3f} epochs) -> {args.out}", flush=True)


if __name__ == "__main__":
    main()
