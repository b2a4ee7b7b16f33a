"""Ranking answers and measuring Hits@1, with and without fusion, beside the answerable ceiling.

Hits@1 is computed over *all* KB entities: the model gives every entity a score (entities
outside the topic's k-hop neighbourhood get ``-inf``, the topic itself is excluded) and a
question counts as answered when its top entity is in the gold set. Questions whose topic
cannot be linked count as wrong.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from kgfm.qa.candidates import UndirectedAdjacency, candidate_masks
from kgfm.qa.data import EntityAlignment, PreparedQuestions, batch_indices
from kgfm.qa.model import NEG_INF


@torch.no_grad()
def encode_questions(
    encoder: torch.nn.Module,
    prepared: PreparedQuestions,
    alignment: EntityAlignment,
    batch_size: int = 64,
    use_fusion: bool | None = None,
    progress: bool = False,
) -> torch.Tensor:
    """``[Q, H]`` question vectors (encoder in eval mode, no gradients)."""
    from tqdm.auto import tqdm

    was_training = encoder.training
    encoder.eval()
    out = []
    batches = list(batch_indices(len(prepared), batch_size))
    for idx in tqdm(batches, desc="encode", disable=not progress, leave=False):
        mentions = alignment.mentions_for_index([prepared.mentions[i] for i in idx])
        batch = encoder.tokenize([prepared.texts[i] for i in idx], mentions)
        out.append(encoder(batch, use_fusion=use_fusion))
    encoder.train(was_training)
    return torch.cat(out) if out else torch.zeros(0, encoder.hidden_size)


@torch.no_grad()
def rank_answers(
    scorer: torch.nn.Module,
    vectors: torch.Tensor,
    topics: np.ndarray,
    adjacency: UndirectedAdjacency,
    hops: int,
    top_k: int = 1,
    batch_size: int = 64,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Top-k entities per question.

    Returns:
        ``(idx [Q, k], logits [Q, k], log_norm [Q])``; ``idx == -1`` where the question has fewer
        candidates (or no linked topic); ``exp(logits - log_norm)`` is the softmax probability
        over the question's candidates.
    """
    was_training = scorer.training
    scorer.eval()
    n = len(topics)
    k = max(1, min(top_k, adjacency.num_entities))
    top_idx = np.full((n, k), -1, dtype=np.int64)
    top_val = np.full((n, k), -np.inf, dtype=np.float32)
    log_norm = np.zeros(n, dtype=np.float32)
    for idx in batch_indices(n, batch_size):
        t = topics[idx]
        cands = candidate_masks(adjacency, t, hops)
        logits = scorer(vectors[idx], torch.from_numpy(np.maximum(t, 0)), cands)
        val, ind = torch.topk(logits, k, dim=1)
        ok = (val > NEG_INF / 2).numpy()
        top_idx[idx] = np.where(ok, ind.numpy(), -1)
        top_val[idx] = np.where(ok, val.numpy(), -np.inf)
        log_norm[idx] = torch.logsumexp(logits, dim=1).numpy()
    scorer.train(was_training)
    return top_idx, top_val, log_norm


def hits_at_1(top_idx: np.ndarray, answers: list[np.ndarray]) -> np.ndarray:
    """``[Q]`` bool: the top entity is a gold answer."""
    return np.array([bool(top[0] >= 0 and gold.size and top[0] in gold) for top, gold in zip(top_idx, answers)])


def summarize(hits: np.ndarray, prepared: PreparedQuestions) -> dict[str, Any]:
    """Hits@1 overall and per question type."""
    out: dict[str, Any] = {"questions": int(len(hits)), "hits@1": float(hits.mean()) if len(hits) else 0.0}
    if prepared.examples and all(e.qtype for e in prepared.examples):
        per: dict[str, list[bool]] = defaultdict(list)
        for hit, e in zip(hits, prepared.examples):
            per[e.qtype].append(bool(hit))
        out["per_qtype"] = {k: {"n": len(v), "hits@1": float(np.mean(v))} for k, v in sorted(per.items())}
    return out


