"""Encoder model: inverse edges, CompGCN message passing vs a dense reference, decoder shapes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kgfm.encoder.config import ModelConfig
from kgfm.encoder.data import build_data, tensors_from_triples
from kgfm.encoder.layers import CompGCNConv, compgcn_adjacency, direction_norm
from kgfm.encoder.model import KGEncoder

# 6 entities, 2 relations
TOY = [("a", "likes", "b"), ("b", "likes", "c"), ("c", "knows", "d"), ("d", "knows", "e"),
       ("e", "likes", "f"), ("a", "knows", "f"), ("b", "knows", "a")]



def _toy_data():
    return build_data(tensors_from_triples(TOY), [], [])


def test_inverse_edges_are_added() -> None:
    data = _toy_data()
    edge_index, edge_type = data.graph()
    assert edge_index.shape == (2, 2 * len(TOY)) and edge_type.shape == (2 * len(TOY),)
    forward = {(h, r, t) for h, r, t in data.train.tolist()}
    for (src, dst), typ in zip(edge_index.t().tolist(), edge_type.tolist()):
        if typ < data.num_relations:
            assert (src, typ, dst) in forward
        else:
            assert (dst, typ - data.num_relations, src) in forward
    ent, rel, ans = data.queries(data.train)
    assert rel.max() == 2 * data.num_relations - 1 and len(ent) == 2 * len(TOY)


def test_compgcn_matches_dense_reference() -> None:
    torch.manual_seed(0)
    data = _toy_data()
    edge_index, edge_type = data.graph()
    n, r2, d = data.num_entities, 2 * data.num_relations, 4
    conv = CompGCNConv(d, 3, data.num_relations, "mult")
    x, rel = torch.randn(n, d), torch.randn(r2, d)
    inverse = edge_type >= data.num_relations
    norm = torch.empty(len(edge_type))
    for mask in (~inverse, inverse):
        norm[mask] = direction_norm(edge_index[:, mask], n)
    out, rel_out = conv(x, edge_index, edge_type, rel, norm)
    ref = conv.w_loop(x * conv.loop_rel)
    for mask, lin in ((~inverse, conv.w_in), (inverse, conv.w_out)):
        src, dst = edge_index[:, mask]
        deg_out = np.bincount(src.numpy(), minlength=n)
        deg_in = np.bincount(dst.numpy(), minlength=n)
        agg = torch.zeros(n, d)
        for s, t, typ in zip(src.tolist(), dst.tolist(), edge_type[mask].tolist()):
            agg[t] += x[s] * rel[typ] / np.sqrt(deg_out[s] * deg_in[t])
        ref = ref + lin(agg)
    ref = ref / 3 + conv.bias
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(rel_out, conv.w_rel(rel))


def test_compgcn_sub_sparse_aggregation_equals_messages_and_hand_sums() -> None:
    """'sub' aggregates with CSR products; same output and gradients as per-edge messages."""
    torch.manual_seed(0)
    # 3 entities, 1 relation: 0 -r-> 1, 2 -r-> 1, 1 -r-> 2 (+ inverses, type 1)
    edge_index = torch.tensor([[0, 2, 1, 1, 1, 2], [1, 1, 2, 0, 2, 1]])
    edge_type = torch.tensor([0, 0, 0, 1, 1, 1])
    norm = torch.tensor([0.5, 0.25, 1.0, 2.0, 3.0, 4.0])  # arbitrary: the layer takes them as given
    forward, inverse = compgcn_adjacency(edge_index, edge_type, norm, 3, 1, sparse=True)
    x = torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    rel = torch.tensor([[10.0, 20.0], [30.0, 40.0]])
    # by hand: node 1 receives 0.5 (x0 - r0) + 0.25 (x2 - r0) = [-4.5, -9] + [-1.25, -3.5]; node 2: 1.0 (x1 - r0)
    torch.testing.assert_close(forward.entity @ x - forward.relation @ rel,
                               torch.tensor([[0.0, 0.0], [-5.75, -12.5], [-7.0, -16.0]]))
    # inverse: node 0 <- 2.0 (x1 - r1); node 2 <- 3.0 (x1 - r1); node 1 <- 4.0 (x2 - r1)
    torch.testing.assert_close(inverse.entity @ x - inverse.relation @ rel,
                               torch.tensor([[-54.0, -72.0], [-100.0, -136.0], [-81.0, -108.0]]))
    conv = CompGCNConv(2, 3, 1, "sub")
    outs, grads = [], []
    for directions in (None, (forward, inverse)):
        xg, rg = x.clone().requires_grad_(), rel.clone().requires_grad_()
        out, rel_out = conv(xg, edge_index, edge_type, rg, norm, directions)
        (out.square().sum() + rel_out.sum()).backward()
        outs.append(out)
        grads.append((xg.grad, rg.grad))
    torch.testing.assert_close(outs[0], outs[1])
    torch.testing.assert_close(grads[0], grads[1])


@pytest.mark.parametrize("composition", ["mult", "sub"])
def test_encoder_full_pass_equals_subgraph_pass_for_both_compositions(composition: str) -> None:
    """The full pass (split once, CSR for 'sub') and the k-hop pass (per-edge messages) agree."""
    torch.manual_seed(0)
    data = _toy_data()
    model = KGEncoder(data.num_entities, data.num_relations,
                      ModelConfig(conv="compgcn", num_layers=2, dim=4, composition=composition)).eval()
    model.set_graph(*data.graph())
    assert (model.directions[0].entity is not None) == (composition == "sub")
    seeds = torch.tensor([1, 4])
    torch.testing.assert_close(model.encode(subset=seeds), model.encode()[seeds], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("decoder", ["distmult", "complex", "rotate", "conve"])
@pytest.mark.parametrize("conv", ["compgcn", "rgcn", "none"])
def test_shapes_and_score_consistency(decoder: str, conv: str) -> None:
    torch.manual_seed(0)
    data = _toy_data()
    cfg = ModelConfig(conv=conv, num_layers=2, dim=8, decoder=decoder, num_bases=2 if conv == "rgcn" else None,
                      conve={"width": 4})
    model = KGEncoder(data.num_entities, data.num_relations, cfg).eval()
    model.set_graph(*data.graph())
    ent = model.encode()
    assert ent.shape == (6, 8)
    h, r, t = data.queries(data.train)
    scores = model.score_all(ent, h, r)
    assert scores.shape == (len(h), 6)
    torch.testing.assert_close(scores.gather(1, t[:, None]).squeeze(1), model.score_triples(ent, h, r, t),
                               rtol=1e-4, atol=1e-4)
    assert model.n3(ent, h, r, t).item() > 0


def test_text_features_feed_the_encoder() -> None:
    feats = torch.randn(6, 5)
    model = KGEncoder(6, 2, ModelConfig(conv="none", dim=4, decoder="distmult"), text_features=feats)
    ent = model.encode()
    torch.testing.assert_close(ent, model.entity.weight + model.text_proj(feats))
    with pytest.raises(ValueError, match="rows"):
        KGEncoder(7, 2, ModelConfig(dim=4), text_features=feats)


@pytest.mark.parametrize("conv,layers", [("compgcn", 1), ("compgcn", 2), ("rgcn", 2), ("none", 0)])
def test_khop_subgraph_encoding_is_exact(conv: str, layers: int) -> None:
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1)
    n, r = 40, 3
    triples = [(f"e{h}", f"r{k}", f"e{t}") for h, k, t in zip(torch.randint(0, n, (120,), generator=g).tolist(),
                                                              torch.randint(0, r, (120,), generator=g).tolist(),
                                                              torch.randint(0, n, (120,), generator=g).tolist())]
    graph = tensors_from_triples(triples)
    data = build_data(graph, [], [])
    model = KGEncoder(graph.num_entities, graph.num_relations,
                      ModelConfig(conv=conv, num_layers=layers, dim=6, decoder="distmult")).eval()
    model.set_graph(*data.graph())
    seeds = torch.tensor([0, 3, 7, 19])
    torch.testing.assert_close(model.encode(subset=seeds), model.encode()[seeds], rtol=1e-5, atol=1e-5)
