"""Generated-questions benchmark: MetaQA QA trained on questions synthesized from the KB only
(``kgfm questions``; no MetaQA question in training or validation), scored on the real questions.

Run from the repository root, after the MetaQA store + entity index (header of configs/metaqa_1hop.yaml):

    nice -n 10 python bench/bench_questions.py --generate           # the two generated sets (+ speed, samples)
    nice -n 10 python bench/bench_questions.py --train              # the two fine-tunes (configs/finetune_generated_*)
    nice -n 10 python bench/bench_questions.py --evaluate --limit 2000
    nice -n 10 python bench/bench_questions.py --sample             # bundled sample: kgfm auto chain, zero-shot

Evaluation: 1-hop and 2-hop ``vanilla/qa_test.txt`` and the paraphrased ``1-hop/ntm/qa_dev.txt``, Hits@1
over all KB entities (a seeded random sample of ``--limit`` questions each on this shared 2-core box),
beside the supervised figures (trained on real dev questions, README) and the answerable ceilings.
Writes bench/results/questions.json (merged with what earlier steps wrote). Targets: 1-hop >= 0.85,
2-hop >= 0.75.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
RESULTS = REPO / "bench" / "results" / "questions.json"
METAQA = REPO / ".." / "shared" / "data" / "MetaQA"
STORE = REPO / ".kgfm" / "metaqa.lbug"
TARGETS = {"1hop_test": 0.85, "2hop_test": 0.75}
SUPERVISED = {"1hop_test": 0.951, "2hop_test": 0.932}
CEILING = {"1hop_test": 0.978, "2hop_test": 0.973}
SETS = {  # name -> (hops of the generated set, questions-per-hop, topics)
    "metaqa-1hop": ([1], 24000, 30000),
    "metaqa-2hop": ([2], 24000, 30000),
}


def load() -> dict:
    return json.loads(RESULTS.read_text(encoding="utf-8")) if RESULTS.is_file() else {}


def save(doc: dict, touched: list[str]) -> None:
    """Write ``doc``'s ``touched`` sections over what is on disk now (another run may have added some)."""
    doc = {**load(), **{k: doc[k] for k in touched if k in doc}}
    doc["machine"] = {"cpus": os.cpu_count(), "platform": platform.platform(), "loadavg_at_write": os.getloadavg()}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(doc, indent=2, sort_keys=True), encoding="utf-8")
    print(json.dumps(doc, indent=2, sort_keys=True))


def samples(folder: Path, n: int = 20, seed: int = 0) -> list[dict]:
    rows = [json.loads(line) for line in (folder / "questions.jsonl").read_text(encoding="utf-8").splitlines()]
    pick = np.random.default_rng(seed).choice(len(rows), size=min(n, len(rows)), replace=False)
    return [{k: rows[i][k] for k in ("question", "answers", "qtype", "template")} | {"answers": rows[i]["answers"][:5]}
            for i in sorted(pick.tolist())]


def generate(doc: dict) -> None:
    from kgfm.config import StoreConfig
    from kgfm.questions import QuestionsConfig, build_questions

    out = doc.setdefault("generation", {})
    for name, (hops, per_hop, topics) in SETS.items():
        cfg = QuestionsConfig(topics=topics, hops=hops, per_hop=per_hop)
        load_before = os.getloadavg()
        summary = build_questions(StoreConfig(path=STORE), REPO / "runs" / "questions" / name, cfg)
        out[name] = {**summary, "loadavg_before": load_before,
                     "command": f"kgfm questions --path .kgfm/metaqa.lbug --out runs/questions/{name} --topics {topics}"
                                f" --hops {','.join(map(str, hops))} --per-hop {per_hop}",
                     "samples": samples(REPO / "runs" / "questions" / name)}


def train(doc: dict) -> None:
    from kgfm.qa.finetune import main

    out = doc.setdefault("training", {})
    for hops in (1, 2):
        start = time.perf_counter()
        summary = main(REPO / "configs" / f"finetune_generated_metaqa_{hops}hop.yaml", {}, False)
        summary.pop("history", None)
        out[f"{hops}hop"] = {**summary, "bench_wall_s": round(time.perf_counter() - start, 1),
                             "loadavg_after": os.getloadavg()}


