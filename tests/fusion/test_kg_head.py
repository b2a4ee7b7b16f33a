"""The KG-aware output head: hand-computed decoder scores, context choice, relation labels, save/load."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kgfm.config import ConfigError
from kgfm.fusion.kg_head import KGHead, context_mentions
from kgfm.index.entity_index import EntityIndex

from tests.fusion.conftest import tiny_backbone, tokenizer, toy_graph


def small_index(decoder: str = "distmult", relations: bool = True) -> EntityIndex:
    ent = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [2.0, -1.0]], dtype=np.float32)
    rel = np.array([[1.0, 2.0], [3.0, -1.0], [0.5, 0.5], [-1.0, 1.0]], dtype=np.float32) if relations else None
    index = EntityIndex.build(ent, ["a", "b", "c", "d"], None, metric="ip", use_gpu=False,
                              relation_types=["r0", "r1", "r0__inverse", "r1__inverse"] if relations else None,
                              relation_embeddings=rel)
    index.manifest = {"encoder": {"decoder": decoder}}
    return index


def test_scores_are_the_decoders_when_the_relation_is_certain():
    head = KGHead(4, small_index(), top_relations=2)
    logits = torch.tensor([[0.0, 50.0, 0.0, 0.0], [50.0, 0.0, 0.0, 0.0]])  # r1 for row 0, r0 for row 1
    s = head.scores(logits, torch.tensor([3, -1]))
    # DistMult <e_h * w_r, e_t>: e_d = (2, -1), w_r1 = (3, -1) -> q = (6, 1); against a, b, c, d
    assert s[0].tolist() == pytest.approx([6.0, 1.0, 7.0, 11.0], abs=1e-4)
    assert s[1].tolist() == [0.0, 0.0, 0.0, 0.0]  # no context entity: no KG scores
    head.log_weight.data.fill_(np.log(2.0))
    assert head.scores(logits, torch.tensor([3, 3]))[0, 3].item() == pytest.approx(22.0, abs=1e-3)


def test_scores_mix_the_top_relations_by_probability():
    head = KGHead(4, small_index(), top_relations=2)
    logits = torch.log(torch.tensor([[0.6, 0.3, 0.1, 1e-9]]))
    s = head.scores(logits, torch.tensor([0]))  # e_a = (1, 0): q_r0 = (1, 0), q_r1 = (3, 0)
    p0, p1 = 0.6 / 0.9, 0.3 / 0.9  # top-2 renormalised
    expected = [p0 * 1 + p1 * 3, 0.0, p0 * 1 + p1 * 3, p0 * 2 + p1 * 6]
    assert s[0].tolist() == pytest.approx(expected, abs=1e-4)
    rows = torch.tensor([3, 1])
    assert head.scores(logits, torch.tensor([0]), rows)[0].tolist() == pytest.approx([expected[3], 0.0], abs=1e-4)


def test_complex_head_matches_the_complex_decoder():
    from kgfm.encoder.decoders import ComplEx

    head = KGHead(4, small_index("complex"), top_relations=1)
    s = head.scores(torch.tensor([[0.0, 0.0, 0.0, 40.0]]), torch.tensor([2]))
    q = ComplEx().query(head.entities[2:3], head.relations[3:4])
    assert torch.allclose(s, q @ head.entities.T, atol=1e-4)
    # hand check for entity d: h = 1 + 1i, w = -1 + 1i -> h*w = -2 + 0i; Re(-2 * conj(2 - 1i)) = -4
    assert s[0, 3].item() == pytest.approx(-4.0, abs=1e-4)


def test_head_needs_relations_and_a_decoder():
    with pytest.raises(ConfigError, match="kg_head"):
        KGHead(4, small_index(relations=False))
    with pytest.raises(ConfigError, match="decoder='nope'"):
        KGHead(4, small_index("nope"))
    with pytest.raises(ConfigError, match="trained with 'conve', whose weights the index does not keep"):
        KGHead(4, small_index("conve"))


def test_context_prefers_a_linked_mention_then_a_retrieved_one():
    linked = torch.tensor([[-1, 7, 5], [-1, -1, -1], [4, -1, -1]])
    valid = torch.tensor([[True, True, True], [True, True, False], [True, False, False]])
    retrieved = torch.tensor([[[1], [2], [3]], [[8], [9], [-1]], [[6], [-1], [-1]]])
    mention, row = context_mentions(linked, valid, retrieved, torch.tensor([0, 0, 1, 2]), torch.tensor([0, 1, 0, 0]))
    assert mention.tolist() == [1, 2, 1, -1]  # first other linked; other linked; retrieved; nothing else
    assert row.tolist() == [7, 5, 9, -1]


def test_collator_labels_the_relation_towards_the_target():
    from kgfm.fusion.objectives import PretrainCollator

    tok = tokenizer()
    collator = PretrainCollator(tok, 24, relation_ids={"directed_by": 0, "written_by": 1})
    rec = {"text": "Kismet written by Edward Knoblock", "kind": "triple", "rel": "written_by",
           "mentions": [[0, 6, 0], [18, 33, 2]]}
    seen = set()
    for seed in range(12):
        b = collator([rec], torch.Generator().manual_seed(seed), evaluation=True)
        j = int((b["entity_targets"][0] >= 0).nonzero()[0])
        label = int(b["relation_labels"][0, j])
        assert label == (1 if j == 1 else 1 + 2)  # object: r; subject: r^-1 = r + R
        seen.add(j)
    assert seen == {0, 1}
    desc = {"text": "Kismet: a film", "kind": "description", "mentions": [[0, 6, 0]]}
    assert int(collator([desc], torch.Generator().manual_seed(0))["relation_labels"].max()) == -1


def _toy_kg_index(graph):
    rng = np.random.default_rng(0)
    r = len(graph.relation_types)
    index = EntityIndex.build(rng.normal(size=(graph.num_entities, 8)).astype(np.float32), graph.entity_ids,
                              graph.entity_names, metric="ip", use_gpu=False,
                              relation_types=graph.relation_types + [f"{x}__inverse" for x in graph.relation_types],
                              relation_embeddings=rng.normal(size=(2 * r, 8)).astype(np.float32))
    index.manifest = {"encoder": {"decoder": "distmult"}}
    return index


def test_module_adds_kg_scores_trains_the_relation_and_round_trips(tmp_path):
    from kgfm.fusion.corpus import iter_records
    from kgfm.fusion.model import FusionConfig, KnowledgeFusionModel
    from kgfm.fusion.objectives import PretrainCollator, PretrainModule

    graph = toy_graph(with_text=False)
    index = _toy_kg_index(graph)
    torch.manual_seed(0)
    cfg = FusionConfig(backbone_config=tiny_backbone(), fusion_layers=[1], top_k=2, kg_head=True)
    module = PretrainModule(KnowledgeFusionModel(cfg, index), negatives=-1)
    recs = [r for _, r in iter_records(graph)][:8]
    tok = tokenizer()
    collator = PretrainCollator(tok, 24, relation_ids={n: i for i, n in enumerate(graph.relation_types)})
    batch = collator(recs, torch.Generator().manual_seed(0), evaluation=True)
    module.eval()
    out = module._encode(batch, None)
    with_kg, targets, rel_logits = module.entity_logits(batch, out)
    module.use_kg_head = False
    text_only, _, none = module.entity_logits(batch, out)
    module.use_kg_head = True
    assert none is None and rel_logits.shape == (len(targets), 2 * len(graph.relation_types))
    assert not torch.allclose(with_kg, text_only)
    assert module.entity_logits(batch, module._encode(batch, False), use_fusion=False)[2] is None
    module.train()
    losses = module(collator(recs, torch.Generator().manual_seed(1)))
    assert float(losses["relation"]) > 0
    losses["loss"].backward()
    assert module.model.kg_head.classifier[0].weight.grad.abs().sum() > 0
    module.model.save_pretrained(tmp_path / "m")
    again = KnowledgeFusionModel.from_pretrained(tmp_path / "m", index)
    assert again.kg_head is not None
    module.eval()
    reloaded = PretrainModule(again.eval(), negatives=-1)
    reloaded.mlm_head.load_state_dict(module.mlm_head.state_dict())
    a = module.entity_logits(batch, module._encode(batch, None))[0]
    b = reloaded.entity_logits(batch, reloaded._encode(batch, None))[0]
    assert torch.allclose(a, b, atol=1e-5)


def test_qa_fine_tuning_from_a_kg_head_checkpoint_drops_the_head(tmp_path):
    from kgfm.fusion.model import FusionConfig, KnowledgeFusionModel
    from kgfm.qa.config import QAEncoderConfig
    from kgfm.qa.encoding import build_encoder

    index = _toy_kg_index(toy_graph(with_text=False))
    cfg = FusionConfig(backbone_config=tiny_backbone(), fusion_layers=[1], kg_head=True)
    KnowledgeFusionModel(cfg, index).save_pretrained(tmp_path / "pre", tokenizer=tokenizer())
    enc = build_encoder(QAEncoderConfig(kind="fusion", init="pretrained", checkpoint=tmp_path / "pre"), index)
    assert enc.backbone.kg_head is None and enc.backbone.config.kg_head is False
    enc.backbone.save_pretrained(tmp_path / "qa")  # and it reloads without the head's weights
    assert KnowledgeFusionModel.from_pretrained(tmp_path / "qa", index).kg_head is None
