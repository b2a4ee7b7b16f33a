"""Text-initialised entity features: texts, encoding with a (tiny, random) BERT, the cache."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from kgfm.encoder.text_features import encode_texts, entity_texts


def test_entity_texts_fall_back_to_ids() -> None:
    texts = entity_texts(["http://x.org/Blade_Runner", "q1"], [None, "Kismet"], ["a film", None])
    assert texts == ["Blade Runner: a film", "Kismet"]


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory):
    from transformers import AutoTokenizer, BertConfig, BertModel

    from kgfm.hf import minilm_path

    path = tmp_path_factory.mktemp("tiny_bert")
    tokenizer = AutoTokenizer.from_pretrained(str(minilm_path()))
    torch.manual_seed(0)
    model = BertModel(BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2,
                                 num_attention_heads=2, intermediate_size=64))
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return str(path)


def test_encode_texts_shapes_normalised_and_cached(tiny_bert, tmp_path, monkeypatch) -> None:
    texts = ["Kismet: a 1944 film", "Blade Runner", "Kismet: a 1944 film"]
    cache = tmp_path / "feats.safetensors"
    feats = encode_texts(texts, tiny_bert, batch_size=2, cache=cache)
    assert feats.shape == (3, 32) and cache.is_file()
    torch.testing.assert_close(feats.norm(dim=-1), torch.ones(3))
    torch.testing.assert_close(feats[0], feats[2])
    assert not torch.allclose(feats[0], feats[1])

    import transformers

    def boom(*a, **k):
        raise AssertionError("model loaded despite a valid cache")

    monkeypatch.setattr(transformers.AutoModel, "from_pretrained", boom)
    torch.testing.assert_close(encode_texts(texts, tiny_bert, cache=cache), feats)
    with pytest.raises(AssertionError, match="despite"):  # different texts -> cache miss -> re-encode
        encode_texts(texts[:2], tiny_bert, cache=cache)


@pytest.mark.slow
def test_minilm_features_put_related_names_closer() -> None:
    feats = encode_texts(["the cat sat on the mat", "a kitten on a rug", "quarterly tax filing deadline"])
    sim = feats @ feats.t()
    assert sim[0, 1] > sim[0, 2] and feats.shape[1] == 384


def test_train_main_with_text_init(tmp_path, tiny_bert) -> None:
    """`text_init: true` exports names/descriptions from a real store and feeds the projected vectors."""
    from kgfm.config import StoreConfig
    from kgfm.encoder.checkpoint import load_checkpoint
    from kgfm.encoder.train import main
    from kgfm.store.build import BuildGraphConfig, SourceSpec, run_build

    kb = tmp_path / "kb.txt"
    kb.write_text("".join(f"Movie {m}|directed_by|Director {m % 3}\nMovie {m}|has_genre|Genre {m % 2}\n"
                          for m in range(10)), encoding="utf-8")
    store = StoreConfig(path=tmp_path / "g.lbug")
    run_build(BuildGraphConfig(store=store, sources=[SourceSpec(path=kb)], out_dir=tmp_path / "b"), show_progress=False)
    out = tmp_path / "run"
    doc = main(None, {"store.path": str(store.path), "run.output_dir": str(out), "data.text_init": True,
                      "data.text_model": tiny_bert, "model.dim": 8, "train.epochs": 2, "run.device": "cpu"},
               resume=False)
    assert doc["epochs"] == 2
    assert (out / "text_features.safetensors").is_file()
    assert "text_proj.weight" in load_checkpoint(out / "checkpoint").weights


def test_a_folder_with_only_pickled_weights_is_refused(tiny_bert, tmp_path) -> None:
    """HF loading goes through kgfm.hf.build_backbone (use_safetensors=True): pytorch_model.bin alone is refused."""
    import shutil

    from kgfm.hf import ModelNotFoundError, build_backbone

    folder = tmp_path / "bin-only"
    folder.mkdir()
    shutil.copy(Path(tiny_bert) / "config.json", folder / "config.json")
    (folder / "pytorch_model.bin").write_bytes(b"\x80\x04not really a pickle")
    with pytest.raises(ModelNotFoundError, match="no \\*.safetensors weights"):
        build_backbone(str(folder))
    assert build_backbone(tiny_bert, pooler=True).config.hidden_size == 32