def score(model_dir: Path, examples: list, hops: int, limit: int | None) -> dict:
    """Hits@1 of a fine-tuned model on ``examples`` (seeded sample of ``limit``), with the ceiling."""
    from kgfm.qa.answer import QAEngine
    from kgfm.qa.data import prepare_examples
    from kgfm.qa.ranking import question_hits, summarize
    from kgfm.qa.metaqa import EntityLookup, answerable_ceiling, resolve, sample_indices

    total = len(examples)
    examples = [examples[i] for i in sample_indices(total, limit)]
    engine = QAEngine.load(model_dir, hops=hops)
    lookup = EntityLookup(engine.graph)
    prepared = prepare_examples(examples, engine.linker, lookup)
    start = time.perf_counter()
    hits = question_hits(engine.model, prepared, engine.adjacency, hops)
    ceiling = answerable_ceiling(engine.graph, resolve(examples, lookup), hops)
    return {**summarize(hits, prepared), "questions": len(examples), "of": total, "ceiling": float(ceiling.mean()),
            "topic_linked": float((prepared.topics >= 0).mean()), "seconds": round(time.perf_counter() - start, 1)}


# --fusion: the fusion encoder fine-tuned end to end (the default configs freeze a plain MiniLM),
# run on a quiet box with the CLI; the same generated questions, the same evaluation samples.
FUSION_TRAIN = ("kgfm train --stage finetune --config configs/finetune_generated_metaqa_{h}hop.yaml "
                "--set encoder.kind=fusion --set encoder.freeze=false --set run.output_dir=runs/qa/generated-metaqa-{h}hop-fusion "
                "--set run.max_minutes=16 --set train.epochs=4 --set train.patience=2")


def evaluate(doc: dict, limit: int | None, fusion: bool = False, only: str | None = None) -> None:
    from kgfm.qa.metaqa import metaqa_files, read_qa_file

    out = doc.setdefault("evaluation", {})
    runs = {
        "1hop_test": (1, lambda: read_qa_file(*metaqa_files(METAQA, 1, "test"))),
        "2hop_test": (2, lambda: read_qa_file(*metaqa_files(METAQA, 2, "test"))),
        "1hop_ntm_dev": (1, lambda: read_qa_file(METAQA / "1-hop" / "ntm" / "qa_dev.txt", METAQA / "1-hop" / "qa_dev_qtype.txt")),
    }
    for name, (hops, read) in runs.items():
        if only and name not in only.split(","):
            continue
        if fusion:
            model = REPO / "runs" / "qa" / f"generated-metaqa-{hops}hop-fusion" / "model"
            if not model.is_dir():
                out[name + "_fusion"] = {"skipped": f"{model} not trained ({FUSION_TRAIN.format(h=hops)})"}
                continue
            metrics = model.parent / "metrics.json"
            trained = json.loads(metrics.read_text(encoding="utf-8")) if metrics.is_file() else {}
            trained.pop("history", None)
            out[name + "_fusion"] = {**score(model, read(), hops, limit), "model": str(model.relative_to(REPO)),
                                     "train_command": FUSION_TRAIN.format(h=hops), "training": trained,
                                     "target": TARGETS.get(name), "supervised": SUPERVISED.get(name),
                                     "loadavg": os.getloadavg(),
                                     "sample": f"seeded random sample (seed 0) of {limit}" if limit else "all"}
            continue
        examples = read()
        model = REPO / "runs" / "qa" / f"generated-metaqa-{hops}hop" / "model"
        if not model.is_dir():
            out[name] = {"skipped": f"{model} not trained"}
            continue
        earlier = REPO / "runs" / "qa" / f"eval-gen-{name.replace('_', '-')}.json"  # a `kgfm eval` run, same sample
        if earlier.is_file() and json.loads(earlier.read_text(encoding="utf-8")).get("questions") == limit:
            e = json.loads(earlier.read_text(encoding="utf-8"))
            result = {**e["plain_encoder"], "questions": e["questions"], "of": e["split_questions"],
                      "ceiling": e["ceiling"], "topic_linked": e["topic_linked"],
                      "from": f"kgfm eval --dataset metaqa --hops {hops} --split test --limit {limit} --model {model}"}
        else:
            result = score(model, examples, hops, limit)
        out[name] = {**result, "model": str(model.relative_to(REPO)),
                     "target": TARGETS.get(name), "supervised": SUPERVISED.get(name),
                     "loadavg": os.getloadavg(), "sample": f"seeded random sample (seed 0) of {limit}" if limit else "all"}


