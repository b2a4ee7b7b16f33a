"""Scorer shapes, padded candidate sets, the multi-positive loss, and the scorer on any device."""

from __future__ import annotations

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


def test_padded_scores_equal_full_path_scores(tiny_graph):
    """The candidate logits are exactly the dense per-entity scores gathered at the candidates."""
    scorer = _scorer(tiny_graph, 6).eval()
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
