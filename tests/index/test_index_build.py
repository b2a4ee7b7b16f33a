"""Index built from an encoder checkpoint: embeddings, vocab, provenance; refuses bad checkpoints."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kgfm.artifacts import ArtifactError
from kgfm.encoder.checkpoint import save_checkpoint
from kgfm.encoder.config import ModelConfig
from kgfm.training.checkpoint import Progress
from kgfm.encoder.model import KGEncoder
from kgfm.index.build import build_index_from_checkpoint


def _checkpoint(tmp_path, with_embeddings: bool = True):
    model = KGEncoder(5, 2, ModelConfig(conv="none", dim=4, decoder="distmult"))
    vocab = {"entity_ids": [f"e{i}" for i in range(5)], "entity_names": ["A", None, "C", "D", "E"],
             "relation_types": ["r0", "r1"]}
    emb = {"entities": torch.randn(5, 4), "relations": torch.randn(4, 4)} if with_embeddings else None
    save_checkpoint(tmp_path / "ck", model, vocab, Progress(epoch=3), {"model": {"decoder": "distmult"}},
                    extra={"index_metric": "ip", "metrics": {"test": {"mrr": 0.5}}}, embeddings=emb)
    return tmp_path / "ck", emb


def test_index_from_checkpoint(tmp_path) -> None:
    ck, emb = _checkpoint(tmp_path)
    index = build_index_from_checkpoint(ck, tmp_path / "idx", use_gpu=False)
    np.testing.assert_array_equal(index.embeddings, emb["entities"].numpy())
    assert index.relation_types == ["r0", "r1", "r0__inverse", "r1__inverse"]
    assert index.metric == "ip" and index.entity_names[0] == "A"
    from kgfm.index.entity_index import EntityIndex

    loaded = EntityIndex.load(tmp_path / "idx", use_gpu=False)
    assert loaded.manifest["encoder"]["epoch"] == 3 and loaded.manifest["test_metrics"] == {"mrr": 0.5}
    assert len(loaded.manifest["encoder"]["manifest_sha256"]) == 64


def test_bad_checkpoints_are_refused(tmp_path) -> None:
    ck, _ = _checkpoint(tmp_path / "a")
    (ck / "embeddings.safetensors").write_bytes(b"tampered")
    with pytest.raises(ArtifactError, match="checksum mismatch"):
        build_index_from_checkpoint(ck, tmp_path / "idx")
    ck2, _ = _checkpoint(tmp_path / "b", with_embeddings=False)
    with pytest.raises(ArtifactError, match="no embeddings"):
        build_index_from_checkpoint(ck2, tmp_path / "idx")