# Few-shot curves (1-hop and 2-hop): the generated training questions plus N real MetaQA questions (a
# seeded sample of <h>-hop/vanilla/qa_dev.txt; the test split is never read for training), and the same N
# real questions alone. Every run early-stops on the generated validation set (unseen topics), so a run
# uses exactly N real questions; fusion encoder trained end to end as in FUSION_TRAIN, one budget per kind.
# A 2-hop epoch over the generated set took 9-11 min on 2 quiet cores, hence its larger budget.
FEW_SHOT = {  # hops -> name -> (generated questions included, real questions (None: all of dev), minutes, epochs)
    1: {"gen+100": (True, 100, 7, 4), "gen+1000": (True, 1000, 7, 4), "real100": (False, 100, 3, 40),
        "real1000": (False, 1000, 5, 40), "gen+all": (True, None, 30, 1)},
    2: {"gen+100": (True, 100, 14, 4), "gen+1000": (True, 1000, 14, 4), "real100": (False, 100, 3, 40),
        "real1000": (False, 1000, 5, 40), "gen+all": (True, None, 60, 1)},
}
# "gen+all" (generated + every dev question) is bounded by one epoch (its budget is only a cap): 23,445 (1-hop)
# and 25,855 (2-hop) questions took 30 and 36 min per epoch beside a test run on the 2 cores.


def few_shot(doc: dict, limit: int | None, hops: int = 1, names: list[str] | None = None) -> None:
    from kgfm.qa.finetune import main as finetune_main
    from kgfm.qa.metaqa import metaqa_files, read_qa_file

    out = doc.setdefault(f"few_shot_{hops}hop", {})
    gen = REPO / "runs" / "questions" / f"metaqa-{hops}hop"
    dev = (METAQA / f"{hops}-hop" / "vanilla" / "qa_dev.txt").read_text(encoding="utf-8").splitlines()
    test = read_qa_file(*metaqa_files(METAQA, hops, "test"))
    for name, (with_gen, n_real, minutes, epochs) in FEW_SHOT[hops].items():
        if names and name not in names:
            continue
        n_real = len(dev) if n_real is None else n_real
        folder = REPO / "runs" / "questions" / ("fewshot" if hops == 1 else f"fewshot-{hops}hop") / name
        folder.mkdir(parents=True, exist_ok=True)
        real = [dev[i] for i in np.sort(np.random.default_rng(0).choice(len(dev), size=n_real, replace=False))]
        lines = (gen / "train.txt").read_text(encoding="utf-8").splitlines() if with_gen else []
        (folder / "train.txt").write_text("\n".join(lines + real) + "\n", encoding="utf-8")
        output = REPO / "runs" / "qa" / f"fewshot-{hops}hop-{name}"
        overrides = {"data.train": str(folder / "train.txt"), "data.valid": str(gen / "valid.txt"),
                     "encoder.kind": "fusion", "encoder.freeze": False, "run.output_dir": str(output),
                     "run.max_minutes": minutes, "train.epochs": epochs,
                     "train.patience": 2 if with_gen else 4}
        start = time.perf_counter()
        summary = finetune_main(REPO / "configs" / f"finetune_generated_metaqa_{hops}hop.yaml", overrides, False)
        summary.pop("history", None)
        result = score(output / "model", test, hops, limit)
        out[name] = {**result, "generated_questions": len(lines), "real_questions": n_real, "budget_minutes": minutes,
                     "wall_s": round(time.perf_counter() - start, 1), "training": summary,
                     "model": str(output.relative_to(REPO)), "loadavg": os.getloadavg(),
                     "sample": f"seeded random sample (seed 0) of {limit}" if limit else "all"}
        print(name, json.dumps({k: out[name][k] for k in ("hits@1", "real_questions", "generated_questions")}), flush=True)


