"""Does the fusion model know what the graph knows? Masked-entity ranking on MetaQA (issue 13, items 1-2).

Setup (all from one graph-encoder run, ``--graph-run``, i.e. ``kgfm train --stage graph`` on
configs/graph_metaqa.yaml, and the MetaQA store it was trained from):

* **unknown** facts: the encoder's held-out *test* triples (removed from its message passing and
  training: the graph does not know them). They, and the encoder's valid triples, are removed
  from the pretraining corpus too.
* **known** facts: a hash-chosen ``--known-fraction`` of the encoder's *training* triples, held
  out of the pretraining corpus only (the encoder has seen them; the text model never read them).
* the rest of the verbalised triples is the pretraining corpus (``kgfm.fusion.corpus``).

Three rankers score the masked entity of each held-out sentence ("Kismet directed by [MASK]",
subject or object masked, the entity hidden from the fusion layers) against all entities:

* ``text_only``: the same transformer pretrained with fusion and KG head off;
* ``encoder``: the graph encoder alone, its decoder scoring ``(other entity, relation, ?)``
  (``r^-1`` for a masked subject) with the embeddings in the index;
* ``fusion``: the fusion model (fusion layers + the KG-aware head, ``model.kg_head``),
  plus the same trained model with the KG head off and with fusion off (ablations).

MRR and Hits@1/10, raw and filtered (the other true answers of the KB removed), ``--eval``
examples per set. Results -> bench/results/knowledge.json.

    nice -n 5 python bench/bench_knowledge.py --graph-run runs/graph-metaqa --steps 400 --threads 1
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
RESULTS = REPO / "bench" / "results"


def split_corpus(graph, enc_cfg: dict, known_fraction: float, seed: int):
    """Records of the pretraining corpus, of the known facts, of the unknown facts (the encoder's
    test triples) and of the encoder's validation triples (unknown facts as well)."""
    from kgfm.encoder.data import holdout_split
    from kgfm.fusion.corpus import _bucket, iter_records

    data = enc_cfg["data"]
    _, valid, test = holdout_split(graph, data["valid_fraction"], data["test_fraction"], data["split_seed"])
    unknown = {tuple(map(int, t)) for t in test}
    held = unknown | {tuple(map(int, t)) for t in valid}
    rel_of = {n: i for i, n in enumerate(graph.relation_types)}
    corpus, known_recs, unknown_recs, valid_recs = [], [], [], []
    for key, rec in iter_records(graph, descriptions=False, seed=seed):
        (h0, h1, h), (t0, t1, t) = rec["mentions"]
        triple = (h, rel_of[rec["rel"]], t)
        if triple in unknown:
            unknown_recs.append(rec)
        elif triple in held:
            valid_recs.append(rec)  # the encoder's validation triples: out of the graph and the corpus too
            continue
        elif _bucket(key) < known_fraction:
            known_recs.append(rec)
        else:
            corpus.append(rec)
    return corpus, known_recs, unknown_recs, valid_recs


def write_corpus(records: list[dict], graph, out: Path, valid_fraction: float = 0.01) -> None:
    from kgfm.artifacts import write_artifact
    from kgfm.fusion.corpus import KIND, _bucket
    from kgfm.index.entity_index import entity_ids_digest

    lines = {"train": [], "valid": []}
    for rec in records:
        key = f"{rec['mentions'][0][2]}|{rec['rel']}|{rec['mentions'][1][2]}"
        lines["valid" if _bucket("v" + key) < valid_fraction else "train"].append(json.dumps(rec, ensure_ascii=False))
    write_artifact(out, KIND, {
        f"{split}.jsonl": (lambda p, split=split: p.write_text("\n".join(lines[split]) + "\n", encoding="utf-8"))
        for split in ("train", "valid")},
        {"config": {"bench": "knowledge"}, "counts": {k: len(v) for k, v in lines.items()},
         "entities": graph.num_entities, "entity_ids_digest": entity_ids_digest(graph.entity_ids)})


def pretrain(name: str, args, corpus: Path, index: Path, kg: bool) -> tuple[Path, dict]:
    from kgfm.fusion.pretrain import main as pretrain_main

    out = args.work / name
    overrides = {
        "corpus": str(corpus), "index": str(index),
        "model": {"fusion": kg, "kg_head": kg, "fusion_layers": [3, 5], "top_k": 8},
        "run": {"output_dir": str(out), "seed": args.seed, "threads": args.threads},
        "optim": {"lr": 5e-5, "head_lr": 1e-3, "warmup": 30},
        "train": {"steps": args.steps, "batch_size": 32, "max_length": 32, "negatives": -1, "log_every": 20,
                  "eval_every": args.steps, "save_every": args.steps, "eval_examples": 300},
    }
    t0 = time.perf_counter()
    metrics = pretrain_main(None, overrides)
    return out / "model", {"wall_s": time.perf_counter() - t0, "steps": metrics["steps"],
                           "final_eval": metrics["final_eval"], "relation_loss_last": metrics["history"][-1].get("relation")}


