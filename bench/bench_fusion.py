"""Fusion model benchmarks on MetaQA: throughput vs the plain encoder, and masked-entity prediction.

Entity embeddings: ``--index DIR`` (a graph-encoder ``entity-index`` artifact over the MetaQA
entities) when given; otherwise a structural embedding computed here: truncated SVD of the
symmetric entity adjacency of ``kb_partial.txt.gz`` (rows of ``U sqrt(S)``, L2-normalised, so
inner products are cosines of the entities' adjacency spectra), indexed with FAISS. Which one
was used is recorded in the JSON.

* ``throughput``: the offline MiniLM alone vs the fusion model (fusion after layers 3 and 5,
  top-8 FAISS retrieval + the linked entity, over all 43k entities), on the *same* batches of
  MetaQA 1-hop dev questions (brackets linked, 32 per batch), interleaved repeat by repeat:
  inference (``no_grad``, eval mode) and a training step (forward + MLM/entity losses +
  backward + AdamW; the plain side runs the same heads with ``use_fusion=False``).
  -> bench/results/fusion_throughput.json
* ``entity``: pretrain twice for the same number of steps on the verbalised-triple corpus (hash
  split, 2% held out): fusion on vs off (same encoder, heads, seed, batches), then masked-entity
  Hits@1/10/MRR on held-out sentences, mention tokens fully masked and its entity hidden from
  fusion, ranked against all entities. -> bench/results/fusion_entity.json

    nice -n 10 python bench/bench_fusion.py --part throughput --repeats 3
    nice -n 10 python bench/bench_fusion.py --part entity --steps 300
    nice -n 10 python bench/bench_fusion.py --part ablate   # trained fusion model, fusion switched off
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from bench_linking import metaqa_graph  # noqa: E402

RESULTS = REPO / "bench" / "results"


def svd_index(graph, dim: int, seed: int = 0):
    from scipy import sparse
    from scipy.sparse.linalg import svds

    from kgfm.index.entity_index import EntityIndex

    n = graph.num_entities
    rows = np.concatenate([graph.head_index, graph.tail_index])
    cols = np.concatenate([graph.tail_index, graph.head_index])
    adj = sparse.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(n, n))
    adj.data[:] = 1.0
    u, s, _ = svds(adj, k=dim, random_state=seed)
    emb = u * np.sqrt(np.abs(s))[None, :]
    # unit rows: raw SVD rows range over 3 orders of magnitude (hubs like "Drama" dominate any
    # inner product); normalised, the inner product is the cosine of adjacency spectra
    emb = (emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)).astype(np.float32)
    return EntityIndex.build(emb, graph.entity_ids, graph.entity_names, metric="ip", use_gpu=False)


def get_index(args, graph):
    from kgfm.index.entity_index import EntityIndex

    if args.index:
        index = EntityIndex.load(args.index, use_gpu=False)
        return index, {"kind": "graph-encoder index", "path": str(args.index), "fingerprint": index.fingerprint}
    t0 = time.perf_counter()
    index = svd_index(graph, args.dim)
    return index, {"kind": f"truncated SVD of the symmetric adjacency, rows L2-normalised, dim {args.dim}",
                   "build_s": time.perf_counter() - t0, "fingerprint": index.fingerprint}


def throughput(args, graph, index, index_info) -> dict:
    import faiss
    import torch
    from transformers import AutoTokenizer

    from kgfm.fusion.linking import EntityLinker
    from kgfm.fusion.model import FusionConfig, KnowledgeFusionModel
    from kgfm.fusion.objectives import PretrainCollator, PretrainModule
    from kgfm.hf import minilm_path
    from kgfm.index.entity_index import EntityIndex

    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    faiss.omp_set_num_threads(args.threads)
    tok = AutoTokenizer.from_pretrained(str(minilm_path()))
    linker = EntityLinker.from_tensors(graph)
    qs = [ln.split("\t")[0] for ln in (args.data / "MetaQA/1-hop/vanilla/qa_dev.txt").read_text().splitlines()]
    qs = qs[: args.batches * args.batch_size]
    recs = []
    for q in qs:
        clean, ms = linker.link_text(q)
        rows = [index.idx_of(m.entity_id) if m.entity_idx >= 0 and index.has(m.entity_id) else -1 for m in ms]
        recs.append({"text": clean, "mentions": [(m.start, m.end, r) for m, r in zip(ms, rows)]})
    collator = PretrainCollator(tok, max_length=48)
    gen = torch.Generator().manual_seed(0)
    batches = [collator(recs[i : i + args.batch_size], gen) for i in range(0, len(recs), args.batch_size)]
    module = PretrainModule(KnowledgeFusionModel(FusionConfig(), index), negatives=1024)
    model = module.model
    opt = torch.optim.AdamW([p for p in module.parameters() if p.requires_grad], lr=1e-5)
    t0 = time.perf_counter()
    hnsw = EntityIndex.build(index.embeddings, index.entity_ids, index.entity_names, metric=index.metric,
                             exact_threshold=0, use_gpu=False)
    hnsw_build_s = time.perf_counter() - t0
    indexes = {"flat": index, "hnsw": hnsw}

    def infer(b, fusion):
        if fusion:
            model(b["input_ids"], b["attention_mask"], b["mention_spans"], b["mention_entities"])
        else:
            model.backbone(input_ids=b["input_ids"], attention_mask=b["attention_mask"])

    def train(b, fusion):
        out = module(b, use_fusion=fusion)
        opt.zero_grad(set_to_none=True)
        out["loss"].backward()
        opt.step()

    for b in batches[:2]:  # warm-up (allocations, AdamW state, FAISS/OMP threads)
        model.eval()
        with torch.no_grad():
            infer(b, True), infer(b, False)
        module.train()
        train(b, True), train(b, False)
    arms = ["plain", "fusion_flat", "fusion_hnsw"]
    wall = {f"{m}_{a}": 0.0 for m in ("inference", "train") for a in arms}
    cpu = dict(wall)
    tokens = 0.0
    for rep in range(args.repeats):
        for i, b in enumerate(batches):
            order = arms if (rep + i) % 2 == 0 else arms[::-1]
            tokens += float(b["attention_mask"].sum())
            for mode in ("inference", "train"):
                for arm in order:
                    model.index = indexes["hnsw" if arm == "fusion_hnsw" else "flat"]
                    fusion = arm != "plain"
                    t0, c0 = time.perf_counter(), time.process_time()
                    if mode == "inference":
                        model.eval()
                        with torch.no_grad():
                            infer(b, fusion)
                    else:
                        module.train()
                        train(b, fusion)
                    wall[f"{mode}_{arm}"] += time.perf_counter() - t0
                    cpu[f"{mode}_{arm}"] += time.process_time() - c0
    model.index = index
    out = {"index": index_info, "entities": len(index.entity_ids), "tokens": tokens,
           "hnsw_build_s": hnsw_build_s}
    for mode in ("inference", "train"):
        out[mode] = {}
        for arm in arms:
            out[mode][arm] = {"tokens_per_s_wall": tokens / wall[f"{mode}_{arm}"],
                              "tokens_per_cpu_s": tokens / cpu[f"{mode}_{arm}"]}
        for arm in arms[1:]:
            r_wall = wall[f"{mode}_plain"] / wall[f"{mode}_{arm}"]
            r_cpu = cpu[f"{mode}_plain"] / cpu[f"{mode}_{arm}"]
            out[mode][f"ratio_{arm}_over_plain"] = {"wall": r_wall, "cpu": r_cpu}
            print(f"{mode:9s} {arm:12s} plain {tokens / wall[f'{mode}_plain']:7.0f} tok/s  "
                  f"{arm} {tokens / wall[f'{mode}_{arm}']:7.0f} tok/s  ratio wall {r_wall:.3f}  cpu-time {r_cpu:.3f}")
    out["settings"] = {"model": "minilm (all-MiniLM-L6-v2)", "fusion_layers": [3, 5], "top_k": 8,
                       "batch_size": args.batch_size, "batches": len(batches), "repeats": args.repeats,
                       "max_length": 48, "threads": args.threads, "inputs": "MetaQA 1-hop dev questions, linked",
                       "indexes": "flat = exact IndexFlatIP; hnsw = IndexHNSWFlat(M=32, efSearch=128)",
                       "train_step": "PretrainModule fwd+bwd+AdamW (MLM + masked entity, 1024 negatives); "
                                     "plain side = same module with use_fusion=False",
                       "order": "arms interleaved per batch, order alternating",
                       "machine": f"{platform.machine()}, 2-core CPU shared with 3 other jobs, nice -n 10"}
    return out


def entity(args, graph, index, index_info) -> dict:
    import yaml

    from kgfm.fusion.corpus import build_corpus
    from kgfm.fusion.pretrain import main as pretrain

    work = REPO / "runs" / f"bench_fusion{args.tag}"
    work.mkdir(parents=True, exist_ok=True)
    corpus = work / "corpus"
    manifest = build_corpus(graph, corpus, valid_fraction=0.02, descriptions=False, seed=0, source="MetaQA kb_partial")
    from kgfm.index.entity_index import EntityIndex

    hnsw = EntityIndex.build(index.embeddings, index.entity_ids, index.entity_names, metric=index.metric,
                             exact_threshold=0, use_gpu=False)
    hnsw.save(work / "index")
    results = {"index": {**index_info, "faiss": "IndexHNSWFlat(M=32, efSearch=128) over the same embeddings"},
               "corpus": manifest["counts"], "runs": {}}
    for fusion in (True, False)[: 1 if args.fusion_only else 2]:
        name = "fusion" if fusion else "no_fusion"
        cfg = {"corpus": str(corpus), "index": str(work / "index"),
               "run": {"output_dir": str(work / name), "seed": 0, "threads": args.threads},
               "optim": {"lr": 1e-4, "head_lr": 1e-3, "warmup": max(1, args.steps // 20)},
               "model": {"fusion": fusion, "fusion_layers": args.fusion_layers, "top_k": 8, "knowledge_dropout": 0.1,
                         "gate_bias": args.gate_bias},
               "train": {"steps": args.steps, "batch_size": args.batch_size, "max_length": 32, "negatives": args.negatives,
                         "eval_every": max(1, args.steps // 3), "save_every": args.steps,
                         "eval_examples": args.eval_examples, "log_every": 10}}
        path = work / f"{name}.yaml"
        path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
        t0 = time.perf_counter()
        metrics = pretrain(path, {}, False)
        results["runs"][name] = {"final_eval": metrics["final_eval"], "evals": metrics["evals"],
                                 "wall_s": time.perf_counter() - t0, "config": cfg}
        ev = metrics["final_eval"]
        print(f"{name:10s} Hits@1 {ev['entity_hits1']:.4f}  Hits@10 {ev['entity_hits10']:.4f}  "
              f"MRR {ev['entity_mrr']:.4f}  MLM acc {ev['mlm_accuracy']:.4f}  ({ev['entity_examples']:.0f} held-out)")
    results["settings"] = {"steps": args.steps, "batch_size": args.batch_size, "eval_examples": args.eval_examples,
                           "entity_negatives": "full softmax" if args.negatives < 0 else args.negatives,
                           "threads": args.threads, "lr": 1e-4, "head_lr": 1e-3, "max_length": 32,
                           "machine": f"{platform.machine()}, shared 2-core CPU, nice -n 10"}
    return results


def ablate(args) -> dict:
    """The trained fusion run evaluated again with its fusion layers switched off (same weights)."""
    import torch
    from safetensors.torch import load_file

    from kgfm.fusion.corpus import read_corpus
    from kgfm.fusion.model import KnowledgeFusionModel
    from kgfm.fusion.objectives import PretrainCollator, PretrainModule
    from kgfm.fusion.pretrain import _map_records, evaluate
    from kgfm.index.entity_index import EntityIndex

    torch.set_num_threads(args.threads)
    work = REPO / "runs" / f"bench_fusion{args.tag}"
    index = EntityIndex.load(work / "index", use_gpu=False)
    module = PretrainModule(KnowledgeFusionModel.from_pretrained(work / "fusion" / "model", index), negatives=-1)
    module.load_state_dict(load_file(str(work / "fusion" / "checkpoint" / "weights.safetensors")))
    tok = KnowledgeFusionModel.load_tokenizer(work / "fusion" / "model")
    recs, _ = _map_records(read_corpus(work / "corpus", "valid"), index)
    recs = [r for r in recs if r["mentions"]][: args.eval_examples]
    out = {}
    for on in (True, False):
        res = evaluate(module, PretrainCollator(tok, 32), recs, args.batch_size, 0, use_fusion=on)
        out["knowledge_on" if on else "knowledge_off"] = res
        print(f"fusion model, fusion {'on ' if on else 'off'}: Hits@1 {res['entity_hits1']:.4f} "
              f"Hits@10 {res['entity_hits10']:.4f} MLM loss {res['mlm_loss']:.3f} acc {res['mlm_accuracy']:.4f}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--part", choices=["throughput", "entity", "ablate", "all"], default="all")
    parser.add_argument("--data", type=Path, default=REPO / ".." / "shared" / "data")
    parser.add_argument("--index", type=Path, default=None, help="graph-encoder entity index over MetaQA")
    parser.add_argument("--dim", type=int, default=128, help="SVD embedding size when no --index")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--batches", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--negatives", type=int, default=-1, help="entity loss: -1 full softmax, N sampled")
    parser.add_argument("--fusion-layers", type=int, nargs="+", default=[3, 5])
    parser.add_argument("--gate-bias", type=float, default=-2.0)
    parser.add_argument("--fusion-only", action="store_true", help="skip the no-fusion run (compare with an earlier one)")
    parser.add_argument("--tag", default="", help="suffix of the result file (fusion_entity<tag>.json)")
    parser.add_argument("--threads", type=int, default=1, help="torch + FAISS threads for the throughput part")
    parser.add_argument("--eval-examples", type=int, default=1000)
    args = parser.parse_args()
    args.data = args.data.resolve()

    import torch

    torch.set_num_threads(2)
    if args.part == "ablate":  # after --part entity: the same trained fusion model, knowledge on vs off
        path = RESULTS / f"fusion_entity{args.tag}.json"
        results = json.loads(path.read_text(encoding="utf-8"))
        results["knowledge_off_ablation"] = ablate(args)
        path.write_text(json.dumps(results, indent=2), encoding="utf-8")
        return
    graph = metaqa_graph(args.data)
    index, info = get_index(args, graph)
    print(f"index: {info}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    if args.part in ("throughput", "all"):
        out = throughput(args, graph, index, info)
        (RESULTS / "fusion_throughput.json").write_text(json.dumps(out, indent=2), encoding="utf-8")
    if args.part in ("entity", "all"):
        out = entity(args, graph, index, info)
        (RESULTS / f"fusion_entity{args.tag}.json").write_text(json.dumps(out, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