def sample_chain(doc: dict) -> None:
    """The bundled sample: `kgfm build-graph graphs/movies.ttl` + `kgfm auto`, zero-shot on movies_qa_test.txt."""
    import subprocess

    from kgfm.qa.metaqa import read_qa_file

    work = REPO / "runs" / "auto-sample"
    work.mkdir(parents=True, exist_ok=True)
    kgfm = [sys.executable, "-m", "kgfm.cli.main"]
    start = time.perf_counter()
    steps = [["build-graph", str(REPO / "graphs" / "movies_kb.txt"), "--path", str(work / "movies.lbug")],
             ["auto", "--path", str(work / "movies.lbug"), "--out", str(work), "--topics", "1000", "--per-hop", "3000",
              "--graph-minutes", "3", "--qa-minutes", "25"]]
    if not (work / "qa" / "model").is_dir():  # an earlier run of the same chain is reused
        for args in steps:
            subprocess.run([*kgfm, *args], check=True, cwd=REPO)
    wall = round(time.perf_counter() - start, 1)
    metrics = json.loads((work / "qa" / "metrics.json").read_text(encoding="utf-8")) if (
        work / "qa" / "metrics.json").is_file() else {}
    examples = read_qa_file(REPO / "graphs" / "movies_qa_test.txt", REPO / "graphs" / "movies_qa_test_qtype.txt")
    result = score(work / "qa" / "model", examples, 2, None)
    doc["sample_zero_shot"] = {**result, "chain_wall_s_this_run": wall,
                               "finetune_wall_s": (metrics.get("summary") or metrics).get("wall_s"),
                               "command": " && ".join("kgfm " + " ".join(a) for a in steps), "kb": "graphs/movies_kb.txt",
                               "test": "graphs/movies_qa_test.txt", "samples": samples(work / "questions")}


def fb15k237(doc: dict) -> None:
    """FB15k-237 (names from entity2text.txt, relation text from relation2text.txt): generated questions,
    and on the held-out (unseen-topic) ones asked WITHOUT brackets: how often the entity linker finds the
    topic, and how often the gold answers lie in the linked topic's k-hop candidate set."""
    from kgfm.config import StoreConfig
    from kgfm.fusion.linking import EntityLinker
    from kgfm.qa.candidates import UndirectedAdjacency, candidate_sets
    from kgfm.questions import QuestionsConfig, build_questions
    from kgfm.store.factory import open_store

    fb = REPO / ".." / "shared" / "data" / "FB15k-237"
    store_cfg = StoreConfig(path=REPO / ".kgfm" / "fb15k237.lbug")
    out = REPO / "runs" / "questions" / "fb15k237"
    cfg = QuestionsConfig(topics=8000, hops=[1, 2], per_hop=20000, bracket_rate=0.0, max_path_types=400)
    summary = build_questions(store_cfg, out, cfg, fb / "relation2text.txt")
    with open_store(store_cfg, read_only=True) as db:
        graph = db.export_tensors()
    linker = EntityLinker.from_tensors(graph)
    index = {eid: i for i, eid in enumerate(graph.entity_ids)}
    rows = [json.loads(line) for line in (out / "questions.jsonl").read_text(encoding="utf-8").splitlines()]
    valid = [r for r in rows if r["split"] == "valid"]
    valid = [valid[i] for i in np.sort(np.random.default_rng(0).choice(len(valid), min(2000, len(valid)), replace=False))]
    from kgfm.qa.data import link_questions

    start = time.perf_counter()
    _, _, topics = link_questions([r["question"] for r in valid], linker)
    link_s = time.perf_counter() - start
    gold_topic = np.array([index[r["topic_id"]] for r in valid])
    adj = UndirectedAdjacency.from_graph(graph)
    recall = {}
    for hops in (1, 2):
        sel = [i for i, r in enumerate(valid) if r["hops"] == hops and topics[i] >= 0]
        if not sel:
            continue
        cand = candidate_sets(adj, topics[sel], hops).numpy()  # [B, C] entity idx, -1 padded
        hit = [bool(np.isin([index[a] for a in valid[i]["answer_ids"]], cand[j]).any()) for j, i in enumerate(sel)]
        recall[f"{hops}hop"] = float(np.mean(hit))
    doc["fb15k237"] = {
        "generation": {k: v for k, v in summary.items() if k != "out"},
        "command": "kgfm questions --path .kgfm/fb15k237.lbug --relation-text ../shared/data/FB15k-237/relation2text.txt"
                   " --topics 8000 --hops 1,2 --per-hop 20000 (bracket_rate 0 via the Python API)",
        "valid_questions_scored": len(valid),
        "linking_rate_exact_topic": float(np.mean(topics == gold_topic)),
        "linking_rate_any": float(np.mean(topics >= 0)),
        "candidate_recall_linked": recall,
        "linking_seconds": round(link_s, 1),
        "samples": samples(out),
        "not_done": "QA fine-tune + Hits@1 on FB15k-237 generated questions (needs the FB15k-237 graph stage; "
                    "no CPU time left on the shared box)",
    }