class Ranker:
    """Scores masked targets for the three rankers, with one filter."""

    def __init__(self, graph, index, tokenizer, relation_ids: dict[str, int]):
        import torch

        from kgfm.encoder.decoders import DECODERS
        from kgfm.fusion.objectives import PretrainCollator

        self.torch = torch
        self.index = index
        self.collator = PretrainCollator(tokenizer, 32, mlm_probability=0.0, relation_ids=relation_ids)
        self.num_rel = len(relation_ids)
        self.decoder = DECODERS[index.manifest["encoder"]["decoder"]]()
        self.ent = torch.from_numpy(np.asarray(index.embeddings, dtype=np.float32))
        self.rel = torch.from_numpy(np.asarray(index.relation_embeddings, dtype=np.float32))
        self.true: dict[tuple[int, int], set[int]] = {}
        for h, r, t in zip(graph.head_index.tolist(), graph.rel_type.tolist(), graph.tail_index.tolist()):
            self.true.setdefault((h, r), set()).add(t)
            self.true.setdefault((t, r + self.num_rel), set()).add(h)

    def batches(self, records: list[dict], batch_size: int = 64):
        gen = self.torch.Generator().manual_seed(0)
        for i in range(0, len(records), batch_size):
            yield self.collator(records[i : i + batch_size], gen, evaluation=True)

    def queries(self, batch):
        """``(context row, relation id, target row)`` per target, row-major as the module orders them."""
        sel = batch["entity_targets"] >= 0
        tb, tm = sel.nonzero(as_tuple=True)
        target = batch["entity_targets"][tb, tm]
        rel = batch["relation_labels"][tb, tm]
        other = batch["mention_entities"][tb, 1 - tm]
        return other, rel, target

    def ranks(self, scores, ctx, rel, target) -> dict[str, np.ndarray]:
        torch = self.torch
        scores = scores.float().clone()
        gold = scores.gather(1, target[:, None])
        raw = (scores > gold).sum(1) + 1
        for i, (c, r, t) in enumerate(zip(ctx.tolist(), rel.tolist(), target.tolist())):
            others = [e for e in self.true.get((c, r), ()) if e != t]
            if others:
                scores[i, torch.tensor(others)] = float("-inf")
        filt = (scores > gold).sum(1) + 1
        return {"raw": raw.numpy(), "filtered": filt.numpy()}

    def encoder_scores(self, ctx, rel):
        return self.decoder.score_candidates(self.decoder.query(self.ent[ctx], self.rel[rel]), self.ent)


def summarise(ranks: list[dict[str, np.ndarray]]) -> dict:
    out = {}
    for kind in ("raw", "filtered"):
        r = np.concatenate([x[kind] for x in ranks]).astype(np.float64)
        out[kind] = {"mrr": float(np.mean(1.0 / r)), "hits1": float(np.mean(r <= 1)), "hits10": float(np.mean(r <= 10)),
                     "n": int(len(r))}
    return out


def evaluate_sets(ranker: Ranker, sets: dict[str, list[dict]], models: dict[str, tuple]) -> dict:
    import torch

    res: dict[str, dict] = {}
    for set_name, records in sets.items():
        acc: dict[str, list] = {}
        for batch in ranker.batches(records):
            ctx, rel, target = ranker.queries(batch)
            with torch.no_grad():
                acc.setdefault("encoder", []).append(ranker.ranks(ranker.encoder_scores(ctx, rel), ctx, rel, target))
                for name, (module, use_fusion, kg_head) in models.items():
                    module.use_kg_head = kg_head
                    out = module._encode(batch, use_fusion)
                    logits, tgt, rel_logits = module.entity_logits(batch, out, use_fusion)
                    assert torch.equal(tgt, target)
                    acc.setdefault(name, []).append(ranker.ranks(logits, ctx, rel, target))
                    if rel_logits is not None:
                        hit = (rel_logits.argmax(-1) == rel).float().numpy()
                        acc.setdefault(name + "_relation_acc", []).append(hit)
        res[set_name] = {k: (float(np.mean(np.concatenate(v))) if k.endswith("_relation_acc") else summarise(v))
                         for k, v in acc.items()}
    return res


