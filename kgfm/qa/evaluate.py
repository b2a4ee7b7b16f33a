"""``kgfm eval``: Hits@1 with and without fusion beside the answerable ceiling, written as JSON.

The ranking functions are :mod:`kgfm.qa.ranking`; the engine that loads a model with its store
and index is :class:`kgfm.qa.answer.QAEngine` (this module imports it; it imports nothing from here).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from kgfm.qa.answer import QAEngine
from kgfm.qa.ranking import paired_comparison, question_hits, summarize
from kgfm.training.report import write_json_atomic


def split_examples(cfg: Any, hops: int, split: str, data_root: Path | None = None) -> list[Any]:
    """The MetaQA questions of ``split`` for a model trained with ``cfg`` (its :class:`QAConfig`).

    ``valid`` is the held-out slice of dev, re-derived from the model's split seed and fraction.
    """
    from kgfm.config import ConfigError
    from kgfm.qa.metaqa import metaqa_files, read_qa_file, split_train_valid

    root = Path(data_root) if data_root is not None else cfg.data.root
    examples = read_qa_file(*metaqa_files(root, hops, "dev" if split == "valid" else split))
    if split == "valid":
        if cfg.data.dataset != "metaqa" or cfg.data.hops != hops:
            raise ConfigError(f"--split valid: the model was not trained on MetaQA {hops}-hop dev, no held-out slice")
        _, examples = split_train_valid(examples, cfg.data.valid_fraction, cfg.data.split_seed)
    return examples


def run_eval(
    model_dir: Path,
    dataset: str = "metaqa",
    hops: int = 1,
    split: str = "test",
    limit: int | None = None,
    out_path: Path | None = None,
    store_path: Path | None = None,
    data_root: Path | None = None,
) -> dict[str, Any]:
    """``kgfm eval``: Hits@1 with fusion, without fusion, and the answerable ceiling, in one run.

    For a fusion model the report also carries ``fusion_vs_off`` (:func:`paired_comparison`):
    how many questions only one setting answers, and McNemar's exact p-value for the difference.

    Args:
        model_dir: A fine-tuned model (``kgfm train --stage finetune`` output ``.../model``).
        dataset: ``metaqa``.
        hops: 1, 2 or 3.
        split: ``test``, ``dev`` (all of dev: the model trained on most of it) or ``valid``
            (the held-out slice of dev, re-derived from the model's split seed and fraction).
        limit: Evaluate a seeded random sample of N questions (the files are grouped by
            question type, so the first N would not be representative).
        out_path: Where to write the JSON (default ``{model_dir}/../eval-metaqa-{hops}hop-{split}.json``).
        store_path: Override the store location recorded in the model's config.
        data_root: Override the MetaQA folder.
    """
    from kgfm.config import ConfigError

    if dataset != "metaqa":
        raise ConfigError(f"--dataset {dataset!r}: only 'metaqa' is supported")
    if split not in ("test", "dev", "valid"):
        raise ConfigError(f"--split {split!r}: expected test, dev or valid")
    engine = QAEngine.load(Path(model_dir), store_path=store_path)
    try:
        result, prepared = _questions(engine, split_examples(engine.config, hops, split, data_root), hops, limit)
        result.update({"dataset": "metaqa", "hops": hops, "split": split, "model": str(model_dir),
                       "encoder_kind": engine.model.encoder.kind, "trained_hops": engine.config.data.hops})
        fused = engine.model.encoder.kind == "fusion"
        settings = [("with_fusion", None), ("without_fusion", False)] if fused else [("plain_encoder", None)]
        hits = {}
        for name, use_fusion in settings:
            start = time.perf_counter()
            hits[name] = question_hits(engine.model, prepared, engine.adjacency, hops, use_fusion, progress=True)
            result[name] = dict(summarize(hits[name], prepared), seconds=round(time.perf_counter() - start, 2))
        if fused:
            result["fusion_vs_off"] = paired_comparison(hits["with_fusion"], hits["without_fusion"])
    finally:
        engine.close()
    out_path = Path(out_path) if out_path else Path(model_dir).parent / f"eval-metaqa-{hops}hop-{split}.json"
    write_json_atomic(out_path, result)
    result["written_to"] = str(out_path)
    return result


def _questions(engine: QAEngine, examples: list[Any], hops: int, limit: int | None) -> tuple[dict[str, Any], Any]:
    """Sample (seeded) and link the questions; the answerable ceiling of the split and of the sample."""
    from kgfm.qa.data import prepare_examples
    from kgfm.qa.metaqa import EntityLookup, answerable_ceiling, resolve

    lookup = EntityLookup(engine.graph)
    ceiling_all = answerable_ceiling(engine.graph, resolve(examples, lookup), hops)
    total = len(examples)
    if limit and limit < len(examples):
        keep = np.sort(np.random.default_rng(0).choice(len(examples), size=limit, replace=False))
        examples = [examples[i] for i in keep]
    prepared = prepare_examples(examples, engine.linker, lookup)
    ceiling = answerable_ceiling(engine.graph, resolve(examples, lookup), hops)
    return {
        "questions": len(examples),
        "sampled_from": None if not limit else "seeded random sample (seed 0)",
        "ceiling": float(ceiling.mean()),
        "split_questions": total,
        "ceiling_whole_split": float(ceiling_all.mean()),
        "topic_linked": float((prepared.topics >= 0).mean()),
    }, prepared
