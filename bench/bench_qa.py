"""QA benchmark: MetaQA Hits@1 with and without fusion beside the answerable ceiling, fine-tuning
wall time, and `kgfm qa` latency (warm, single and batched, fp32 vs int8).

Run from the repository root (after `kgfm build-graph ../shared/data/MetaQA/kb_partial.txt.gz
--path .kgfm/metaqa.lbug` and the MetaQA entity index, see configs/metaqa.yaml):

    nice -n 10 python bench/bench_qa.py --train --hops 1 2 3      # fine-tune, then evaluate
    nice -n 10 python bench/bench_qa.py --hops 1 2 3              # evaluate models already trained
    nice -n 10 python bench/bench_qa.py --latency-only

Splits: 1- and 2-hop on `qa_test.txt`; 3-hop on the held-out slice of dev (its test file is withheld).
Writes bench/results/qa.json (and prints it), or --out; the per-question files go beside it, named
after it (qa_eval_{h}hop_{split}.json for the default). Targets (issue): 1-hop >= 0.95, 2-hop >= 0.90,
fine-tuning <= 60 min per hop setting on this 2-core machine.
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
RESULTS = REPO / "bench" / "results"
TARGETS = {1: 0.95, 2: 0.90}


def config_for(hops: int) -> Path:
    return REPO / "configs" / f"metaqa_{hops}hop.yaml"


def output_dir(hops: int, tag: str | None = None) -> Path:
    """The config's output folder, or ``{output}-{tag}`` for a variant (``--tag``)."""
    from kgfm.config import load_config
    from kgfm.qa.config import QAConfig

    out = Path(load_config(QAConfig, config_for(hops)).run.output_dir)
    return out if not tag else out.with_name(f"{out.name}-{tag}")


def model_dir(hops: int, tag: str | None = None) -> Path:
    return output_dir(hops, tag) / "model"


def train(hops: int, overrides: dict) -> dict:
    from kgfm.qa.finetune import main

    start = time.perf_counter()
    summary = main(config_for(hops), overrides, False)
    summary.pop("history", None)
    summary["bench_wall_s"] = round(time.perf_counter() - start, 1)
    return summary


def split_for(hops: int) -> str:
    """The split scored: ``test``, or for 3-hop the held-out slice of dev (its test file is withheld by protocol)."""
    return "valid" if hops == 3 else "test"


def eval_path(out: Path, hops: int, tag: str | None = None) -> Path:
    """Where the per-question file goes: beside ``out``, named after it, so that a run with its own
    ``--out`` never overwrites another's (``qa.json`` gives the historical ``qa_eval_{h}hop_{split}.json``)."""
    return out.parent / (f"{out.stem}_eval_{hops}hop_{split_for(hops)}" + (f"_{tag}" if tag else "") + ".json")


def evaluate(hops: int, limit: int | None, tag: str | None = None, out: Path = RESULTS / "qa.json") -> dict:
    from kgfm.qa.evaluate import run_eval

    mdir = model_dir(hops, tag)
    result = run_eval(mdir, "metaqa", hops, split_for(hops), limit, eval_path(out, hops, tag))
    metrics = json.loads((mdir.parent / "metrics.json").read_text(encoding="utf-8"))
    result["finetune_wall_s"] = metrics.get("wall_s")
    result["finetune"] = {k: metrics.get(k) for k in ("best_valid_hits1", "epochs_run", "stopped_by",
                                                      "train_questions", "encoder_kind", "frozen_encoder",
                                                      "encoder_init", "valid_candidates", "history")}
    if hops in TARGETS:
        result["target"] = TARGETS[hops]
    return result


def compare(hops: int, tag_a: str, tag_b: str) -> dict:
    """Two fine-tuned variants on the same test questions: Hits@1 of each and McNemar's exact test
    on the questions only one of them answers (``default`` names the config's own run). Both must
    be trained on the same graph (the second load checks it)."""
    from kgfm.qa.answer import QAEngine
    from kgfm.qa.config import QAConfig
    from kgfm.qa.data import prepare_examples
    from kgfm.qa.evaluate import split_examples
    from kgfm.qa.ranking import paired_comparison, question_hits
    from kgfm.qa.metaqa import EntityLookup

    first = QAEngine.load(model_dir(hops, None if tag_a == "default" else tag_a))
    second = QAEngine.load(model_dir(hops, None if tag_b == "default" else tag_b), store=first.store, graph=first.graph)
    cfg = QAConfig.model_validate(first.manifest["config"])
    examples = split_examples(cfg, hops, split_for(hops))
    prepared = prepare_examples(examples, first.linker, EntityLookup(first.graph))
    hits = [question_hits(e.model, prepared, e.adjacency, hops, progress=True) for e in (first, second)]
    first.close()
    out = {"hops": hops, "a": tag_a, "b": tag_b, "questions": len(prepared),
           "hits@1_a": float(hits[0].mean()), "hits@1_b": float(hits[1].mean())}
    out.update(paired_comparison(*hits))
    return out


def _percentiles(seconds: list[float]) -> dict:
    ms = np.array(seconds) * 1000
    return {"p50_ms": round(float(np.percentile(ms, 50)), 2), "p95_ms": round(float(np.percentile(ms, 95)), 2),
            "n": len(seconds)}