MIX_SCALES = (0.0, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0)


def paired(a: np.ndarray, b: np.ndarray, seed: int = 0) -> dict:
    """Per-example reciprocal ranks ``a`` vs ``b``: mean difference, 95% bootstrap interval, Wilcoxon p."""
    from scipy import stats

    d = a - b
    boot = np.random.default_rng(seed).choice(d, size=(2000, len(d)), replace=True).mean(1)
    nonzero = d[d != 0]
    return {"mean_diff": float(d.mean()), "ci95": [float(np.quantile(boot, 0.025)), float(np.quantile(boot, 0.975))],
            "a_better": int((d > 0).sum()), "b_better": int((d < 0).sum()),
            "wilcoxon_p": float(stats.wilcoxon(nonzero).pvalue) if len(nonzero) else 1.0}


def mix_sweep(ranker: Ranker, sets: dict[str, list[dict]], module, text_module=None) -> dict:
    """Filtered MRR of ``a * text logits + KG head scores`` for each ``a`` in :data:`MIX_SCALES`
    (``a = 1`` is the trained model, ``a = 0`` the KG head alone), the encoder's and the text-only
    model's, per set; and the trained model vs the encoder, paired per example."""
    import torch

    res: dict[str, dict] = {}
    for set_name, records in sets.items():
        acc: dict[str, list] = {"encoder": []}
        for batch in ranker.batches(records):
            ctx, rel, target = ranker.queries(batch)
            with torch.no_grad():
                acc["encoder"].append(ranker.ranks(ranker.encoder_scores(ctx, rel), ctx, rel, target))
                out = module._encode(batch, True)
                module.use_kg_head = False
                text, _, _ = module.entity_logits(batch, out, True)
                module.use_kg_head = True
                full, _, _ = module.entity_logits(batch, out, True)
                for a in MIX_SCALES:
                    acc.setdefault(f"text_x{a}", []).append(ranker.ranks(a * text + (full - text), ctx, rel, target))
                if text_module is not None:
                    logits, _, _ = text_module.entity_logits(batch, text_module._encode(batch, False), False)
                    acc.setdefault("text_only", []).append(ranker.ranks(logits, ctx, rel, target))
        res[set_name] = {k: summarise(v)["filtered"] for k, v in acc.items()}
        rr = {k: 1.0 / np.concatenate([x["filtered"] for x in acc[k]]).astype(np.float64) for k in ("text_x1.0", "encoder")}
        res[set_name]["trained_vs_encoder"] = paired(rr["text_x1.0"], rr["encoder"])
    return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--graph-run", type=Path, default=REPO / "runs/graph-metaqa")
    ap.add_argument("--store", type=Path, default=REPO / ".kgfm/metaqa.lbug")
    ap.add_argument("--work", type=Path, default=REPO / "runs/bench_knowledge")
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--eval", type=int, default=1000)
    ap.add_argument("--known-fraction", type=float, default=0.02)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=RESULTS / "knowledge.json")
    ap.add_argument("--mix-sweep", action="store_true",
                    help="no pretraining: re-score the fusion model already in --work with its text logits scaled "
                         "(MIX_SCALES), the scale chosen on the encoder's validation triples -> knowledge_mix.json")
    args = ap.parse_args()

    import torch
    import yaml
    from transformers import AutoTokenizer

    from kgfm.config import StoreConfig
    from kgfm.fusion.model import KnowledgeFusionModel
    from kgfm.fusion.objectives import PretrainModule
    from kgfm.hf import minilm_path, offline_env
    from kgfm.index.entity_index import EntityIndex
    from kgfm.store.factory import open_store

    offline_env()
    torch.set_num_threads(args.threads)
    t_start = time.perf_counter()
    load_start = os.getloadavg()
    enc_cfg = yaml.safe_load((args.graph_run / "config.yaml").read_text())
    with open_store(StoreConfig(backend="embedded", path=args.store), read_only=True) as store:
        graph = store.export_tensors()
    index = EntityIndex.load(args.graph_run / "index", use_gpu=False)
    corpus, known, unknown, valid = split_corpus(graph, enc_cfg, args.known_fraction, args.seed)
    rng = np.random.default_rng(args.seed)
    sets = {name: [recs[i] for i in np.sort(rng.permutation(len(recs))[: args.eval])]
            for name, recs in (("known", known), ("unknown", unknown))}
    if args.mix_sweep:
        tok = AutoTokenizer.from_pretrained(str(minilm_path()))
        ranker = Ranker(graph, index, tok, {n: i for i, n in enumerate(graph.relation_types)})
        fusion = PretrainModule(KnowledgeFusionModel.from_pretrained(args.work / "fusion" / "model", index).eval(), -1).eval()
        pick = np.sort(np.random.default_rng(args.seed + 1).permutation(len(valid))[: args.eval])
        text_dir = args.work / "text_only" / "model"
        text = (PretrainModule(KnowledgeFusionModel.from_pretrained(text_dir, index).eval(), -1).eval()
                if text_dir.is_dir() else None)
        res = mix_sweep(ranker, {"valid_unknown": [valid[i] for i in pick], **sets}, fusion, text)
        best = max(MIX_SCALES, key=lambda a: res["valid_unknown"][f"text_x{a}"]["mrr"])
        out = {"graph_run": str(args.graph_run), "index_fingerprint": index.fingerprint, "model": str(args.work / "fusion" / "model"),
               "kg_weight_learned": float(fusion.model.kg_head.log_weight.detach().exp()), "scales": list(MIX_SCALES),
               "results_filtered": res, "best_scale_on_valid_unknown": best,
               "at_best": {s: {"fusion": res[s][f"text_x{best}"]["mrr"], "trained (x1.0)": res[s]["text_x1.0"]["mrr"],
                               "encoder": res[s]["encoder"]["mrr"], "text_only": res[s].get("text_only", {}).get("mrr"),
                               "n": res[s]["encoder"]["n"], "trained_vs_encoder": res[s]["trained_vs_encoder"]}
                           for s in res},
               "total_s": time.perf_counter() - t_start, "threads": args.threads, "loadavg_end": os.getloadavg(),
               "command": " ".join(["python", "bench/bench_knowledge.py", *sys.argv[1:]])}
        dest = args.out if args.out != RESULTS / "knowledge.json" else RESULTS / "knowledge_mix.json"
        dest.write_text(json.dumps(out, indent=1))
        print(json.dumps(out["at_best"], indent=1), "best scale", best)
        return
    args.work.mkdir(parents=True, exist_ok=True)
    write_corpus(corpus, graph, args.work / "corpus")
    runs = {}
    paths = {}
    for name, kg in (("fusion", True), ("text_only", False)):
        paths[name], runs[name] = pretrain(name, args, args.work / "corpus", args.graph_run / "index", kg)
    tok = AutoTokenizer.from_pretrained(str(minilm_path()))
    ranker = Ranker(graph, index, tok, {n: i for i, n in enumerate(graph.relation_types)})
    fusion = PretrainModule(KnowledgeFusionModel.from_pretrained(paths["fusion"], index).eval(), -1).eval()
    text = PretrainModule(KnowledgeFusionModel.from_pretrained(paths["text_only"], index).eval(), -1).eval()
    models = {"fusion": (fusion, True, True), "fusion_kg_head_off": (fusion, True, False),
              "fusion_all_off": (fusion, False, False), "text_only": (text, False, False)}
    t_eval = time.perf_counter()
    res = evaluate_sets(ranker, sets, models)
    ratios = {}
    for s in sets:
        f, e, t = (res[s][k]["filtered"]["mrr"] for k in ("fusion", "encoder", "text_only"))
        ratios[s] = {"fusion_over_encoder": f / e, "fusion_over_text_only": f / max(t, 1e-12)}
    out = {
        "graph_run": str(args.graph_run), "index_fingerprint": index.fingerprint,
        "encoder": index.manifest.get("encoder"), "encoder_test_metrics": index.manifest.get("test_metrics"),
        "corpus_records": len(corpus), "known_pool": len(known), "unknown_pool": len(unknown),
        "eval_per_set": {k: len(v) for k, v in sets.items()}, "pretraining": runs, "results": res,
        "ratios_filtered_mrr": ratios,
        "targets": {"known": "fusion >= 0.9x encoder and >= 3x text_only", "unknown": "fusion >= encoder, > text_only"},
        "eval_s": time.perf_counter() - t_eval, "total_s": time.perf_counter() - t_start,
        "threads": args.threads, "cpus": os.cpu_count(), "loadavg_start": load_start, "loadavg_end": os.getloadavg(),
        "command": " ".join(["python", "bench/bench_knowledge.py", *sys.argv[1:]]),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1))
    print(json.dumps({"ratios": ratios, **{s: {k: v["filtered"]["mrr"] if isinstance(v, dict) else v
                                               for k, v in res[s].items()} for s in res}}, indent=1))


if __name__ == "__main__":
    main()
