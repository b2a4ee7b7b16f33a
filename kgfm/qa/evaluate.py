"""``kgfm eval``: Hits@1/3/10 and MRR with and without fusion beside the answerable ceiling, as JSON.

The ranking functions are :mod:`kgfm.qa.ranking`; the engine that loads a model with its store
and index is :class:`kgfm.qa.answer.QAEngine` (this module imports it; it imports nothing from here).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from kgfm.qa.answer import QAEngine
from kgfm.config import ConfigError
from kgfm.qa.ranking import paired_comparison, question_ranks, rank_summary
from kgfm.training.report import write_json_atomic


def split_examples(cfg: Any, hops: int, split: str, data_root: Path | None = None) -> list[Any]:
    """The MetaQA questions of ``split`` for a model trained with ``cfg`` (its :class:`QAConfig`).

    ``valid`` is the held-out slice of dev, re-derived from the model's split seed and fraction.
    """
    from kgfm.qa.metaqa import metaqa_files, read_qa_file, split_train_valid

    from kgfm.qa.config import default_metaqa_root

    root = Path(data_root) if data_root is not None else cfg.data.root
    if data_root is None and not Path(root).is_dir():
        root = default_metaqa_root()  # the model's recorded root is not on this machine
    examples = read_qa_file(*metaqa_files(root, hops, "dev" if split == "valid" else split))
    if split == "valid":
        if cfg.data.dataset != "metaqa" or cfg.data.hops != hops:
            raise ConfigError(f"--split valid: the model was not trained on MetaQA {hops}-hop dev, no held-out slice")
        _, examples = split_train_valid(examples, cfg.data.valid_fraction, cfg.data.split_seed)
    return examples


def run_eval(
    model_dir: Path,
    dataset: str = "metaqa",
    hops: int | None = None,
    split: str = "test",
    limit: int | None = None,
    out_path: Path | None = None,
    store_path: Path | None = None,
    data_root: Path | None = None,
    file: Path | None = None,
    store_config: Any | None = None,
    index_path: Path | None = None,
    qtype_file: Path | None = None,
) -> dict[str, Any]:
    """``kgfm eval``: Hits@1/3/10 and MRR with fusion, without fusion, and the answerable ceiling, in one run.

    For a fusion model the report also carries ``fusion_vs_off`` (:func:`paired_comparison` on Hits@1):
    how many questions only one setting answers, and McNemar's exact p-value for the difference.
    Questions are refused (:class:`UnscorableError`), not scored 0, when most of them have no gold
    answer entity in the model's graph (the wrong graph for these questions).

    Args:
        model_dir: A fine-tuned model (``kgfm train --stage finetune`` output ``.../model``).
        dataset: ``metaqa`` (ignored with ``file``).
        hops: Candidate radius; MetaQA: the hop setting (default: the model's trained hops).
        split: ``test``, ``dev`` (all of dev: the model trained on most of it) or ``valid``
            (the held-out slice of dev, re-derived from the model's split seed and fraction).
        limit: Evaluate a seeded random sample of N questions (the files are grouped by
            question type, so the first N would not be representative).
        out_path: Where to write the JSON (default beside the model folder).
        store_path: Override the store location the model references.
        data_root: Override the MetaQA folder.
        file: A user's evaluation file (:mod:`kgfm.qa.evalfile`: MetaQA text or JSONL) instead of MetaQA.
        store_config: Another store to read (e.g. a different backend).
        index_path: Override the entity index folder.
        qtype_file: Question types aligned with ``file`` (per-type Hits@1; default: ``{stem}_qtype.txt``
            beside ``file`` when present).
    """
    if file is None and dataset != "metaqa":
        raise ConfigError(f"--dataset {dataset!r}: only 'metaqa' is supported (or --file FILE)")
    if qtype_file is not None and file is None:
        raise ConfigError("--qtype goes with --file (MetaQA splits carry their question types already)")
    if file is None and split not in ("test", "dev", "valid"):
        raise ConfigError(f"--split {split!r}: expected test, dev or valid")
    engine = QAEngine.load(Path(model_dir), store_config=store_config, store_path=store_path, index_path=index_path)
    try:
        hops = hops or engine.config.data.hops
        if file is not None:
            from kgfm.qa.evalfile import read_eval_file

            examples, source = read_eval_file(Path(file), qtype_file), {"file": str(file)}
        else:
            examples, source = split_examples(engine.config, hops, split, data_root), {"dataset": "metaqa", "split": split}
        result, prepared = _questions(engine, examples, hops, limit, str(file) if file else f"MetaQA {hops}-hop {split}")
        result.update({**source, "hops": hops, "model": str(model_dir),
                       "encoder_kind": engine.model.encoder.kind, "trained_hops": engine.config.data.hops})
        _score(engine, prepared, hops, result)
    finally:
        engine.close()
    default_name = f"eval-{Path(file).stem}.json" if file else f"eval-metaqa-{hops}hop-{split}.json"
    out_path = Path(out_path) if out_path else Path(model_dir).parent / default_name
    write_json_atomic(out_path, result)
    result["written_to"] = str(out_path)
    return result


class UnscorableError(ConfigError):
    """Evaluation questions that do not belong to the model's graph (most gold answers absent)."""


def _score(engine: QAEngine, prepared: Any, hops: int, result: dict[str, Any]) -> None:
    """Hits@1/3/10 + MRR per fusion setting, and the paired fusion on/off comparison."""
    fused = engine.model.encoder.kind == "fusion"
    settings = [("with_fusion", None), ("without_fusion", False)] if fused else [("plain_encoder", None)]
    ranks = {}
    for name, use_fusion in settings:
        start = time.perf_counter()
        ranks[name] = question_ranks(engine.model, prepared, engine.adjacency, hops, use_fusion, progress=True)
        result[name] = dict(rank_summary(ranks[name], prepared), seconds=round(time.perf_counter() - start, 2))
    if fused:
        result["fusion_vs_off"] = paired_comparison(ranks["with_fusion"] == 1, ranks["without_fusion"] == 1)


def _questions(engine: QAEngine, examples: list[Any], hops: int, limit: int | None,
               what: str) -> tuple[dict[str, Any], Any]:
    """Sample (seeded) and link the questions; the answerable ceiling of the split and of the sample.

    Raises:
        UnscorableError: more than half of the questions have no gold answer entity in the graph.
    """
    from kgfm.qa.data import prepare_examples
    from kgfm.qa.metaqa import EntityLookup, answerable_ceiling, resolve, sample_indices

    lookup = EntityLookup(engine.graph)
    resolved_all = resolve(examples, lookup)
    no_gold = sum(1 for a in resolved_all.answer_idx if a.size == 0)
    if no_gold * 2 > len(examples):
        raise UnscorableError(
            f"{what}: {no_gold} of {len(examples)} questions have no gold answer entity in this graph "
            f"({engine.graph.num_entities} entities; {resolved_all.missing_answers} answer names not found): "
            "not scoring them (wrong graph or wrong model for these questions?)")
    ceiling_all = answerable_ceiling(engine.graph, resolved_all, hops)
    total = len(examples)
    if limit and limit < len(examples):
        examples = [examples[i] for i in sample_indices(len(examples), limit)]
    prepared = prepare_examples(examples, engine.linker, lookup)
    resolved = resolve(examples, lookup)
    resolved.topic_idx = np.where(resolved.topic_idx >= 0, resolved.topic_idx, prepared.topics)  # unnamed: as linked
    ceiling = answerable_ceiling(engine.graph, resolved, hops)
    return {
        "questions": len(examples),
        "sampled_from": None if not limit else "seeded random sample (seed 0)",
        "ceiling": float(ceiling.mean()),
        "split_questions": total,
        "ceiling_whole_split": float(ceiling_all.mean()),
        "topic_linked": float((prepared.topics >= 0).mean()),
        "no_gold_in_graph": no_gold,
    }, prepared
