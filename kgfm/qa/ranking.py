"""Ranking answers and measuring Hits@1 (the functions; ``kgfm eval`` is :mod:`kgfm.qa.evaluate`).

Hits@1 is computed over *all* KB entities: the model scores every candidate of a question
(the topic's k-hop neighbourhood, topic excluded; everything else is never ranked) and a
question counts as answered when its top entity is in the gold set. Questions whose topic
cannot be linked count as wrong.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np
import torch

from kgfm.qa.candidates import UndirectedAdjacency, candidate_sets
from kgfm.qa.data import PreparedQuestions, batch_indices, mention_triples
from kgfm.qa.model import NEG_INF


@torch.no_grad()
def encode_questions(
    encoder: torch.nn.Module,
    prepared: PreparedQuestions,
    batch_size: int = 64,
    use_fusion: bool | None = None,
    progress: bool = False,
) -> torch.Tensor:
    """``[Q, H]`` question vectors (encoder in eval mode, no gradients)."""
    from kgfm.progress import progress as tqdm  # a bar on a terminal, log lines otherwise

    was_training = encoder.training
    if was_training:  # a walk over every module: skipped when the model already is in eval mode
        encoder.eval()
    out = []
    batches = list(batch_indices(len(prepared), batch_size))
    for idx in tqdm(batches, desc="encode", leave=False) if progress else batches:
        mentions = mention_triples([prepared.mentions[i] for i in idx])
        batch = encoder.tokenize([prepared.texts[i] for i in idx], mentions)
        out.append(encoder(batch, use_fusion=use_fusion))
    if was_training:
        encoder.train(True)
    return torch.cat(out) if out else torch.zeros(0, encoder.hidden_size, device=encoder.device)


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
        over the question's candidates (a padded ``[B, C]`` set per batch, on the scorer's device).
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
        cands = candidate_sets(adjacency, t, hops).to(vectors.device)
        logits = scorer(vectors[idx], torch.from_numpy(np.maximum(t, 0)), cands)
        kk = min(k, cands.shape[1])
        val, pos = torch.topk(logits, kk, dim=1)
        ent = cands.gather(1, pos)
        ok = ((val > NEG_INF / 2) & (ent >= 0)).cpu().numpy()
        top_idx[idx, :kk] = np.where(ok, ent.cpu().numpy(), -1)
        top_val[idx, :kk] = np.where(ok, val.float().cpu().numpy(), -np.inf)
        log_norm[idx] = torch.logsumexp(logits, dim=1).float().cpu().numpy()
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


@torch.no_grad()
def gold_ranks(
    scorer: torch.nn.Module,
    vectors: torch.Tensor,
    topics: np.ndarray,
    answers: list[np.ndarray],
    adjacency: UndirectedAdjacency,
    hops: int,
    batch_size: int = 64,
) -> np.ndarray:
    """``[Q]`` 1-based rank of the best-scored gold answer among the question's candidates
    (``0``: no gold answer is a candidate, or no linked topic). Ties count against the gold answer."""
    was_training = scorer.training
    scorer.eval()
    ranks = np.zeros(len(topics), dtype=np.int64)
    for idx in batch_indices(len(topics), batch_size):
        t = topics[idx]
        cands = candidate_sets(adjacency, t, hops).to(vectors.device)
        logits = scorer(vectors[idx], torch.from_numpy(np.maximum(t, 0)), cands).float()
        valid = (logits > NEG_INF / 2) & (cands >= 0)
        for row, q in enumerate(idx):
            gold = torch.as_tensor(answers[q], dtype=cands.dtype, device=cands.device)
            if t[row] < 0 or gold.numel() == 0:
                continue
            is_gold = torch.isin(cands[row], gold) & valid[row]
            if not bool(is_gold.any()):
                continue
            best = logits[row][is_gold].max()
            ranks[q] = 1 + int(((logits[row] >= best) & valid[row] & ~is_gold).sum())
    scorer.train(was_training)
    return ranks


def question_ranks(
    model: torch.nn.Module,
    prepared: PreparedQuestions,
    adjacency: UndirectedAdjacency,
    hops: int,
    use_fusion: bool | None = None,
    batch_size: int = 64,
    progress: bool = False,
) -> np.ndarray:
    """``[Q]`` gold ranks (:func:`gold_ranks`) for one fusion setting; ``ranks == 1`` is Hits@1."""
    vectors = encode_questions(model.encoder, prepared, batch_size, use_fusion, progress)
    return gold_ranks(model.scorer, vectors, prepared.topics, prepared.answers, adjacency, hops, batch_size)


def rank_summary(ranks: np.ndarray, prepared: PreparedQuestions) -> dict[str, Any]:
    """Hits@1/3/10 and MRR (unranked gold counts 0) overall, Hits@1 per question type."""
    out = summarize(ranks == 1, prepared)
    ranked = ranks > 0
    for k in (3, 10):
        out[f"hits@{k}"] = float((ranked & (ranks <= k)).mean()) if len(ranks) else 0.0
    out["mrr"] = float(np.where(ranked, 1.0 / np.maximum(ranks, 1), 0.0).mean()) if len(ranks) else 0.0
    return out


def question_hits(
    model: torch.nn.Module,
    prepared: PreparedQuestions,
    adjacency: UndirectedAdjacency,
    hops: int,
    use_fusion: bool | None = None,
    batch_size: int = 64,
    progress: bool = False,
) -> np.ndarray:
    """``[Q]`` bool: is a gold answer ranked first (ties count against it; :func:`question_ranks` == 1)."""
    return question_ranks(model, prepared, adjacency, hops, use_fusion, batch_size, progress) == 1
