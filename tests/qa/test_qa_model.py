"""Scorer shapes, candidate masking and the multi-positive loss."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kgfm.qa.candidates import RelationAdjacency, UndirectedAdjacency, candidate_masks
from kgfm.qa.data import target_matrix
from kgfm.qa.model import NEG_INF, AnswerScorer, ScorerShape, bce_loss, multi_positive_loss


def _scorer(graph, entity_dim: int) -> AnswerScorer:
    torch.manual_seed(0)
    rels = RelationAdjacency.from_graph(graph)
    scorer = AnswerScorer(ScorerShape(hidden_size=12, num_directed_relations=rels.num_relations, max_hops=2,
                                      entity_dim=entity_dim, proj_dim=8, dropout=0.0))
    emb = torch.randn(graph.num_entities, entity_dim) if entity_dim else None
    scorer.attach_graph(rels, emb)
    return scorer


@pytest.mark.parametrize("entity_dim", [0, 6])
def test_scores_every_entity_and_masks_non_candidates(tiny_graph, entity_dim: int):
    scorer = _scorer(tiny_graph, entity_dim)
    adj = UndirectedAdjacency.from_graph(tiny_graph)
    topics = np.array([0, 3, 5])
    cands = candidate_masks(adj, topics, 2)
    logits = scorer(torch.randn(3, 12), torch.from_numpy(topics), cands)
    assert logits.shape == (3, tiny_graph.num_entities)
    assert torch.all(logits[~cands] == NEG_INF)
    assert torch.all(logits[cands] > NEG_INF / 2)
    assert not cands[torch.arange(3), torch.from_numpy(topics)].any()  # the topic is never a candidate
    rel, hop = scorer.attention(torch.randn(3, 12))
    assert rel.shape == (3, 2, 2 * tiny_graph.num_relations) and hop.shape == (3, 2)
    assert torch.allclose(rel.sum(-1), torch.ones(3, 2))


def test_graph_with_other_relations_is_refused(tiny_graph):
    scorer = _scorer(tiny_graph, 0)
    small = RelationAdjacency(scorer.relations.src, scorer.relations.dst, scorer.relations.rel,
                              tiny_graph.num_entities, 4)
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
    cands = candidate_masks(adj, topics, 1)
    targets = target_matrix(gold, tiny_graph.num_entities)
    q = torch.randn(2, 12)
    opt = torch.optim.Adam(scorer.parameters(), lr=0.05)
    first = None
    for _ in range(30):
        loss = multi_positive_loss(scorer(q, torch.from_numpy(topics), cands), targets, cands)
        first = float(loss.detach()) if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    logits = scorer(q, torch.from_numpy(topics), cands)
    assert float(multi_positive_loss(logits, targets, cands).detach()) < first / 4
    assert logits.argmax(1).tolist() == [idx("William Dieterle"), logits.argmax(1)[1].item()]
    assert logits.argmax(1)[1].item() in gold[1].tolist()
    assert torch.isfinite(bce_loss(logits, targets, cands))


def test_loss_ignores_questions_without_a_gold_candidate(tiny_graph):
    n = tiny_graph.num_entities
    logits = torch.zeros(2, n, requires_grad=True)
    cands = torch.zeros(2, n, dtype=torch.bool)
    cands[:, :3] = True
    targets = torch.zeros(2, n, dtype=torch.bool)
    targets[0, 1] = True
    targets[1, 5] = True  # outside the candidates: no signal
    loss = multi_positive_loss(logits.masked_fill(~cands, NEG_INF), targets, cands)
    assert float(loss.detach()) == pytest.approx(np.log(3), rel=1e-5)