def latency(engine, questions: list[str], batch: int, evidence: bool) -> dict:
    engine.answer(questions, top_k=5, evidence=evidence)  # warm up: caches, store buffer pool, allocator
    single = []
    for q in questions:
        t = time.perf_counter()
        engine.answer([q], top_k=5, evidence=evidence)
        single.append(time.perf_counter() - t)
    per_q = []
    for i in range(0, len(questions), batch):
        chunk = questions[i : i + batch]
        t = time.perf_counter()
        engine.answer(chunk, top_k=5, evidence=evidence)
        per_q.append((time.perf_counter() - t) / len(chunk))
    return {"single": _percentiles(single), f"batched_{batch}_per_question": _percentiles(per_q)}


def bench_latency(hops: int, n: int, batch: int, acc_limit: int) -> dict:
    import torch

    from kgfm.qa.answer import QAEngine
    from kgfm.qa.ranking import question_hits
    from kgfm.qa.data import prepare_examples
    from kgfm.qa.metaqa import EntityLookup, metaqa_files, read_qa_file
    from kgfm.qa.config import DEFAULT_METAQA
    from kgfm.qa.quantize import export_int8

    torch.set_num_threads(2)
    examples = read_qa_file(*metaqa_files(DEFAULT_METAQA, hops, "test"))
    questions = [e.plain_text for e in examples[:n]]  # no brackets: linking is part of the latency
    mdir = model_dir(hops)
    fp32 = QAEngine.load(mdir)
    int8_dir = mdir.parent / "model-int8"
    t = time.perf_counter()
    manifest = export_int8(mdir, int8_dir, fp32.graph, fp32.index)
    export_s = time.perf_counter() - t
    int8 = QAEngine.load(int8_dir, store=fp32.store, graph=fp32.graph)
    out = {"hops": hops, "questions": n, "batch": batch, "int8_export_s": round(export_s, 1),
           "fp32_encoder_mb": round(manifest["fp32_encoder_bytes"] / 1e6, 1),
           "int8_encoder_mb": round(manifest["int8_encoder_bytes"] / 1e6, 1)}
    for name, engine in (("fp32", fp32), ("int8", int8)):
        out[name] = {"with_evidence": latency(engine, questions, batch, True),
                     "answers_only": latency(engine, questions, batch, False)}
        prepared = prepare_examples(examples[:acc_limit], engine.linker, EntityLookup(engine.graph))
        out[name]["test_hits@1_first_%d" % acc_limit] = float(question_hits(
            engine.model, prepared, engine.adjacency, hops).mean())
    fp32.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hops", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--train", action="store_true", help="fine-tune first (configs/metaqa_{h}hop.yaml)")
    parser.add_argument("--set", nargs="*", default=[], help="config overrides for --train, key=value")
    parser.add_argument("--tag", default=None,
                        help="a variant (e.g. plain, pretrained): trains into {output}-{tag}, stored under "
                             "results['variants']['{h}hop-{tag}'] beside the default runs")
    parser.add_argument("--limit", type=int, default=None, help="evaluate a seeded random sample of N questions")
    parser.add_argument("--compare", nargs=2, metavar=("TAG_A", "TAG_B"),
                        help="paired comparison of two trained variants (default = the config's run) on --hops")
    parser.add_argument("--latency-only", action="store_true")
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--latency-questions", type=int, default=100)
    parser.add_argument("--latency-batch", type=int, default=32)
    parser.add_argument("--accuracy-questions", type=int, default=2000, help="int8 vs fp32 Hits@1 subset")
    parser.add_argument("--out", type=Path, default=RESULTS / "qa.json")
    args = parser.parse_args()

    import torch

    from kgfm.config import parse_overrides

    torch.set_num_threads(2)
    previous = json.loads(args.out.read_text(encoding="utf-8")) if args.out.is_file() else {}
    results = {"machine": f"{platform.machine()} {platform.processor() or ''} cpus={os.cpu_count()}".strip(),
               "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
               "torch": torch.__version__, "hops": previous.get("hops", {}),
               "variants": previous.get("variants", {}), "comparisons": previous.get("comparisons", {})}
    if args.compare:
        for h in args.hops:
            entry = compare(h, *args.compare)
            results["comparisons"][f"{h}hop:{args.compare[0]}-vs-{args.compare[1]}"] = entry
            print(json.dumps(entry), flush=True)
        results["latency"] = previous.get("latency")
        args.out.write_text(json.dumps(results, indent=2), encoding="utf-8")
        return
    if not args.latency_only:
        for h in args.hops:
            entry = {}
            if args.train:
                overrides = parse_overrides(args.set)
                if args.tag:
                    overrides["run.output_dir"] = str(output_dir(h, args.tag))
                entry["train"] = train(h, overrides)
            entry.update(evaluate(h, args.limit, args.tag, args.out))
            entry["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
            if args.tag:
                entry["overrides"] = args.set
                results["variants"][f"{h}hop-{args.tag}"] = entry
            else:
                results["hops"][str(h)] = entry
            print(json.dumps({"hops": h, "with_fusion": entry.get("with_fusion", {}).get("hits@1"),
                              "plain_encoder": entry.get("plain_encoder", {}).get("hits@1"),
                              "without_fusion": entry.get("without_fusion", {}).get("hits@1"),
                              "ceiling": entry["ceiling"]}), flush=True)
    else:
        results["hops"] = previous.get("hops", {})
    if args.skip_latency:
        results["latency"] = previous.get("latency")
    else:
        results["latency"] = bench_latency(1, args.latency_questions, args.latency_batch, args.accuracy_questions)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2), encoding="utf-8")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