def question_hits(
    model: torch.nn.Module,
    prepared: PreparedQuestions,
    alignment: EntityAlignment,
    adjacency: UndirectedAdjacency,
    hops: int,
    use_fusion: bool | None = None,
    batch_size: int = 64,
    progress: bool = False,
) -> np.ndarray:
    """``[Q]`` bool: encode, rank, and check each question's top answer (one fusion setting)."""
    vectors = encode_questions(model.encoder, prepared, alignment, batch_size, use_fusion, progress)
    top, _, _ = rank_answers(model.scorer, vectors, prepared.topics, adjacency, hops, 1, batch_size)
    return hits_at_1(top, prepared.answers)


def paired_comparison(hits_a: np.ndarray, hits_b: np.ndarray) -> dict[str, Any]:
    """McNemar's exact test on the same questions answered two ways (e.g. fusion on / off).

    Returns the discordant counts (``a_only``: right with A, wrong with B; ``b_only``: the
    reverse), the Hits@1 difference ``a - b``, and the two-sided exact binomial p-value of
    ``a_only`` vs ``b_only`` -- whether the difference is more than chance at this many questions.
    """
    from scipy.stats import binomtest

    a_only = int(np.sum(hits_a & ~hits_b))
    b_only = int(np.sum(hits_b & ~hits_a))
    n = a_only + b_only
    p = float(binomtest(a_only, n, 0.5).pvalue) if n else 1.0
    diff = float(hits_a.mean() - hits_b.mean()) if len(hits_a) else 0.0
    return {"a_only": a_only, "b_only": b_only, "difference": diff, "mcnemar_p": p}


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
    from kgfm.artifacts import read_manifest
    from kgfm.config import ConfigError
    from kgfm.qa.checkpoint import KIND
    from kgfm.qa.config import QAConfig
    from kgfm.qa.metaqa import answerable_ceiling, resolve

    if dataset != "metaqa":
        raise ConfigError(f"--dataset {dataset!r}: only 'metaqa' is supported")
    if split not in ("test", "dev", "valid"):
        raise ConfigError(f"--split {split!r}: expected test, dev or valid")
    manifest = read_manifest(Path(model_dir), KIND, verify=False)
    cfg = QAConfig.model_validate(manifest["config"])
    if store_path is not None:
        cfg.store.path = Path(store_path)
    examples = split_examples(cfg, hops, split, data_root)
    engine = _load_engine(Path(model_dir), cfg)
    from kgfm.qa.data import prepare_examples
    from kgfm.qa.metaqa import EntityLookup

    lookup = EntityLookup(engine.graph)
    ceiling_all = answerable_ceiling(engine.graph, resolve(examples, lookup), hops)
    total = len(examples)
    if limit and limit < len(examples):
        keep = np.sort(np.random.default_rng(0).choice(len(examples), size=limit, replace=False))
        examples = [examples[i] for i in keep]
    prepared = prepare_examples(examples, engine.linker, lookup)
    ceiling = answerable_ceiling(engine.graph, resolve(examples, lookup), hops)
    result: dict[str, Any] = {
        "dataset": "metaqa",
        "hops": hops,
        "split": split,
        "questions": len(examples),
        "sampled_from": None if not limit else "seeded random sample (seed 0)",
        "model": str(model_dir),
        "encoder_kind": engine.model.encoder.kind,
        "trained_hops": cfg.data.hops,
        "ceiling": float(ceiling.mean()),
        "split_questions": total,
        "ceiling_whole_split": float(ceiling_all.mean()),
        "topic_linked": float((prepared.topics >= 0).mean()),
    }
    fused = engine.model.encoder.kind == "fusion"
    settings = [("with_fusion", None), ("without_fusion", False)] if fused else [("plain_encoder", None)]
    hits = {}
    for name, use_fusion in settings:
        start = time.perf_counter()
        hits[name] = question_hits(engine.model, prepared, engine.alignment, engine.adjacency, hops, use_fusion,
                                   progress=True)
        result[name] = dict(summarize(hits[name], prepared), seconds=round(time.perf_counter() - start, 2))
    if fused:
        result["fusion_vs_off"] = paired_comparison(hits["with_fusion"], hits["without_fusion"])
    out_path = Path(out_path) if out_path else Path(model_dir).parent / f"eval-metaqa-{hops}hop-{split}.json"
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(result, indent=2), encoding="utf-8")
    result["written_to"] = str(out_path)
    return result


def _load_engine(model_dir: Path, cfg: Any) -> Any:
    from kgfm.qa.answer import QAEngine

    return QAEngine.load(model_dir, store_config=cfg.store)
