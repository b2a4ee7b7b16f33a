"""`kgfm extend-index` reads the grown graph the same way from every backend (embedded, Neo4j over Bolt).

A seeded CompGCN encoder (not trained: its weights only have to be fixed) is saved as a checkpoint and
indexed; then a film and its director are added to the store. The extension must keep the known rows
byte for byte and give the new ones exactly the encoder's full-graph pass over the grown store.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kgfm.encoder.checkpoint import save_checkpoint
from kgfm.encoder.config import ModelConfig
from kgfm.encoder.model import KGEncoder
from kgfm.index.build import build_index_from_checkpoint
from kgfm.index.entity_index import EntityIndex
from kgfm.index.extend import extend_index
from kgfm.training.checkpoint import Progress
from tests.store.test_conformance import load

CONFIG = {"conv": "compgcn", "num_layers": 1, "dim": 8, "decoder": "distmult", "gnn_dropout": 0.0}


def encoder(graph, state=None) -> KGEncoder:
    torch.manual_seed(0)
    model = KGEncoder(graph.num_entities, graph.num_relations, ModelConfig.model_validate(CONFIG))
    if state is not None:
        model.load_state_dict(state)
    model.eval()
    h, r, t = (torch.as_tensor(np.asarray(a, dtype=np.int64)) for a in (graph.head_index, graph.rel_type, graph.tail_index))
    model.set_graph(torch.stack([torch.cat([h, t]), torch.cat([t, h])]), torch.cat([r, r + graph.num_relations]))
    return model


@pytest.mark.parametrize("exact_threshold", [50_000, 4])
def test_extend_index_on_every_backend(store, tiny_kb, tmp_path, exact_threshold):
    load(store, tiny_kb)
    graph = store.export_tensors()
    model = encoder(graph)
    with torch.no_grad():
        emb = {"entities": model.encode(), "relations": model.relation_embeddings()}
    vocab = {"entity_ids": graph.entity_ids, "entity_names": graph.entity_names, "relation_types": graph.relation_types}
    save_checkpoint(tmp_path / "checkpoint", model, vocab, Progress(epoch=1), {"model": CONFIG}, embeddings=emb)
    before = build_index_from_checkpoint(tmp_path / "checkpoint", tmp_path / "index", use_gpu=False,
                                         exact_threshold=exact_threshold, ef_search=77)

    more = tmp_path / "more.txt"
    more.write_text("Casablanca|directed_by|Michael Curtiz\nCasablanca|starred_actors|Marlene Dietrich\n", encoding="utf-8")
    load(store, more)
    result = extend_index(tmp_path / "index", store)
    after = EntityIndex.load(tmp_path / "index", use_gpu=False)
    n0 = len(before)
    assert (result.added, result.facts) == (2, 2) and after.entity_ids[n0:] == ["Casablanca", "Michael Curtiz"]
    assert after.embeddings[:n0].tobytes() == before.embeddings.tobytes()
    assert after.config == before.config and after.config["index_type"] == ("flat" if exact_threshold > 9 else "hnsw")
    assert after.index.ntotal == n0 + 2  # the new rows are in the FAISS index, as stored
    np.testing.assert_array_equal(after.index.reconstruct(n0 + 1), after.embeddings[n0 + 1])
    grown = store.export_tensors()
    state = model.state_dict()
    state["entity.weight"] = torch.cat([state["entity.weight"], torch.zeros(2, 8)])
    with torch.no_grad():
        expected = encoder(grown, state).encode()[n0:].numpy()
    np.testing.assert_allclose(after.embeddings[n0:], expected, rtol=1e-5, atol=1e-6)
