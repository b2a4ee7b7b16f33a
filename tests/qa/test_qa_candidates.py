"""k-hop candidate sets and the relation-following step on a tiny graph."""

from __future__ import annotations

import numpy as np
import torch

from kgfm.qa.candidates import RelationAdjacency, UndirectedAdjacency, candidate_stats, khop_reach


def _ids(graph, row) -> set[str]:
    row = row.numpy() if isinstance(row, torch.Tensor) else row
    return {graph.entity_ids[i] for i in np.flatnonzero(row)}


def test_khop_reach_is_undirected_and_excludes_the_seed(tiny_graph):
    adj = UndirectedAdjacency.from_graph(tiny_graph)
    idx = tiny_graph.entity_ids.index
    one = khop_reach(adj, np.array([idx("William Wyler"), idx("Gary Cooper"), -1]), 1)
    assert _ids(tiny_graph, one[0]) == {"Jezebel", "The Letter"}
    assert _ids(tiny_graph, one[1]) == {"Morocco", "Desire"}
    assert not one[2].any()
    two = khop_reach(adj, np.array([idx("William Wyler")]), 2)[0]
    assert _ids(tiny_graph, two) == {"Jezebel", "The Letter", "Bette Davis", "1938", "1940", "English"}
    kept = khop_reach(adj, np.array([idx("William Wyler")]), 2, exclude_seed=False)[0]
    assert _ids(tiny_graph, kept) == _ids(tiny_graph, two) | {"William Wyler"}


def test_relation_step_follows_only_the_weighted_relation(tiny_graph):
    rels = RelationAdjacency.from_graph(tiny_graph)
    n, r = tiny_graph.num_entities, tiny_graph.num_relations
    assert rels.num_relations == 2 * r
    x = torch.zeros(2, n)
    x[0, tiny_graph.entity_ids.index("Morocco")] = 1.0
    x[1, tiny_graph.entity_ids.index("Bette Davis")] = 1.0
    w = torch.zeros(2, 2 * r)
    w[0, tiny_graph.relation_types.index("starred_actors")] = 1.0  # forward: movie -> actor
    w[1, r + tiny_graph.relation_types.index("starred_actors")] = 0.5  # inverse: actor -> movie
    out = rels.step(x, w)
    assert _ids(tiny_graph, out[0] > 0) == {"Marlene Dietrich", "Gary Cooper"}
    assert _ids(tiny_graph, out[1] > 0) == {"Juarez", "Jezebel", "The Letter"}
    assert torch.allclose(out[1][out[1] > 0], torch.tensor(0.5))


def test_relation_step_is_differentiable_in_the_weights(tiny_graph):
    rels = RelationAdjacency.from_graph(tiny_graph)
    x = torch.zeros(1, tiny_graph.num_entities)
    x[0, 0] = 1.0
    logits = torch.zeros(1, rels.num_relations, requires_grad=True)
    rels.step(x, torch.softmax(logits, -1)).sum().backward()
    assert logits.grad is not None and logits.grad.abs().sum() > 0


def test_candidate_stats_recall_and_sizes(tiny_graph):
    adj = UndirectedAdjacency.from_graph(tiny_graph)
    idx = tiny_graph.entity_ids.index
    topics = np.array([idx("Kismet"), idx("Gary Cooper")])
    answers = [np.array([idx("William Dieterle")]), np.array([idx("Josef von Sternberg"), idx("Kismet")])]
    one = candidate_stats(adj, topics, answers, 1)
    assert one.recall == 0.5 and one.answer_recall == 1 / 3
    two = candidate_stats(adj, topics, answers, 2)
    assert two.recall == 1.0 and two.answer_recall == 2 / 3
    assert two.mean_candidates > one.mean_candidates
