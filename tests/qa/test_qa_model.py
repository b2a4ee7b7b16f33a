"""Scorer shapes, padded candidate sets, the multi-positive loss, and the scorer on any device."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from kgfm.qa.candidates import RelationAdjacency, UndirectedAdjacency, candidate_sets, gold_mask
from kgfm.qa.model import NEG_INF, AnswerScorer, ScorerShape, multi_positive_loss


def _scorer(graph, entity_dim: int) -> AnswerScorer:
    torch.manual_seed(0)
    rels = RelationAdjacency.from_graph(graph)
    scorer = AnswerScorer(ScorerShape(hidden_size=12, num_directed_relations=rels.num_relations, max_hops=2,
                                      entity_dim=entity_dim, proj_dim=8, dropout=0.0))
    emb = torch.randn(graph.num_entities, entity_dim) if entity_dim else None
    scorer.attach_graph(rels, emb)
    return scorer


@pytest.mark.parametrize("entity_dim", [0, 6])
def test_scores_padded_candidates_and_masks_the_padding(tiny_graph, entity_dim: int):
    scorer = _scorer(tiny_graph, entity_dim)
    adj = UndirectedAdjacency.from_graph(tiny_graph)
    topics = np.array([0, 3, 5])
    cands = candidate_sets(adj, topics, 2)
    logits = scorer(torch.randn(3, 12), torch.from_numpy(topics), cands)
    assert logits.shape == cands.shape and cands.shape[1] < tiny_graph.num_entities + 1
    assert torch.all(logits[cands < 0] == NEG_INF)
    assert torch.all(logits[cands >= 0] > NEG_INF / 2)
    assert not (cands == torch.from_numpy(topics)[:, None]).any()  # the topic is never a candidate
    rel, hop = scorer.attention(torch.randn(3, 12))
    assert rel.shape == (3, 2, 2 * tiny_graph.num_relations) and hop.shape == (3, 2)
    assert torch.allclose(rel.sum(-1), torch.ones(3, 2))


@pytest.mark.parametrize("dense_table", [True, False])
def test_padded_scores_equal_full_path_scores(tiny_graph, dense_table: bool):
    """The candidate logits are exactly the dense per-entity scores gathered at the candidates, whether
    the embedding term scores the whole table or only the candidates' rows."""
    scorer = _scorer(tiny_graph, 6).eval()
    scorer.DENSE_TABLE_FACTOR = 10**6 if dense_table else 0
    adj = UndirectedAdjacency.from_graph(tiny_graph)
    topics = np.array([1, 4])
    cands = candidate_sets(adj, topics, 1)
    q = torch.randn(2, 12)
    logits = scorer(q, torch.from_numpy(topics), cands)
    full = scorer.path_scale * scorer.path_scores(q, torch.from_numpy(topics)) + scorer.path_bias
    emb = scorer.entity_embeddings
    query = scorer.topic_proj(emb[topics]) * scorer.question_relation(q) + scorer.question_type(q)
    full = full + query @ scorer.cand_proj(emb).T / np.sqrt(8)
    ok = cands >= 0
    torch.testing.assert_close(logits[ok], full.gather(1, cands.clamp(min=0))[ok])


def test_embedding_term_gradients_do_not_depend_on_the_branch(tiny_graph):
    """Scoring the whole table or the candidates' rows trains the same projections."""
    adj = UndirectedAdjacency.from_graph(tiny_graph)
    topics = torch.from_numpy(np.array([0, 3]))
    cands = candidate_sets(adj, topics.numpy(), 2)
    q = torch.randn(2, 12)
    grads = []
    for factor in (10**6, 0):
        scorer = _scorer(tiny_graph, 6).eval()  # seeded: the same weights each time
        scorer.DENSE_TABLE_FACTOR = factor
        scores = scorer.embedding_scores(q, topics, cands)
        scores.masked_fill(cands < 0, 0.0).pow(2).sum().backward()
        grads.append([p.grad.clone() for p in (scorer.cand_proj.weight, scorer.cand_proj.bias, scorer.topic_proj.weight)])
    for dense, rows in zip(*grads):
        assert dense.abs().sum() > 0
        torch.testing.assert_close(dense, rows)


