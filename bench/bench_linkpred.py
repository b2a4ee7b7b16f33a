"""Link-prediction benchmark: kgfm's GNN encoder vs PyG's ``torch_geometric.nn.kge`` peer.

Both read the standard splits (train.txt[.gz] / valid.txt / test.txt) of WN18RR or
FB15k-237, train under the same wall-clock budget (periodic validation counted inside it),
keep the weights of the best validation MRR and report filtered MRR / Hits@1/3/10 on test
(head + tail prediction, both scored with kgfm.encoder.evaluate; valid/test triples whose
entity never occurs in train count as misses for both). ``mrr_per_minute`` = test MRR /
training minutes.

The vocabulary is built from train.txt only, exactly as `kgfm build-graph` + `kgfm train
--stage graph` see it (configs/graph_wn18rr.yaml); the benchmark reads the TSV directly so it
runs where the embedded store is not installed (e.g. a GPU box).

Usage::

    python bench/bench_linkpred.py --dataset wn18rr --model ours --minutes 30 --out runs/bench/wn_ours.json
    python bench/bench_linkpred.py --dataset wn18rr --model pyg-rotate --minutes 30 --out runs/bench/wn_peer.json
    python bench/bench_linkpred.py --combine runs/bench/wn_*.json --out bench/results/linkpred_wn18rr.json
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
sys.path.insert(0, str(REPO))

DATASETS = {"wn18rr": ("WN18RR", "configs/graph_wn18rr.yaml"), "fb15k237": ("FB15k-237", "configs/graph_fb15k237.yaml")}


def load_splits(data_dir: Path):
    from kgfm.encoder.data import build_data, read_triple_file, tensors_from_triples

    train_file = data_dir / "train.txt"
    if not train_file.is_file():
        train_file = data_dir / "train.txt.gz"
    train = read_triple_file(train_file)
    valid = read_triple_file(data_dir / "valid.txt")
    test = read_triple_file(data_dir / "test.txt")
    graph = tensors_from_triples(train)
    return graph, build_data(graph, valid, test)


def device_info(device: torch.device) -> dict:
    info = {"device": str(device), "torch": torch.__version__, "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(), "host": platform.node()}
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


# ---- ours ------------------------------------------------------------------------------
def run_ours(args, data, device) -> dict:
    from kgfm.config import load_config, parse_overrides
    from kgfm.encoder.config import GraphTrainConfig
    from kgfm.encoder.loop import Trainer
    from kgfm.encoder.model import KGEncoder

    overrides = parse_overrides(args.set)
    overrides["run.max_minutes"] = args.minutes
    cfg = load_config(GraphTrainConfig, REPO / (args.config or DATASETS[args.dataset][1]), overrides)
    torch.manual_seed(cfg.run.seed)
    model = KGEncoder(data.num_entities, data.num_relations, cfg.model)
    trainer = Trainer(model, data, cfg, device, max_valid_triples=args.max_valid)
    if args.eval_seconds:
        state = timed_fit(trainer, args.minutes, args.eval_seconds)
    else:
        state = trainer.fit()
    trainer.restore_best()
    t0 = time.monotonic()
    test = trainer.evaluate("test")
    if args.by_degree:
        test["by_degree"] = by_degree(trainer, data)
    return {
        "hyper": {"model": cfg.model.model_dump(mode="json"), "train": cfg.train.model_dump(mode="json"),
                  "optim": cfg.optim.model_dump(mode="json")},
        "train_seconds": state.elapsed_s, "epochs": state.epoch, "best_epoch": state.best_step,
        "stopped": state.stopped, "test_eval_seconds": time.monotonic() - t0, "test": test,
        "load_average": list(os.getloadavg()),
        "curve": [{"epoch": h["epoch"], "elapsed": h["elapsed"], "loss": h["loss"], "val_mrr": (h.get("val") or {}).get("mrr")}
                  for h in state.history],
        "parameters": sum(p.numel() for p in model.parameters()),
    }


DEGREE_BUCKETS = ((1, 5), (6, 20), (21, 100), (101, None))


def degree_bucket(degree: int) -> str:
    """``"6-20"``-style label of the :data:`DEGREE_BUCKETS` bucket holding ``degree`` (>= 1)."""
    for lo, hi in DEGREE_BUCKETS:
        if degree >= lo and (hi is None or degree <= hi):
            return f"{lo}-{hi}" if hi is not None else f">{lo - 1}"
    raise ValueError(f"degree {degree}: below the first bucket")


@torch.no_grad()
def by_degree(trainer, data) -> dict:
    """Filtered test MRR per training-degree bucket, of the answer entity and of the query entity.

    Every mapped test triple gives two queries (tail and head prediction, as ``evaluate_triples``);
    an entity's degree counts its training triples in either position. Unmapped test triples (scored
    as misses in the headline figure) have no degree and are left out here.
    """
    from kgfm.encoder.evaluate import rank_queries

    h, r, t = data.test.long().unbind(1)
    score_fn = trainer.score_fn()
    bs = trainer.settings.eval_batch_size
    ranks = torch.cat([rank_queries(score_fn, h, r, t, trainer.known, bs),
                       rank_queries(score_fn, t, r + data.num_relations, h, trainer.known, bs)]).double().cpu()
    degree = torch.bincount(data.train[:, [0, 2]].reshape(-1).long().cpu(), minlength=data.num_entities)
    query, answer = torch.cat([h, t]).cpu(), torch.cat([t, h]).cpu()
    uppers = torch.tensor([hi for _, hi in DEGREE_BUCKETS[:-1]])  # bucket k holds uppers[k-1] < degree <= uppers[k]
    out: dict[str, dict] = {"mapped_queries": int(ranks.numel()), "mapped_mrr": float((1.0 / ranks).mean())}
    for side, ents in (("answer", answer), ("query", query)):
        if len(ents) and int(degree[ents].min()) < DEGREE_BUCKETS[0][0]:
            raise ValueError(f"{side}: a mapped entity with no training triple")  # the vocabulary is train's
        bucket = torch.bucketize(degree[ents], uppers)
        rows = {}
        for k, (lo, _) in enumerate(DEGREE_BUCKETS):
            mask = bucket == k
            rows[degree_bucket(lo)] = {
                "queries": int(mask.sum()), "mrr": float((1.0 / ranks[mask]).mean()) if mask.any() else None,
                "hits@10": float((ranks[mask] <= 10).double().mean()) if mask.any() else None}
        out[side] = rows
    return out


def timed_fit(trainer, minutes: float, eval_seconds: float):
    """Wall-clock loop with validation every ``eval_seconds`` (inside the budget), also mid-epoch.

    Same steps as ``Trainer.train_epoch`` (``trainer.loss``, the configured optimizer, seeded
    epoch order); on CPU an epoch can outlast the whole budget, so ``Trainer.fit``'s per-epoch
    validation would give one point. Keeps the best-validation weights (``trainer.best_weights``);
    ``epoch`` in the curve is fractional (queries seen / training queries).
    """
    from kgfm.training.checkpoint import Progress

    model, data, cfg = trainer.model, trainer.data, trainer.cfg
    st = Progress()
    ent_q, rel_q, ans = data.queries(data.train)
    bs = cfg.train.batch_size
    start = time.monotonic()
    deadline, next_eval = start + minutes * 60, start + eval_seconds
    best, seen, total, count, epoch, done = -1.0, 0, 0.0, 0, 0, False

    def validate() -> None:
        nonlocal best, total, count
        val = trainer.evaluate("valid")
        model.train()
        point = {"epoch": seen / len(ent_q), "elapsed": time.monotonic() - start, "loss": total / max(count, 1),
                 "val": {k: v for k, v in val.items() if not isinstance(v, dict)}, "steps": st.step}
        st.history.append(point)
        print(f"[ours] epoch {point['epoch']:.3f} step {st.step} loss {point['loss']:.4f} val MRR {val['mrr']:.4f} "
              f"t={point['elapsed']:.0f}s", flush=True)
        total, count = 0.0, 0
        if val["mrr"] > best:
            best, st.best, st.best_step = val["mrr"], val["mrr"], st.step
            trainer.best_weights = copy.deepcopy({k: v.detach().cpu() for k, v in model.state_dict().items()})

    model.train()
    while not done:
        epoch += 1
        g = torch.Generator().manual_seed(cfg.run.seed * 100_003 + epoch)
        order = torch.randperm(len(ent_q), generator=g).to(trainer.device)
        for s0 in range(0, len(order), bs):
            idx = order[s0 : s0 + bs]
            loss = trainer.loss(ent_q[idx], rel_q[idx], ans[idx])
            trainer.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            trainer.optimizer.step()
            st.step += 1
            seen += len(idx)
            total += float(loss.detach()) * len(idx)
            count += len(idx)
            now = time.monotonic()
            if now >= deadline:
                done = True
                break
            if now >= next_eval:
                validate()
                next_eval = time.monotonic() + eval_seconds
    validate()
    st.elapsed_s = time.monotonic() - start
    st.epoch = round(seen / len(ent_q), 3)
    st.stopped = f"time budget of {minutes} min reached"
    return st


# ---- PyG peer --------------------------------------------------------------------------
def pyg_score_fn(model, kind: str, num_relations: int):
    """All-entity scores for queries ``(e, r)``; ``r >= R`` asks for heads of ``(?, r - R, e)``."""

    def fn(e: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
        inv = r >= num_relations
        rr = torch.where(inv, r - num_relations, r)
        out = torch.empty(len(e), model.num_nodes, device=e.device)
        if kind == "distmult":
            q = model.node_emb(e) * model.rel_emb(rr)
            return q @ model.node_emb.weight.t()
        a, b = model.node_emb(e), model.node_emb_im(e)
        if kind == "complex":
            c, d = model.rel_emb(rr), model.rel_emb_im(rr)
            tail_q = torch.cat([a * c - b * d, b * c + a * d], -1)
            head_q = torch.cat([c * a + d * b, c * b - d * a], -1)
            q = torch.where(inv[:, None], head_q, tail_q)
            return q @ torch.cat([model.node_emb.weight, model.node_emb_im.weight], -1).t()
        theta = model.rel_emb(rr)
        c, d = torch.cos(theta), torch.sin(theta)
        tail_q = torch.cat([c * a - d * b, c * b + d * a], -1)
        head_q = torch.cat([c * a + d * b, c * b - d * a], -1)  # rotate back by -theta
        q = torch.where(inv[:, None], head_q, tail_q)
        out = model.margin - torch.cdist(q, torch.cat([model.node_emb.weight, model.node_emb_im.weight], -1))
        return out

    return fn


def check_adapter(model, kind: str, data, device) -> float:
    """Largest gap between the adapter's all-entity scores and the model's own forward."""
    g = torch.Generator().manual_seed(0)
    pick = torch.randint(0, len(data.train), (64,), generator=g).to(device)
    h, r, t = data.train[pick].unbind(1)
    fn = pyg_score_fn(model, kind, data.num_relations)
    with torch.no_grad():
        own = model(h, r, t)
        tail = fn(h, r).gather(1, t[:, None]).squeeze(1)
        head = fn(t, r + data.num_relations).gather(1, h[:, None]).squeeze(1)
    gap = max(float((own - tail).abs().max()), float((own - head).abs().max()))
    if gap > 1e-3 * max(1.0, float(own.abs().max())):
        raise AssertionError(f"PyG score adapter disagrees with the model by {gap}")
    return gap


def run_peer(args, data, device) -> dict:
    from torch_geometric.nn.kge import ComplEx, DistMult, RotatE

    from kgfm.encoder.evaluate import KnownAnswers, evaluate_triples

    kind = args.model.split("-", 1)[1]
    torch.manual_seed(0)
    cls = {"rotate": RotatE, "complex": ComplEx, "distmult": DistMult}[kind]
    kwargs = {"margin": args.peer_margin} if kind == "rotate" else {}
    model = cls(data.num_entities, data.num_relations, args.peer_dim, **kwargs).to(device)
    gap = check_adapter(model, kind, data, device)
    h, r, t = data.train.unbind(1)
    loader = model.loader(h, r, t, batch_size=args.peer_batch, shuffle=True)
    opt = torch.optim.Adam(model.parameters(), lr=args.peer_lr)
    known = KnownAnswers(data.all_true(), data.num_entities, data.num_relations).to(device)
    valid, valid_missing = data.valid, data.valid_missing
    if args.max_valid and len(valid) > args.max_valid:  # same subset rule as kgfm.encoder.loop.Trainer
        g = torch.Generator().manual_seed(0)
        valid = valid[torch.randperm(len(valid), generator=g)[: args.max_valid].to(device)]
        valid_missing = round(data.valid_missing * args.max_valid / len(data.valid))
    start = time.monotonic()
    deadline = start + args.minutes * 60
    next_eval = start + args.peer_eval_seconds
    best, best_state, curve, epoch, done = -1.0, None, [], 0, False

    def validate(loss: float) -> None:
        nonlocal best, best_state
        model.eval()
        with torch.no_grad():
            val = evaluate_triples(pyg_score_fn(model, kind, data.num_relations), valid, known,
                                   data.num_entities, data.num_relations, valid_missing, 64)
        model.train()
        curve.append({"epoch": epoch, "elapsed": time.monotonic() - start, "loss": loss, "val_mrr": val["mrr"]})
        print(f"[peer] epoch {epoch} loss {loss:.4f} val MRR {val['mrr']:.4f} t={curve[-1]['elapsed']:.0f}s", flush=True)
        if val["mrr"] > best:
            best, best_state = val["mrr"], copy.deepcopy({k: v.detach().clone() for k, v in model.state_dict().items()})

    while not done:
        epoch += 1
        total, count = 0.0, 0
        for batch in loader:
            batch = [x.to(device) for x in batch]
            opt.zero_grad(set_to_none=True)
            loss = model.loss(*batch)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(batch[0])
            count += len(batch[0])
            now = time.monotonic()
            if now > deadline:
                done = True
                break
        if done or time.monotonic() >= next_eval:
            validate(total / max(count, 1))
            next_eval = time.monotonic() + args.peer_eval_seconds
    elapsed = time.monotonic() - start
    model.load_state_dict(best_state)
    model.eval()
    t0 = time.monotonic()
    test = evaluate_triples(pyg_score_fn(model, kind, data.num_relations), data.test, known,
                            data.num_entities, data.num_relations, data.test_missing, 64)
    return {
        "hyper": {"model": f"torch_geometric.nn.kge.{cls.__name__}", "hidden_channels": args.peer_dim,
                  "lr": args.peer_lr, "batch_size": args.peer_batch, "loss": "PyG KGEModel.loss (1 random negative, BCE)",
                  **kwargs},
        "adapter_max_gap": gap, "train_seconds": elapsed, "epochs": epoch,
        "best_epoch": max(curve, key=lambda c: c["val_mrr"])["epoch"], "test_eval_seconds": time.monotonic() - t0,
        "test": test, "curve": curve, "parameters": sum(p.numel() for p in model.parameters()),
    }


THRESHOLDS = {"wn18rr": (0.40, 0.45), "fb15k237": (0.25, 0.30)}


def minutes_to(curve: list[dict], threshold: float) -> float | None:
    """Training minutes until validation MRR (same subset for every model) first reached ``threshold``."""
    for point in curve:
        if point.get("val_mrr") is not None and point["val_mrr"] >= threshold:
            return point["elapsed"] / 60.0
    return None


def combine(paths: list[Path], out: Path, note: str = "") -> dict:
    runs = [json.loads(Path(p).read_text()) for p in paths]
    by_ds: dict[str, dict] = {}
    for run in runs:
        key = f"{run['model']}[{run['tag']}]" if run.get("tag") else run["model"]
        by_ds.setdefault(run["dataset"], {})[key] = run
    summary = {}
    for ds, models in by_ds.items():
        rows = {m: {k: r["test"][k] for k in ("mrr", "hits@1", "hits@3", "hits@10")}
                | {"train_minutes": r["train_seconds"] / 60, "mrr_per_minute": r["mrr_per_minute"],
                   "epochs": r["epochs"], "device": r["env"].get("gpu", r["env"]["device"]),
                   **{f"minutes_to_val_mrr_{t}": minutes_to(r["curve"], t) for t in THRESHOLDS.get(ds, ())}}
                for m, r in models.items()}
        primary = [m for m in rows if m.startswith("ours") and "ablation" not in m]
        ours = rows[primary[0]] if primary else None
        for m, row in rows.items():
            if ours and not m.startswith("ours") and row["mrr"] > 0:
                row["ours_mrr_ratio"] = ours["mrr"] / row["mrr"]
                row["ours_mrr_per_minute_ratio"] = ours["mrr_per_minute"] / row["mrr_per_minute"]
        summary[ds] = rows
    doc = {"summary": summary, "note": note, "runs": runs}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=2))
    print(json.dumps(summary, indent=2))
    return doc


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", choices=sorted(DATASETS))
    p.add_argument("--data", type=Path, help="folder with train.txt[.gz], valid.txt, test.txt")
    p.add_argument("--model", default="ours", choices=["ours", "pyg-rotate", "pyg-complex", "pyg-distmult"])
    p.add_argument("--config", help="encoder config for 'ours' (default configs/graph_<dataset>.yaml)")
    p.add_argument("--set", action="append", default=[], help="override for 'ours', e.g. model.dim=400")
    p.add_argument("--minutes", type=float, default=30.0, help="training wall-clock budget")
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--max-valid", type=int, default=1000, help="validation triples per evaluation")
    p.add_argument("--eval-seconds", type=float, default=0.0,
                   help="'ours': validate every N seconds inside the budget (also mid-epoch); 0: Trainer.fit per epoch")
    p.add_argument("--peer-dim", type=int, default=100, help="PyG hidden_channels (complex: x2 reals)")
    p.add_argument("--peer-lr", type=float, default=1e-3)
    p.add_argument("--peer-batch", type=int, default=1000)
    p.add_argument("--peer-margin", type=float, default=9.0)
    p.add_argument("--peer-eval-seconds", type=float, default=30.0)
    p.add_argument("--by-degree", action="store_true",
                   help="'ours': also test MRR per training-degree bucket of the answer / query entity")
    p.add_argument("--tag", default="", help="label stored with the result")
    p.add_argument("--combine", nargs="+", type=Path, help="merge result files into --out")
    p.add_argument("--note", default="", help="free text stored with --combine (how the runs were made)")
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args()
    if args.combine:
        combine(args.combine, args.out, args.note)
        return
    if not args.dataset:
        p.error("--dataset is required")
    from kgfm.training.loop import select_device as pick_device

    torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    folder = DATASETS[args.dataset][0]
    data_dir = args.data or (REPO / ".." / "shared" / "data" / folder)
    t0 = time.monotonic()
    graph, data = load_splits(data_dir)
    data.to(device)
    load_s = time.monotonic() - t0
    print(f"{args.dataset}: {graph.num_entities} entities, {graph.num_relations} relations, "
          f"{len(data.train)} train, stats {data.stats} on {device}", flush=True)
    load_start = list(os.getloadavg())
    result = run_ours(args, data, device) if args.model == "ours" else run_peer(args, data, device)
    result.update({
        "load_average_start": load_start, "load_average_end": list(os.getloadavg()), "threads": args.threads,
        "dataset": args.dataset, "model": args.model, "tag": args.tag, "budget_minutes": args.minutes,
        "load_seconds": load_s, "data_stats": data.stats, "env": device_info(device),
        "mrr_per_minute": result["test"]["mrr"] / max(result["train_seconds"] / 60.0, 1e-9),
        "command": " ".join(sys.argv),
    })
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=str))
    t = result["test"]
    print(f"RESULT {args.dataset} {args.model} {args.tag}: test MRR {t['mrr']:.4f} H@1 {t['hits@1']:.4f} "
          f"H@3 {t['hits@3']:.4f} H@10 {t['hits@10']:.4f} in {result['train_seconds'] / 60:.1f} min "
          f"({result['epochs']} epochs) -> {args.out}", flush=True)


if __name__ == "__main__":
    main()
