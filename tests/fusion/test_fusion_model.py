"""KnowledgeFusionModel / FusionLayer on a tiny random BERT and a real FAISS index."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kgfm.artifacts import ArtifactError
from kgfm.config import ConfigError
from kgfm.fusion.batching import encode_batch
from kgfm.fusion.layer import FusionLayer, span_mask
from kgfm.fusion.linking import EntityLinker
from kgfm.fusion.model import FusionConfig, IndexMismatchError, KnowledgeFusionModel

TEXTS = ["Kismet directed by William Dieterle", "[Heat] starred Al Pacino", "no entity in this one"]


BACKBONE = dict(model_type="bert", hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                intermediate_size=64, vocab_size=30522, max_position_embeddings=128)


def make_model(index, **kw):
    torch.manual_seed(0)
    cfg = FusionConfig(backbone_config=BACKBONE, fusion_layers=kw.pop("fusion_layers", [0, 1]),
                       top_k=kw.pop("top_k", 3), **kw)
    return KnowledgeFusionModel(cfg, index)


@pytest.fixture()
def batch(tok, graph):
    linker = EntityLinker.from_tensors(graph)
    linked = [linker.link_text(t) for t in TEXTS]
    return encode_batch(tok, [c for c, _ in linked], [m for _, m in linked], max_length=24)


def test_output_shapes(index, batch):
    model = make_model(index).eval()
    out = model(**batch)
    b, t = batch["input_ids"].shape
    m = batch["mention_spans"].shape[1]
    assert out.last_hidden_state.shape == (b, t, 32) and out.pooled.shape == (b, 32)
    assert out.mention_states.shape == (b, m, 32) and out.entity_queries.shape == (b, m, index.dim)
    assert out.retrieved_idx.shape == (b, m, 3) and out.candidate_idx.shape == (b, m, 4)
    assert len(out.traces) == 2
    # retrieved rows are real FAISS results for real mentions, -1 for padded slots
    assert (out.retrieved_idx[0] >= 0).all() and (out.retrieved_idx[2] == -1).all()
    att = out.attention[0]
    assert torch.allclose(att.sum(-1), torch.ones(2), atol=1e-5)


def test_a_model_let_go_of_is_freed_at_once_with_its_weights(index, batch):
    """The fusion hooks on the backbone's layers reference the model weakly: no cycle keeps a model
    (and its weights) alive until a full garbage collection (kgfm serve's reload relies on it)."""
    import gc
    import weakref

    model = make_model(index).eval()
    out = model(**batch)  # the hooks ran
    assert len(out.traces) == 2
    refs = [weakref.ref(model), weakref.ref(model.backbone), weakref.ref(next(model.backbone.parameters()))]
    del model, out
    enabled = gc.isenabled()
    gc.disable()
    try:
        assert [r() is None for r in refs] == [True, True, True]  # freed by reference counting alone
    finally:
        if enabled:
            gc.enable()


def test_fusion_off_is_exactly_the_plain_encoder(index, batch):
    model = make_model(index).eval()
    plain = model.backbone(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
    off = model(**batch, use_fusion=False).last_hidden_state
    on = model(**batch).last_hidden_state
    assert torch.equal(off, plain)
    assert not torch.allclose(on, plain)
    # a text without mentions never meets knowledge: identical end to end
    assert torch.equal(on[2], plain[2])


def test_linked_entity_always_among_candidates(index, batch):
    model = make_model(index, top_k=1).eval()
    out = model(**batch)
    linked = batch["mention_entities"]
    for b in range(linked.shape[0]):
        for j in range(linked.shape[1]):
            if linked[b, j] >= 0:
                assert int(linked[b, j]) in out.candidate_idx[b, j].tolist()
                assert (out.candidate_idx[b, j] == linked[b, j]).sum() == 1  # no duplicate slot
    hidden = model(**{**batch, "mention_entities": torch.full_like(linked, -1)})
    assert (hidden.candidate_idx[..., 0] == -1).all()  # hidden entity: retrieval only


def test_retrieval_matches_faiss_search(index):
    layer = FusionLayer(hidden_size=32, entity_dim=index.dim, top_k=4)
    hidden = torch.randn(2, 6, 32)
    spans = torch.tensor([[[1, 3]], [[2, 5]]])
    _, trace = layer(hidden, span_mask(spans, 6), None, torch.from_numpy(index.embeddings),
                     lambda q, k: index.search(q, k)[1])
    _, expected = index.search(trace.queries.detach().reshape(2, -1).numpy(), 4)
    assert np.array_equal(trace.retrieved_idx.reshape(2, 4).numpy(), expected)


def test_gate_closed_leaves_states_and_only_mentions_change(index):
    layer = FusionLayer(hidden_size=32, entity_dim=index.dim, top_k=3, hidden_dropout=0.0).eval()
    table = torch.from_numpy(index.embeddings)
    search = lambda q, k: index.search(q, k)[1]  # noqa: E731
    hidden = torch.randn(1, 8, 32)
    mask = span_mask(torch.tensor([[[2, 4]]]), 8)
    with torch.no_grad():
        layer.gate.bias.fill_(-1e4)
        closed, _ = layer(hidden, mask, None, table, search)
        layer.gate.bias.fill_(1e4)
        opened, trace = layer(hidden, mask, None, table, search)
    assert torch.allclose(closed, hidden)
    changed = (opened - hidden).abs().sum(-1)[0] > 1e-6
    assert changed.tolist() == [False, False, True, True, False, False, False, False]
    assert torch.allclose(trace.gate, torch.ones_like(trace.gate))


def test_knowledge_dropout_zeroes_updates_in_training(index):
    layer = FusionLayer(hidden_size=32, entity_dim=index.dim, top_k=3, knowledge_dropout=0.999999,
                        hidden_dropout=0.0).train()
    hidden = torch.randn(1, 5, 32)
    out, _ = layer(hidden, span_mask(torch.tensor([[[1, 3]]]), 5), None, torch.from_numpy(index.embeddings),
                   lambda q, k: index.search(q, k)[1])
    assert torch.allclose(out, hidden)


def test_gradients_reach_projections_not_the_table(index, batch):
    model = make_model(index).train()
    out = model(**batch)
    (out.last_hidden_state.pow(2).mean() + out.entity_queries.pow(2).mean()).backward()
    for layer in model.fusion_layers:
        assert layer.query.weight.grad is not None and layer.query.weight.grad.abs().sum() > 0
        assert layer.value.weight.grad.abs().sum() > 0
        assert layer.gate.weight.grad.abs().sum() > 0
    assert not model.entity_table.requires_grad


def test_save_load_round_trip_and_wrong_index(tmp_path, index, other_index, batch, tok):
    model = make_model(index).eval()
    model.save_pretrained(tmp_path / "m", tokenizer=tok)
    loaded = KnowledgeFusionModel.from_pretrained(tmp_path / "m", index).eval()
    assert torch.allclose(loaded(**batch).last_hidden_state, model(**batch).last_hidden_state, atol=1e-6)
    assert KnowledgeFusionModel.load_tokenizer(tmp_path / "m")("Kismet")["input_ids"] == tok("Kismet")["input_ids"]
    with pytest.raises(IndexMismatchError, match="trained against entity index"):
        KnowledgeFusionModel.from_pretrained(tmp_path / "m", other_index)
    (tmp_path / "m" / "model.safetensors").write_bytes(b"corrupt")
    with pytest.raises(ArtifactError, match="checksum"):
        KnowledgeFusionModel.from_pretrained(tmp_path / "m", index)


def test_an_extended_index_loads_with_the_trained_rows_as_they_were(tmp_path, index, batch, tok):
    """`kgfm extend-index` appends rows: the model loads it, and the table rows of the entities it was
    trained with are exactly as before (the scale comes from those rows, not from the new ones)."""
    from kgfm.index.entity_index import EntityIndex

    model = make_model(index).eval()
    model.save_pretrained(tmp_path / "m", tokenizer=tok)
    extra = 10 * np.ones((2, index.dim), dtype=np.float32)  # large rows: they would move an all-rows scale
    grown = EntityIndex.build(np.concatenate([index.embeddings, extra]), index.entity_ids + ["new1", "new2"],
                              metric=index.metric, use_gpu=False)
    loaded = KnowledgeFusionModel.from_pretrained(tmp_path / "m", grown).eval()
    n = len(index)
    assert loaded.entity_scale == model.entity_scale
    assert torch.equal(loaded.entity_table[:n], model.entity_table) and loaded.entity_table.shape[0] == n + 2
    assert KnowledgeFusionModel(model.config, grown).entity_scale != model.entity_scale  # what scale_rows prevents
    changed = EntityIndex.build(np.concatenate([index.embeddings[::-1], extra]), index.entity_ids + ["new1", "new2"],
                                metric=index.metric, use_gpu=False)
    with pytest.raises(IndexMismatchError, match="trained against entity index"):
        KnowledgeFusionModel.from_pretrained(tmp_path / "m", changed)  # more rows, but the first ones differ


def test_bad_fusion_layer_index_is_a_clear_error(index):
    with pytest.raises(ConfigError, match="fusion_layers"):
        make_model(index, fusion_layers=[5])
    with pytest.raises(ConfigError, match="entity_dim"):
        make_model(index, entity_dim=7)


def test_lora_trains_adapters_only(index, batch, tmp_path):
    model = make_model(index, lora={"enabled": True, "r": 2, "target_modules": ["query", "value"]})
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert any("lora_" in n for n in trainable)
    assert not any(n.startswith("backbone") and "lora_" not in n for n in trainable)
    out = model(**batch)  # hooks still fire under peft
    assert len(out.traces) == 2
    model.save_pretrained(tmp_path / "lora")
    loaded = KnowledgeFusionModel.from_pretrained(tmp_path / "lora", index)
    model.eval(), loaded.eval()
    assert torch.allclose(loaded(**batch).last_hidden_state, model(**batch).last_hidden_state, atol=1e-6)


def test_lora_added_to_a_loaded_model_is_recorded_and_reloads(index, batch, tmp_path):
    from kgfm.fusion.model import LoraSettings

    make_model(index).save_pretrained(tmp_path / "plain")
    model = KnowledgeFusionModel.from_pretrained(tmp_path / "plain", index)
    model.enable_lora(LoraSettings(r=2, target_modules=["query"]))
    assert model.config.lora.enabled and model.config.lora.r == 2
    with pytest.raises(ValueError, match="already"):
        model.enable_lora(LoraSettings(r=2))
    with torch.no_grad():  # move the adapters away from their zero start so the round trip is not trivial
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.add_(0.1)
    model.save_pretrained(tmp_path / "adapted")
    loaded = KnowledgeFusionModel.from_pretrained(tmp_path / "adapted", index)
    model.eval(), loaded.eval()
    assert torch.allclose(loaded(**batch).last_hidden_state, model(**batch).last_hidden_state, atol=1e-6)


@pytest.mark.parametrize("metric", ["ip", "l2"])
def test_model_retrieval_is_exact_top_k_over_the_scaled_table(graph, batch, metric):
    from kgfm.index.entity_index import EntityIndex

    emb = np.random.default_rng(3).normal(size=(graph.num_entities, 16)).astype(np.float32) * 7.0
    index = EntityIndex.build(emb, graph.entity_ids, graph.entity_names, metric=metric, use_gpu=False)
    model = make_model(index, top_k=4).eval()
    rms = np.sqrt((emb.astype(np.float64) ** 2).sum(1).mean())
    assert torch.allclose(model.entity_table.norm(dim=1).pow(2).mean(), torch.tensor(1.0), atol=1e-4)
    with torch.no_grad():
        out = model(**batch)
    trace = out.traces[-1]
    table = torch.from_numpy(emb / rms).double()
    for b, j in [(0, 0), (0, 1), (1, 0)]:
        q = trace.queries[b, j].double()
        scores = table @ q if metric == "ip" else -((table - q) ** 2).sum(1)
        assert trace.retrieved_idx[b, j].tolist() == torch.topk(scores, 4).indices.tolist()


def test_cosine_index_is_scored_by_cosine(graph):
    """A cosine index ranks by cosine in FAISS; the fusion model's entity scores rank the same way."""
    from kgfm.fusion.layer import COSINE_SCALE
    from kgfm.index.entity_index import EntityIndex

    rng = np.random.default_rng(3)
    emb = (rng.normal(size=(graph.num_entities, 8)) * rng.uniform(0.1, 10, size=(graph.num_entities, 1))).astype(np.float32)
    index = EntityIndex.build(emb, graph.entity_ids, graph.entity_names, metric="cosine", use_gpu=False)
    model = make_model(index)
    q = torch.from_numpy(rng.normal(size=(2, 8)).astype(np.float32))
    unit = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    expected = COSINE_SCALE * (q.numpy() / np.linalg.norm(q.numpy(), axis=1, keepdims=True)) @ unit.T
    scores = model.entity_scores(q)
    np.testing.assert_allclose(scores.detach().numpy(), expected, rtol=1e-4, atol=1e-4)
    _, faiss_top = index.search(q.numpy(), 3)
    assert scores.topk(3, dim=1).indices.tolist() == faiss_top.tolist()