def test_graph_with_other_relations_is_refused(tiny_graph):
    scorer = _scorer(tiny_graph, 0)
    small = RelationAdjacency(scorer.edge_src, scorer.edge_dst, scorer.edge_rel, tiny_graph.num_entities, 4)
    with pytest.raises(ValueError, match="relations"):
        scorer.attach_graph(small, None)
    with pytest.raises(ValueError, match="entity embeddings"):
        _scorer(tiny_graph, 6).attach_graph(RelationAdjacency.from_graph(tiny_graph), torch.zeros(3, 6))


def test_losses_prefer_the_gold_answers_and_training_moves_them_up(tiny_graph):
    scorer = _scorer(tiny_graph, 6)
    adj = UndirectedAdjacency.from_graph(tiny_graph)
    idx = tiny_graph.entity_ids.index
    topics = np.array([idx("Kismet"), idx("Bette Davis")])
    gold = [np.array([idx("William Dieterle")]), np.array([idx("Juarez"), idx("Jezebel"), idx("The Letter")])]
    cands = candidate_sets(adj, topics, 1)
    targets = gold_mask(cands, gold)
    assert targets.sum(1).tolist() == [1, 3]
    q = torch.randn(2, 12)
    opt = torch.optim.Adam(scorer.parameters(), lr=0.05)
    first = None
    for _ in range(30):
        loss = multi_positive_loss(scorer(q, torch.from_numpy(topics), cands), targets)
        first = float(loss.detach()) if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    logits = scorer(q, torch.from_numpy(topics), cands)
    assert float(multi_positive_loss(logits, targets).detach()) < first / 4
    best = cands.gather(1, logits.argmax(1, keepdim=True)).squeeze(1)
    assert int(best[0]) == idx("William Dieterle") and int(best[1]) in gold[1].tolist()


def test_loss_ignores_questions_without_a_gold_candidate():
    logits = torch.zeros(2, 4, requires_grad=True)
    cands = torch.tensor([[0, 1, 2, -1], [0, 1, 2, -1]])
    gold = gold_mask(cands, [np.array([1]), np.array([5])])  # 5 is not a candidate: no signal
    loss = multi_positive_loss(logits.masked_fill(cands < 0, NEG_INF), gold)
    assert float(loss.detach()) == pytest.approx(np.log(3), rel=1e-5)


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_scorer_moves_with_the_model(tiny_graph, device: str):
    if device == "cuda" and not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    scorer = _scorer(tiny_graph, 6).eval()
    adj = UndirectedAdjacency.from_graph(tiny_graph)
    topics = np.array([0, 3])
    cands = candidate_sets(adj, topics, 2)
    q = torch.randn(2, 12)
    expected = scorer(q, torch.from_numpy(topics), cands)
    scorer.to(device)
    assert scorer.edge_src.device.type == device and scorer.entity_embeddings.device.type == device
    got = scorer(q.to(device), torch.from_numpy(topics), cands)
    assert got.device.type == device
    torch.testing.assert_close(got.cpu(), expected, rtol=1e-4, atol=1e-4)


def _steered_scorer(graph, path_score: str, step1: int, step2: int, gap: float) -> AnswerScorer:
    """A 2-step, embedding-free scorer whose attention is set by hand: step 1 puts ``softmax`` weight
    on directed relation ``step1`` with logit ``gap`` over every other, step 2 on ``step2`` with 50, and
    (almost) all hop weight on the second step."""
    rels = RelationAdjacency.from_graph(graph)
    scorer = AnswerScorer(ScorerShape(hidden_size=4, num_directed_relations=rels.num_relations, max_hops=2,
                                      entity_dim=0, proj_dim=8, dropout=0.0, path_score=path_score))
    scorer.attach_graph(rels, None)
    r = rels.num_relations
    with torch.no_grad():
        for lin in (scorer.relation_attention, scorer.hop_attention):
            lin.weight.zero_()
            lin.bias.zero_()
        scorer.relation_attention.bias[step1] = gap
        scorer.relation_attention.bias[r + step2] = 50.0
        scorer.hop_attention.bias[1] = 50.0
    return scorer