def fb15k237_qa(doc: dict) -> None:
    """FB15k-237 end to end with zero hand-written questions: store (train.txt only) -> graph encoder
    (shallow ComplEx, 6 min: on FB15k-237 it beat the GNN at equal time, linkpred_gnn_vs_shallow_cpu.json)
    -> generated questions (``fb15k237``) -> QA fine-tune (frozen MiniLM + scorer, 2-hop candidates,
    8 min) -> Hits@1 on held-out generated questions. The held-out topics are split in two by topic:
    one half early-stops the fine-tune, the other half is scored (never seen in any way)."""
    import re

    from kgfm.config import load_config
    from kgfm.encoder.config import GraphTrainConfig
    from kgfm.index.build import build_index_from_checkpoint
    from kgfm.index.build import main as graph_main
    from kgfm.qa.finetune import main as finetune_main
    from kgfm.qa.metaqa import read_qa_file
    from kgfm.store.build import BuildGraphConfig, NamesSpec, SourceSpec, run_build

    fb = REPO / ".." / "shared" / "data" / "FB15k-237"
    store = REPO / ".kgfm" / "fb15k237.lbug"
    timings: dict[str, float] = {}
    start = time.perf_counter()
    if not store.exists():
        run_build(BuildGraphConfig(store={"path": str(store)}, sources=[SourceSpec(path=fb / "train.txt.gz")],
                                   names=[NamesSpec(path=fb / "entity2text.txt")]), show_progress=False)
    timings["store_s"] = round(time.perf_counter() - start, 1)
    graph_run = REPO / "runs" / "graph-fb15k237"
    start = time.perf_counter()
    graph_overrides = {"model.conv": "none", "model.num_layers": 0, "model.dim": 200, "train.sampler": "full",
                       "run.max_minutes": 6, "run.output_dir": str(graph_run)}
    if not (graph_run / "checkpoint").is_dir():
        graph_main(REPO / "configs" / "graph_fb15k237.yaml", graph_overrides, False)  # trains, then writes the index
    elif not (graph_run / "index" / "manifest.json").is_file():  # trained by an earlier run that stopped before its index
        gcfg = load_config(GraphTrainConfig, REPO / "configs" / "graph_fb15k237.yaml", graph_overrides)
        build_index_from_checkpoint(graph_run / "checkpoint", graph_run / "index", metric=gcfg.index_metric(),
                                    exact_threshold=gcfg.index.exact_threshold, hnsw_m=gcfg.index.hnsw_m,
                                    ef_construction=gcfg.index.ef_construction, ef_search=gcfg.index.ef_search)
    timings["graph_s"] = round(time.perf_counter() - start, 1)
    graph_metrics = json.loads((graph_run / "metrics.json").read_text(encoding="utf-8"))
    questions = REPO / "runs" / "questions" / "fb15k237"
    if not (questions / "valid.txt").is_file() or "fb15k237" not in doc:
        fb15k237(doc)
    lines = (questions / "valid.txt").read_text(encoding="utf-8").splitlines()
    topics = sorted({re.search(r"\[(.+?)\]", line).group(1) for line in lines})
    stop_topics = set(np.random.default_rng(0).permutation(topics)[: len(topics) // 2].tolist())
    halves = {"early_stop": [], "scored": []}
    for line in lines:
        halves["early_stop" if re.search(r"\[(.+?)\]", line).group(1) in stop_topics else "scored"].append(line)
    for name, rows in halves.items():
        (questions / f"valid_{name}.txt").write_text("\n".join(rows) + "\n", encoding="utf-8")
    output = REPO / "runs" / "qa" / "generated-fb15k237"
    overrides = {"store.path": str(store), "index": str(graph_run / "index"),
                 "data.train": str(questions / "train.txt"), "data.valid": str(questions / "valid_early_stop.txt"),
                 "data.hops": 2, "scorer.max_hops": 2, "run.output_dir": str(output), "run.max_minutes": 8}
    start = time.perf_counter()
    summary = finetune_main(REPO / "configs" / "finetune_generated_metaqa_1hop.yaml", overrides, False)
    summary.pop("history", None)
    timings["finetune_s"] = round(time.perf_counter() - start, 1)
    scored = read_qa_file(questions / "valid_scored.txt")
    result = score(output / "model", scored, 2, None)
    doc.setdefault("fb15k237", {})["qa"] = {
        **result, "scored_questions": len(scored), "scored_topics": len(topics) - len(stop_topics),
        "early_stop_questions": len(halves["early_stop"]), "timings": timings, "training": summary,
        "graph": {"recipe": "shallow ComplEx (model.conv=none, dim 200), 6 min", "best_val_mrr": graph_metrics.get("best_val_mrr"),
                  "test": graph_metrics.get("test")},
        "commands": ["kgfm build-graph ../shared/data/FB15k-237/train.txt.gz --path .kgfm/fb15k237.lbug "
                     "--names ../shared/data/FB15k-237/entity2text.txt",
                     "kgfm train --stage graph --config configs/graph_fb15k237.yaml --set model.conv=none "
                     "--set model.num_layers=0 --set model.dim=200 --set train.sampler=full --set run.max_minutes=6 "
                     "--set run.output_dir=runs/graph-fb15k237",
                     "kgfm questions ... (fb15k237 above)",
                     "kgfm train --stage finetune --config configs/finetune_generated_metaqa_1hop.yaml "
                     + " ".join(f"--set {k}={v}" for k, v in overrides.items())],
        "loadavg": os.getloadavg(),
    }
    doc["fb15k237"].pop("not_done", None)
    print("fb15k237 qa", json.dumps({k: doc["fb15k237"]["qa"][k] for k in ("hits@1", "ceiling", "scored_questions")}), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--generate", action="store_true")
    ap.add_argument("--train", action="store_true")
    ap.add_argument("--evaluate", action="store_true")
    ap.add_argument("--sample", action="store_true")
    ap.add_argument("--fb15k237", action="store_true")
    ap.add_argument("--fb15k237-qa", action="store_true", help="FB15k-237: graph encoder + QA fine-tune on generated questions")
    ap.add_argument("--few-shot", type=int, nargs="?", const=1, choices=(1, 2), metavar="HOPS",
                    help="the few-shot curve (FEW_SHOT) for 1-hop (default) or 2-hop, Hits@1 on that test set")
    ap.add_argument("--few-shot-runs", help="--few-shot: only these runs (comma-separated names of FEW_SHOT)")
    ap.add_argument("--limit", type=int, default=2000, help="questions per evaluation set (0: all)")
    ap.add_argument("--fusion", action="store_true",
                    help="--evaluate the fusion models trained end to end (FUSION_TRAIN), as '<set>_fusion'")
    ap.add_argument("--only", help="--evaluate only these sets (comma-separated: 1hop_test,2hop_test,1hop_ntm_dev)")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(2)
    doc = load()
    touched = [k for k, on in (("generation", args.generate), ("training", args.train), ("evaluation", args.evaluate),
                               ("sample_zero_shot", args.sample), ("fb15k237", args.fb15k237),
                               (f"few_shot_{args.few_shot}hop", args.few_shot),
                               ("fb15k237", args.fb15k237_qa)) if on]
    if args.generate:
        generate(doc)
    if args.train:
        train(doc)
    if args.evaluate:
        evaluate(doc, args.limit or None, args.fusion, args.only)
    if args.sample:
        sample_chain(doc)
    if args.fb15k237:
        fb15k237(doc)
    if args.few_shot:
        few_shot(doc, args.limit or None, args.few_shot, args.few_shot_runs.split(",") if args.few_shot_runs else None)
    if args.fb15k237_qa:
        fb15k237_qa(doc)
    save(doc, touched)


if __name__ == "__main__":
    main()
