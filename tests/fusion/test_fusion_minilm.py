"""Integration with the real offline MiniLM (slow): fusion off == the stock encoder, retrieval
inside forward over a real index, a short pretraining run through the CLI entry point."""

from __future__ import annotations

import pytest
import torch

from kgfm.fusion.batching import encode_batch
from kgfm.fusion.linking import EntityLinker
from kgfm.fusion.model import FusionConfig, KnowledgeFusionModel

pytestmark = pytest.mark.slow


def test_minilm_fusion_model(index, graph, tok, tmp_path):
    from transformers import AutoModel

    from kgfm.hf import minilm_path

    model = KnowledgeFusionModel(FusionConfig(top_k=4), index).eval()
    stock = AutoModel.from_pretrained(str(minilm_path())).eval()
    linker = EntityLinker.from_tensors(graph)
    linked = [linker.link_text(t) for t in ["who directed [Kismet]", "Keanu Reeves starred in The Matrix"]]
    batch = encode_batch(tok, [c for c, _ in linked], [m for _, m in linked], max_length=32)
    with torch.no_grad():
        off = model(**batch, use_fusion=False).last_hidden_state
        ref = stock(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
        on = model(**batch)
    assert torch.allclose(off, ref, atol=1e-5)
    assert on.retrieved_idx.shape == (2, 2, 4) and (on.retrieved_idx[0, 0] >= 0).all()
    assert not torch.allclose(on.last_hidden_state, ref, atol=1e-4)
    model.save_pretrained(tmp_path / "m", tokenizer=tok)
    again = KnowledgeFusionModel.from_pretrained(tmp_path / "m", index).eval()
    with torch.no_grad():
        assert torch.allclose(again(**batch).last_hidden_state, on.last_hidden_state, atol=1e-5)


def test_minilm_pretrain_cli(toy_setup):
    from typer.testing import CliRunner

    from kgfm.cli.main import app

    cfg = toy_setup(steps=3)
    import yaml

    tree = yaml.safe_load(cfg.read_text())
    tree["model"] = {"base_model": "minilm", "fusion_layers": [3, 5], "top_k": 4}
    cfg.write_text(yaml.safe_dump(tree))
    result = CliRunner().invoke(app, ["train", "--stage", "pretrain", "--config", str(cfg)])
    assert result.exit_code == 0, result.output
    assert (cfg.parent / "out" / "model" / "manifest.json").is_file()
    bad = CliRunner().invoke(app, ["train", "--stage", "pretrain", "--config", str(cfg), "--set", "model.top_k=0"])
    assert bad.exit_code == 2 and "model.top_k" in bad.output
