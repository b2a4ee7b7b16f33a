"""Train the graph encoder on a remote GPU box that has no store, then write the artifacts here.

Same code path as ``kgfm train --stage graph`` (same config, split, Trainer, checkpoint and
index writers); only the graph travels as an ``.npz`` exported from the store and the trained
weights come back as safetensors shards (the box returns files of at most 16 MB).

    # here (store present):       export the store's tensors
    python bench/graph_offload.py export --config configs/graph_metaqa.yaml --out .benchdata/metaqa.npz
    # on the GPU box:              train, write weights shards + state under OUT
    python bench/graph_offload.py train --config configs/graph_metaqa.yaml --npz .benchdata/metaqa.npz --out $OUT
    # here again:                  verify vocab against the store, evaluate, write checkpoint + index + metrics
    python bench/graph_offload.py finish --config configs/graph_metaqa.yaml --weights DIR
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SHARD_BYTES = 12 * 2**20


def _cfg(args):
    from kgfm.config import load_config, parse_overrides
    from kgfm.encoder.config import GraphTrainConfig

    return load_config(GraphTrainConfig, args.config, parse_overrides(args.set))


def _graph_from_npz(path: Path):
    from kgfm.store.base import GraphTensors

    z = np.load(path, allow_pickle=False)
    vocab = json.loads(str(z["vocab"]))
    return GraphTensors(vocab["entity_ids"], vocab["entity_names"], vocab["relation_types"],
                        vocab["relation_predicates"], z["head_index"], z["rel_type"], z["tail_index"])


def export(args) -> None:
    from kgfm.encoder.train import load_graph

    g = load_graph(_cfg(args))
    vocab = {"entity_ids": g.entity_ids, "entity_names": g.entity_names, "relation_types": g.relation_types,
             "relation_predicates": g.relation_predicates}
    np.savez_compressed(args.out, head_index=g.head_index, rel_type=g.rel_type, tail_index=g.tail_index,
                        vocab=np.array(json.dumps(vocab)))
    print(f"{args.out}: {g.num_entities} entities, {g.num_relations} relations, {g.num_triples} triples")


def train(args) -> None:
    from safetensors.torch import save_file

    from kgfm.encoder.loop import Trainer
    from kgfm.encoder.model import KGEncoder
    from kgfm.encoder.train import prepare_data
    from kgfm.training.loop import select_device

    cfg = _cfg(args)
    torch.manual_seed(cfg.run.seed)
    graph = _graph_from_npz(args.npz)
    data = prepare_data(cfg, graph)
    device = select_device(cfg.run.device)
    model = KGEncoder(graph.num_entities, graph.num_relations, cfg.model)
    trainer = Trainer(model, data, cfg, device, max_valid_triples=cfg.data.max_valid_triples)
    state = trainer.fit()
    trainer.restore_best()
    weights = {k: v.detach().cpu().contiguous() for k, v in trainer.model.state_dict().items()}
    small: dict[str, torch.Tensor] = {}
    shards: list[dict[str, torch.Tensor]] = [small]
    for name, t in weights.items():  # big matrices split by rows so every file stays < 16 MB
        size = t.numel() * t.element_size()
        if t.dim() == 0 or size <= SHARD_BYTES // 4:
            small[name] = t
            continue
        rows = max(1, SHARD_BYTES // (t[0].numel() * t.element_size()))
        for i, piece in enumerate(torch.split(t, rows)):
            shards.append({f"{name}@@{i}": piece.contiguous()})
    args.out.mkdir(parents=True, exist_ok=True)
    for i, shard in enumerate(s for s in shards if s):
        save_file(shard, str(args.out / f"weights-{i}.safetensors"))
    doc = {"progress": state.model_dump(mode="json"), "device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu",
           "config": cfg.model_dump(mode="json"), "split": data.stats}
    (args.out / "state.json").write_text(json.dumps(doc, default=str))
    print(f"trained {state.epoch} epochs in {state.elapsed_s / 60:.1f} min, best val {cfg.train.monitor} {state.best}")


def finish(args) -> None:
    from safetensors.torch import load_file

    from kgfm.encoder.checkpoint import save_checkpoint
    from kgfm.encoder.loop import Trainer
    from kgfm.encoder.model import KGEncoder
    from kgfm.encoder.train import _vocab, final_embeddings, load_graph, prepare_data
    from kgfm.index.build import build_index_from_checkpoint
    from kgfm.training.checkpoint import Progress
    from kgfm.training.report import plot_curves, write_json_atomic

    cfg = _cfg(args)
    graph = load_graph(cfg)
    doc = json.loads((args.weights / "state.json").read_text())
    if doc["config"]["model"] != cfg.model.model_dump(mode="json"):
        raise SystemExit("model config differs from the one trained remotely")
    parts: dict[str, dict[int, torch.Tensor]] = {}
    weights: dict[str, torch.Tensor] = {}
    for f in sorted(args.weights.glob("weights-*.safetensors")):
        for key, t in load_file(str(f)).items():
            if "@@" in key:
                name, i = key.split("@@")
                parts.setdefault(name, {})[int(i)] = t
            else:
                weights[key] = t
    for name, pieces in parts.items():
        weights[name] = torch.cat([pieces[i] for i in sorted(pieces)])
    data = prepare_data(cfg, graph)
    model = KGEncoder(graph.num_entities, graph.num_relations, cfg.model)
    model.load_state_dict(weights)
    trainer = Trainer(model, data, cfg, torch.device("cpu"), max_valid_triples=cfg.data.max_valid_triples, log=print)
    trainer.state = Progress.model_validate(doc["progress"])
    t0 = time.monotonic()
    test, valid = trainer.evaluate("test"), trainer.evaluate("valid_full")
    out = cfg.run.output_dir
    out.mkdir(parents=True, exist_ok=True)
    metrics = {"epochs": trainer.state.epoch, "best_epoch": trainer.state.best_step,
               "best_val_" + cfg.train.monitor: trainer.state.best, "stopped": trainer.state.stopped,
               "train_seconds": trainer.state.elapsed_s, "device": doc["device"], "trained_by": "bench/graph_offload.py",
               "data": data.stats, "history": trainer.state.history,
               "valid": valid, "test": test, "eval_seconds_cpu": time.monotonic() - t0}
    best = out / "checkpoint"
    save_checkpoint(best, model, _vocab(graph), trainer.state, cfg.model_dump(mode="json"),
                    extra={"metrics": {"valid": valid, "test": test}, "trained_on": doc["device"],
                           "index_metric": cfg.index_metric()},
                    embeddings=final_embeddings(trainer))
    write_json_atomic(out / "metrics.json", metrics)
    plot_curves(trainer.state.history, "epoch", ["loss"], [], out / "curve.png")
    x = cfg.index
    index = build_index_from_checkpoint(best, out / "index", metric=cfg.index_metric(), exact_threshold=x.exact_threshold,
                                        hnsw_m=x.hnsw_m, ef_construction=x.ef_construction, ef_search=x.ef_search)
    print(f"test MRR {test['mrr']:.4f} H@1 {test['hits@1']:.4f} H@10 {test['hits@10']:.4f}; index {index}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("step", choices=["export", "train", "finish"])
    p.add_argument("--config", type=Path, required=True)
    p.add_argument("--set", action="append", default=[])
    p.add_argument("--npz", type=Path)
    p.add_argument("--weights", type=Path)
    p.add_argument("--out", type=Path)
    args = p.parse_args()
    {"export": export, "train": train, "finish": finish}[args.step](args)


if __name__ == "__main__":
    main()
