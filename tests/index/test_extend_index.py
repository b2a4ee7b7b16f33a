"""`kgfm extend-index`: entities that build-graph added after training, embedded by the trained GNN.

A real LadybugDB store, a CompGCN encoder trained by `train --stage graph` on a hand-made movie KB
without one film, then that film's five facts added (three new entities: the film, its director and
its year). The new rows must be the trained encoder's full-graph pass over the grown graph, the
known rows byte-identical, and every way of getting it wrong one line that changes nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import kgfm
from kgfm.artifacts import ArtifactError
from kgfm.index.entity_index import EntityIndex
from tests.qa.conftest import KB

DESIRE = [line for line in KB.strip().splitlines() if line.startswith("Desire|")]
BASE = [line for line in KB.strip().splitlines() if not line.startswith("Desire|")]
NEW_ENTITIES = ["Desire", "Frank Borzage", "1936"]  # Marlene Dietrich, Gary Cooper, English are known


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """Trained from inside ``root`` with relative paths, as a user runs it: the index records its
    checkpoint as ``graph/checkpoint``, so a copy finds its own one beside the index."""
    root = tmp_path_factory.mktemp("extend")
    kgfm.build_graph(write(root / "base.txt", BASE), path=root / "graph.lbug")
    here = os.getcwd()
    os.chdir(root)
    try:
        torch.manual_seed(0)
        kgfm.train_graph({
            "store": {"path": "graph.lbug"},
            "data": {"valid_fraction": 0.1, "test_fraction": 0.1},
            "model": {"conv": "compgcn", "num_layers": 1, "dim": 16, "decoder": "complex", "gnn_dropout": 0.0},
            "train": {"epochs": 3, "batch_size": 16, "eval_every": 1},
            "run": {"output_dir": "graph", "device": "cpu", "threads": 1},
        })
    finally:
        os.chdir(here)
    return root


@pytest.fixture()
def grown(trained: Path, tmp_path: Path) -> Path:
    """A copy of the trained run whose store then gained the film Desire."""
    shutil.copytree(trained, tmp_path / "run")
    root = tmp_path / "run"
    kgfm.build_graph(write(root / "new.txt", DESIRE), path=root / "graph.lbug")
    return root


def files(folder: Path) -> dict[str, object]:
    """Every file's bytes; the manifest's content without its ``created`` time."""
    out: dict[str, object] = {p.name: p.read_bytes() for p in sorted(folder.iterdir())}
    out["manifest.json"] = {k: v for k, v in json.loads(out["manifest.json"]).items() if k != "created"}
    return out


def full_pass(root: Path) -> np.ndarray:
    """The trained encoder over the whole grown graph, untrained input rows zero: computed here by hand."""
    from kgfm.encoder.checkpoint import load_checkpoint
    from kgfm.encoder.config import ModelConfig
    from kgfm.encoder.model import KGEncoder

    ck = load_checkpoint(root / "graph" / "checkpoint")
    with kgfm.open_store(root / "graph.lbug") as db:
        g = db.export_tensors()
    n, r = g.num_entities, len(ck.vocab["relation_types"])
    state = ck.weights
    state["entity.weight"] = torch.cat([state["entity.weight"], torch.zeros(n - state["entity.weight"].shape[0], 16)])
    model = KGEncoder(n, r, ModelConfig.model_validate(ck.manifest["config"]["model"]))
    model.load_state_dict(state)
    model.eval()
    h, rel, t = (torch.as_tensor(np.asarray(a, dtype=np.int64)) for a in (g.head_index, g.rel_type, g.tail_index))
    model.set_graph(torch.stack([torch.cat([h, t]), torch.cat([t, h])]), torch.cat([rel, rel + r]))
    with torch.no_grad():
        return model.encode().numpy()


def test_new_entities_get_the_trained_encoders_embedding_and_known_rows_stay(grown: Path):
    index_dir = grown / "graph" / "index"
    before = EntityIndex.load(index_dir, use_gpu=False)
    result = kgfm.extend_index(index=index_dir, path=grown / "graph.lbug")
    after = EntityIndex.load(index_dir, use_gpu=False)  # checksums verified
    n0 = len(before)
    assert (result.before, result.after, result.added, result.facts) == (n0, n0 + 3, 3, len(DESIRE))
    assert after.entity_ids[:n0] == before.entity_ids and after.entity_ids[n0:] == NEW_ENTITIES
    assert after.embeddings[:n0].tobytes() == before.embeddings.tobytes()
    np.testing.assert_allclose(after.embeddings[n0:], full_pass(grown)[n0:], rtol=1e-5, atol=1e-6)
    assert np.abs(after.embeddings[n0:]).sum(axis=1).min() > 0  # the film and its neighbours' messages
    # a model trained on the old index accepts this one (content check), not an unrelated one
    assert after.extends(before.fingerprint, n0) and not after.extends(before.fingerprint, n0 - 1)
    other = EntityIndex.build(after.embeddings + 1, after.entity_ids, use_gpu=False)
    assert not other.extends(before.fingerprint, n0)
    assert after.manifest["extended"] == {"base": {"fingerprint": before.fingerprint, "entities": n0},
                                          "from": {"fingerprint": before.fingerprint, "entities": n0},
                                          "added": 3, "facts": len(DESIRE)}
    assert after.neighbors("Desire", 2)  # searchable by id


def test_rerun_changes_nothing_and_reruns_give_the_same_bytes(grown: Path, tmp_path: Path):
    index_dir, store = grown / "graph" / "index", grown / "graph.lbug"
    first = kgfm.extend_index(index=index_dir, path=store, out=tmp_path / "a")
    kgfm.extend_index(index=index_dir, path=store, out=tmp_path / "b")
    assert first.added == 3 and files(tmp_path / "a") == files(tmp_path / "b")
    again = kgfm.extend_index(index=tmp_path / "a", path=store, checkpoint=grown / "graph" / "checkpoint")
    assert again.added == 0 and files(tmp_path / "a") == files(tmp_path / "b")
    # a second extension records the first index as its base
    kgfm.build_graph(write(grown / "more.txt", ["Angel|directed_by|Ernst Lubitsch", "Angel|starred_actors|Marlene Dietrich"]),
                     path=store)
    second = kgfm.extend_index(index=tmp_path / "a", path=store, checkpoint=grown / "graph" / "checkpoint")
    manifest = EntityIndex.load(tmp_path / "a", use_gpu=False).manifest["extended"]
    assert second.added == 2 and manifest["base"]["entities"] == first.before and manifest["from"]["entities"] == first.after


@pytest.mark.parametrize("case", ["new_relation", "rebuilt", "no_checkpoint"])
def test_what_cannot_be_extended_is_one_line_and_writes_nothing(grown: Path, case: str):
    index_dir, store = grown / "graph" / "index", grown / "graph.lbug"
    if case == "new_relation":
        kgfm.build_graph(write(grown / "rel.txt", ["Desire|produced_by|Ernst Lubitsch"]), path=store)
        expect = "relation types the encoder was not trained with (produced_by)"
    elif case == "rebuilt":
        kgfm.build_graph(write(grown / "all.txt", sorted(BASE + DESIRE)), path=store, replace=True)
        expect = "are not the index's: the store was rebuilt"
    else:
        shutil.rmtree(grown / "graph" / "checkpoint")
        expect = "pass --checkpoint DIR"
    kept = files(index_dir)
    res = subprocess.run([sys.executable, "-m", "kgfm.cli.main", "extend-index", "--index", str(index_dir),
                          "--path", str(store)], capture_output=True, text=True, timeout=300)
    assert res.returncode == 2 and expect in res.stderr, res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and "Traceback" not in res.stderr
    assert files(index_dir) == kept
    with pytest.raises(ArtifactError):
        kgfm.extend_index(index=index_dir, path=store)


def test_cli_reports_what_it_added(grown: Path):
    res = subprocess.run([sys.executable, "-m", "kgfm.cli.main", "extend-index", "--index", str(grown / "graph" / "index"),
                          "--path", str(grown / "graph.lbug")], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert "entities (3 added, embedded by the trained graph encoder from 5 facts that touch them" in res.stdout


def test_an_encoder_trained_with_text_features_gives_new_entities_theirs(tmp_path: Path):
    """With ``data.text_init`` the input of an entity is its row plus a projection of its MiniLM name
    vector: a new entity gets its own name's vector (the subgraph's entities only are encoded)."""
    from kgfm.encoder.checkpoint import load_checkpoint
    from kgfm.encoder.config import ModelConfig
    from kgfm.encoder.model import KGEncoder
    from kgfm.encoder.text_features import encode_texts, entity_texts

    store = tmp_path / "graph.lbug"
    kgfm.build_graph(write(tmp_path / "base.txt", BASE), path=store)
    torch.manual_seed(0)
    kgfm.train_graph({
        "store": {"path": str(store)}, "data": {"valid_fraction": 0.1, "test_fraction": 0.1, "text_init": True},
        "model": {"conv": "compgcn", "num_layers": 1, "dim": 16, "decoder": "complex", "gnn_dropout": 0.0},
        "train": {"epochs": 1, "batch_size": 16}, "run": {"output_dir": str(tmp_path / "graph"), "device": "cpu"},
    })
    kgfm.build_graph(write(tmp_path / "new.txt", DESIRE), path=store)
    result = kgfm.extend_index(index=tmp_path / "graph" / "index", path=store)
    after = EntityIndex.load(tmp_path / "graph" / "index", use_gpu=False)
    # by hand: every entity's text vector, the whole grown graph, untrained rows zero
    ck = load_checkpoint(tmp_path / "graph" / "checkpoint")
    with kgfm.open_store(store) as db:
        g = db.export_tensors(with_text=True)
    text = encode_texts(entity_texts(g.entity_ids, g.entity_names, g.entity_descriptions))
    state = ck.weights
    state["entity.weight"] = torch.cat([state["entity.weight"], torch.zeros(3, 16)])
    model = KGEncoder(g.num_entities, len(g.relation_types), ModelConfig.model_validate(ck.manifest["config"]["model"]), text)
    model.load_state_dict(state)
    model.eval()
    h, rel, t = (torch.as_tensor(np.asarray(a, dtype=np.int64)) for a in (g.head_index, g.rel_type, g.tail_index))
    model.set_graph(torch.stack([torch.cat([h, t]), torch.cat([t, h])]), torch.cat([rel, rel + len(g.relation_types)]))
    with torch.no_grad():
        expected = model.encode()[result.before:].numpy()
    assert result.added == 3
    np.testing.assert_allclose(after.embeddings[result.before:], expected, rtol=1e-4, atol=1e-5)
    model.text_features[result.before:] = 0  # what the new rows would be without their names' vectors
    with torch.no_grad():
        nameless = model.encode()[result.before:].numpy()
    assert np.abs(after.embeddings[result.before:] - nameless).max() > 1e-3
