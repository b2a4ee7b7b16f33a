"""Relation views: the linked entity seen through each relation of the graph encoder's decoder."""

from __future__ import annotations

import math

import pytest
import torch

from kgfm.config import ConfigError
from kgfm.fusion.kg_head import RelationViews
from kgfm.fusion.layer import FusionLayer

from tests.fusion.conftest import tiny_backbone, toy_graph
from tests.fusion.test_kg_head import _toy_kg_index, small_index


def test_views_are_the_decoders_queries_normalised():
    views, valid = RelationViews(small_index())(torch.tensor([[3, -1]]))
    # DistMult e_d * w_r: e_d = (2, -1); w = (1, 2), (3, -1), (.5, .5), (-1, 1)
    raw = [(2.0, -2.0), (6.0, 1.0), (1.0, -0.5), (-2.0, -1.0)]
    expected = [[x / math.hypot(x, y), y / math.hypot(x, y)] for x, y in raw]
    assert views.shape == (1, 2, 4, 2)
    assert views[0, 0].tolist() == [pytest.approx(v, abs=1e-6) for v in expected]
    assert valid.tolist() == [[[True] * 4, [False] * 4]]


def test_views_need_an_index_with_relations():
    with pytest.raises(ConfigError, match="relation_views"):
        RelationViews(small_index(relations=False))


def test_the_layer_attends_to_a_view_that_matches_the_query():
    torch.manual_seed(0)
    layer = FusionLayer(hidden_size=4, entity_dim=2, top_k=1, knowledge_dropout=0.0, hidden_dropout=0.0)
    layer.eval()
    with torch.no_grad():  # query = first two hidden dims, scaled up so the softmax is sharp
        layer.query.weight.copy_(torch.tensor([[20.0, 0, 0, 0], [0, 20.0, 0, 0]]))
        layer.query.bias.zero_()
    hidden = torch.tensor([[[0.0, 1.0, 0, 0], [0.0, 0.0, 0, 0]]])  # token 0 is the mention
    mask = torch.tensor([[[1.0, 0.0]]])
    table = torch.tensor([[1.0, 0.0], [-1.0, 0.0]])
    views = (torch.tensor([[[[0.0, 1.0], [0.0, -1.0]]]]), torch.tensor([[[True, True]]]))

    def search(q, k):
        import numpy as np

        return np.ones((q.shape[0], k), dtype=np.int64)  # always entity 1

    _, plain = layer(hidden, mask, torch.tensor([[0]]), table, search)
    _, trace = layer(hidden, mask, torch.tensor([[0]]), table, search, views)
    assert trace.view_attention.shape == (1, 1, 2) and plain.view_attention is None
    assert trace.view_attention[0, 0, 0].item() > 0.99  # the view (0, 1) matches the query (0, 20)
    assert trace.attention.shape == plain.attention.shape == (1, 1, 2)  # entities only: linked + top-1
    _, unlinked = layer(hidden, mask, torch.tensor([[-1]]), table, search,
                        (views[0], torch.tensor([[[False, False]]])))
    assert unlinked.view_attention.sum().item() == 0.0 and unlinked.attention[0, 0, 1].item() == pytest.approx(1.0)


def test_model_with_views_trains_them_into_fusion_and_round_trips(tmp_path):
    from kgfm.fusion.model import FusionConfig, KnowledgeFusionModel

    graph = toy_graph(with_text=False)
    index = _toy_kg_index(graph)
    torch.manual_seed(0)
    cfg = FusionConfig(backbone_config=tiny_backbone(), fusion_layers=[0, 1], top_k=2, relation_views=True,
                       gate_bias=0.0)
    model = KnowledgeFusionModel(cfg, index).eval()
    ids = torch.tensor([[2, 5, 6, 7, 3]])
    am = torch.ones_like(ids)
    spans, ents = torch.tensor([[[1, 3]]]), torch.tensor([[4]])
    out = model(ids, am, spans, ents)
    assert [t.view_attention.shape for t in out.traces] == [(1, 1, 2 * len(graph.relation_types))] * 2
    off = model(ids, am, spans, ents, use_fusion=False)
    assert not torch.allclose(out.last_hidden_state, off.last_hidden_state)
    views, model.relation_views = model.relation_views, None  # the same weights without the views
    assert not torch.allclose(model(ids, am, spans, ents).last_hidden_state, out.last_hidden_state)
    model.relation_views = views
    model.save_pretrained(tmp_path / "m")
    again = KnowledgeFusionModel.from_pretrained(tmp_path / "m", index).eval()
    assert again.relation_views is not None
    assert torch.allclose(again(ids, am, spans, ents).last_hidden_state, out.last_hidden_state, atol=1e-6)
    model.train()
    model(ids, am, spans, ents).last_hidden_state.sum().backward()
    assert model.fusion_layers[0].query.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("kwargs", [{"kind": "plain"}, {"init": "pretrained", "checkpoint": "m"}])
def test_qa_relation_views_only_on_fresh_fusion_layers(kwargs):
    from pydantic import ValidationError

    from kgfm.qa.config import QAEncoderConfig

    assert QAEncoderConfig(relation_views=True).relation_views  # kind fusion, init base
    with pytest.raises(ValidationError, match="encoder.relation_views needs kind: fusion and init: base"):
        QAEncoderConfig(relation_views=True, **kwargs)