def test_log_path_scores_hand_computed(tiny_graph):
    """Marlene Dietrich -starred_actors^-1-> her 4 films -directed_by-> their 3 directors (Josef von
    Sternberg twice, clamped to 1): mass scores 8 * p, log scores 1 * log(p + 1e-4)."""
    idx = tiny_graph.entity_ids.index
    rel = tiny_graph.relation_types.index
    r = tiny_graph.num_relations
    topic = np.array([idx("Marlene Dietrich")])
    cands = candidate_sets(UndirectedAdjacency.from_graph(tiny_graph), topic, 2)
    names = [tiny_graph.entity_ids[i] for i in cands[0].tolist()]
    directors = torch.tensor([n in ("William Dieterle", "Josef von Sternberg", "Frank Borzage") for n in names])
    assert int(directors.sum()) == 3 and len(names) > 3
    q = torch.zeros(1, 4)
    for mode, reached, unreached in (("mass", 8.0, 0.0), ("log", math.log(1 + 1e-4), math.log(1e-4))):
        scorer = _steered_scorer(tiny_graph, mode, r + rel("starred_actors"), rel("directed_by"), 50.0)
        logits = scorer(q, torch.from_numpy(topic), cands)[0]
        torch.testing.assert_close(logits[directors], torch.full((3,), reached), atol=1e-5, rtol=0)
        torch.testing.assert_close(logits[~directors], torch.full((len(names) - 3,), unreached), atol=1e-5, rtol=0)
    assert ScorerShape(hidden_size=4, num_directed_relations=8, max_hops=2, entity_dim=0, proj_dim=8).path_score == "mass"
    with pytest.raises(ValueError, match="path_score"):
        AnswerScorer(ScorerShape(hidden_size=4, num_directed_relations=8, max_hops=2, entity_dim=0, proj_dim=8,
                                 path_score="sum"))


def test_log_path_keeps_the_gradient_of_a_path_the_attention_settled_away_from(tiny_graph):
    """Step 1 has settled on ``starred_actors`` read head to tail, which leads nowhere from an actor
    (the right step, its inverse, gets softmax weight ~1e-3). With ``mass`` every candidate's path
    score is ~1e-3 * 8, and the loss barely reaches the attention; in log space the path term's
    gradient is divided by ``p + 1e-4`` instead of scaled by ``alpha = 8`` (-0.202 vs -0.0076 here,
    27x: less than 1 / (8 * 1.1e-3) because in log space the gold answers already lead the softmax)."""
    idx = tiny_graph.entity_ids.index
    rel = tiny_graph.relation_types.index
    r = tiny_graph.num_relations
    topic = np.array([idx("Marlene Dietrich")])
    cands = candidate_sets(UndirectedAdjacency.from_graph(tiny_graph), topic, 2)
    gold = gold_mask(cands, [np.array([idx("Josef von Sternberg"), idx("William Dieterle"), idx("Frank Borzage")])])
    grads = {}
    for mode in ("mass", "log"):
        scorer = _steered_scorer(tiny_graph, mode, rel("starred_actors"), rel("directed_by"), 7.0)
        rel_w, _ = scorer.attention(torch.zeros(1, 4))
        assert 5e-4 < float(rel_w[0, 0, r + rel("starred_actors")].detach()) < 2e-3
        multi_positive_loss(scorer(torch.zeros(1, 4), torch.from_numpy(topic), cands), gold).backward()
        grads[mode] = float(scorer.relation_attention.bias.grad[r + rel("starred_actors")])
    assert grads["mass"] < 0 and grads["log"] < 0  # both push the right step up
    assert abs(grads["log"]) > 20 * abs(grads["mass"])
