"""Training, checkpoints, resume and the end-to-end `train --stage graph` run on a real store."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from kgfm.artifacts import ArtifactError
from kgfm.encoder.checkpoint import load_checkpoint, save_checkpoint
from kgfm.encoder.config import GraphTrainConfig, ModelConfig
from kgfm.encoder.data import build_data, holdout_split, map_triples, read_triple_file, tensors_from_triples
from kgfm.encoder.loop import Trainer
from kgfm.encoder.model import KGEncoder
from kgfm.sources.records import SourceError


def _cfg(lr: float = 3e-3, device: str = "cpu", **train) -> GraphTrainConfig:
    return GraphTrainConfig.model_validate({"train": train, "optim": {"lr": lr}, "run": {"device": device}})


def _chain(n: int = 8) -> list[tuple[str, str, str]]:
    """Two functional relations on a ring: trivially learnable by memorisation."""
    out = [(f"n{i}", "next", f"n{(i + 1) % n}") for i in range(n)]
    out += [(f"n{i}", "skip", f"n{(i + 3) % n}") for i in range(n)]
    return out


@pytest.mark.parametrize("sampler", ["full", "negatives", "khop"])
def test_toy_graph_training_reaches_mrr_one(sampler: str) -> None:
    torch.manual_seed(0)
    triples = _chain()
    graph = tensors_from_triples(triples)
    data = build_data(graph, triples, triples)  # evaluate on the (memorisable) training triples
    model = KGEncoder(graph.num_entities, graph.num_relations,
                      ModelConfig(conv="compgcn", num_layers=1, dim=16, decoder="complex", gnn_dropout=0.0))
    cfg = _cfg(lr=0.05, epochs=60, batch_size=16, eval_every=20, patience=5, sampler=sampler, num_negatives=4)
    trainer = Trainer(model, data, cfg, torch.device("cpu"), log=lambda _: None)
    before = trainer.evaluate("test")["mrr"]
    state = trainer.fit()
    losses = [h["loss"] for h in state.history]
    assert losses[-1] < 0.5 * losses[0]
    trainer.restore_best()
    after = trainer.evaluate("test")
    assert after["mrr"] >= 0.95 and after["mrr"] > before, (before, after["mrr"])
    assert after["head"]["queries"] == after["tail"]["queries"] == len(triples)


@pytest.mark.parametrize("composition", ["mult", "sub"])
def test_gnn_layers_train_at_gnn_lr_and_both_compositions_learn_the_toy_graph(composition: str) -> None:
    torch.manual_seed(0)
    triples = _chain()
    graph = tensors_from_triples(triples)
    data = build_data(graph, triples, triples)
    model = KGEncoder(graph.num_entities, graph.num_relations,
                      ModelConfig(conv="compgcn", num_layers=1, dim=16, composition=composition, gnn_dropout=0.0))
    cfg = GraphTrainConfig.model_validate({
        "train": {"epochs": 60, "batch_size": 16, "eval_every": 20, "patience": 5},
        "optim": {"optimizer": "adagrad", "lr": 0.1, "gnn_lr": 0.01}, "run": {"device": "cpu"}})
    trainer = Trainer(model, data, cfg, torch.device("cpu"), log=lambda _: None)
    lr_of = {id(p): g["lr"] for g in trainer.optimizer.param_groups for p in g["params"]}
    names = dict(model.named_parameters())
    assert lr_of[id(names["convs.0.w_in.weight"])] == lr_of[id(names["conv_relation"])] == 0.01
    assert lr_of[id(names["entity.weight"])] == lr_of[id(names["relation.weight"])] == 0.1
    assert len(lr_of) == len(names)
    trainer.fit()
    trainer.restore_best()
    assert trainer.evaluate("test")["mrr"] >= 0.95


def test_an_epoch_cut_by_the_time_budget_is_validated_and_kept_if_best(monkeypatch) -> None:
    """The budget runs out inside epoch 2: its steps count, it is validated, and it is kept when it
    is the best (the stage uses its whole budget, as the pretraining and QA stages do)."""
    from kgfm.training import loop as training_loop

    torch.manual_seed(0)
    triples = _chain()
    graph = tensors_from_triples(triples)
    data = build_data(graph, triples, triples)
    model = KGEncoder(graph.num_entities, graph.num_relations, ModelConfig(conv="compgcn", dim=16, gnn_dropout=0.0))
    cfg = _cfg(lr=0.05, epochs=50, batch_size=4, eval_every=1, patience=5)
    trainer = Trainer(model, data, cfg, torch.device("cpu"), log=lambda _: None)
    checks = iter(range(10_000))
    # 32 queries / batch 4 = 8 steps an epoch: the budget "expires" at the 12th check, mid epoch 2
    monkeypatch.setattr(training_loop.Budget, "expired", lambda self: next(checks) >= 11)
    state = trainer.fit()
    assert [h["epoch"] for h in state.history] == [1, 2] and state.step == 11
    assert state.history[1]["partial"] is True and "val_mrr" in state.history[1]
    assert state.stopped.startswith("time budget") and "discarded" not in state.stopped
    assert state.best_step == 2 and state.best == state.history[1]["val_mrr"] > state.history[0]["val_mrr"]
    # a budget spent before an epoch begins adds no epoch
    trainer2 = Trainer(KGEncoder(graph.num_entities, graph.num_relations, ModelConfig(dim=16)), data, cfg,
                       torch.device("cpu"), log=lambda _: None)
    monkeypatch.setattr(training_loop.Budget, "expired", lambda self: True)
    state2 = trainer2.fit()
    assert state2.history == [] and state2.step == 0 and state2.stopped.startswith("time budget")


def test_read_triple_file_formats_and_errors(tmp_path) -> None:
    good = tmp_path / "t.txt"  # the loader's rules (kgfm.sources): CRLF, blank lines, one format per file
    good.write_bytes(b"a\tr\tb\r\n\r\nc\ts\td\n")
    assert read_triple_file(good) == [("a", "r", "b"), ("c", "s", "d")]
    pipe = tmp_path / "p.txt"
    pipe.write_bytes(b"a|r|b\nc|s|d\n")
    assert read_triple_file(pipe) == [("a", "r", "b"), ("c", "s", "d")]
    bad = tmp_path / "bad.txt"
    bad.write_text("a\tr\tb\na\tr\n")
    with pytest.raises(SourceError, match=r"bad.txt:2: expected 3 fields"):
        read_triple_file(bad)
    with pytest.raises(SourceError, match="not found"):
        read_triple_file(tmp_path / "nope.txt")


def test_split_files_map_through_vocab_and_count_unknowns() -> None:
    graph = tensors_from_triples(_chain())
    arr, stats = map_triples([("n0", "next", "n1"), ("zz", "next", "n1"), ("n0", "nope", "n1")], graph, "test")
    assert arr.tolist() == [[0, 0, 1]]
    assert (stats.known, stats.unknown_entity, stats.unknown_relation) == (1, 1, 1)
    data = build_data(graph, [], [("n0", "next", "n1"), ("zz", "next", "n1")])
    assert data.test_missing == 1 and data.stats["test"]["unknown_entity"] == 1


def test_holdout_split_is_seeded_and_keeps_entities_connected() -> None:
    rng = np.random.default_rng(0)
    triples = [(f"e{rng.integers(40)}", f"r{rng.integers(3)}", f"e{rng.integers(40)}") for _ in range(300)]
    graph = tensors_from_triples(triples)
    a = holdout_split(graph, 0.1, 0.1, seed=3)
    b = holdout_split(graph, 0.1, 0.1, seed=3)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    shuffled = tensors_from_triples(triples)
    perm = np.random.default_rng(1).permutation(graph.num_triples)
    shuffled.head_index, shuffled.rel_type, shuffled.tail_index = (
        graph.head_index[perm], graph.rel_type[perm], graph.tail_index[perm])
    c = holdout_split(shuffled, 0.1, 0.1, seed=3)  # export order must not change the split
    assert all(np.array_equal(x, y) for x, y in zip(a, c))
    train, valid, test = a
    assert len(train) + len(valid) + len(test) == graph.num_triples and len(valid) > 10 and len(test) > 10
    seen = set(train[:, 0]) | set(train[:, 2])
    assert seen == set(graph.head_index) | set(graph.tail_index)


def test_checkpoint_round_trip_and_tamper(tmp_path) -> None:
    graph = tensors_from_triples(_chain())
    data = build_data(graph, [], _chain()[:4])
    model = KGEncoder(graph.num_entities, graph.num_relations, ModelConfig(dim=8))
    trainer = Trainer(model, data, _cfg(epochs=2, batch_size=8), torch.device("cpu"), log=lambda _: None)
    trainer.fit()
    vocab = {"entity_ids": graph.entity_ids, "relation_types": graph.relation_types}
    save_checkpoint(tmp_path / "ck", model, vocab, trainer.state, {"model": {}}, optimizer=trainer.optimizer)
    ck = load_checkpoint(tmp_path / "ck")
    assert ck.state.epoch == 2 and len(ck.state.history) == 2 and ck.vocab["entity_ids"] == graph.entity_ids
    for key, value in model.state_dict().items():
        torch.testing.assert_close(ck.weights[key], value)
    fresh = KGEncoder(graph.num_entities, graph.num_relations, ModelConfig(dim=8))
    opt = Trainer(fresh, data, _cfg(epochs=2, batch_size=8), torch.device("cpu"), log=lambda _: None).optimizer
    ck.training.restore(fresh, opt)
    assert int(opt.state_dict()["state"][0]["step"]) == int(trainer.optimizer.state_dict()["state"][0]["step"])
    weights = tmp_path / "ck" / "weights.safetensors"
    blob = bytearray(weights.read_bytes())
    blob[-1] ^= 0xFF
    weights.write_bytes(bytes(blob))
    with pytest.raises(ArtifactError, match="checksum mismatch"):
        load_checkpoint(tmp_path / "ck")


@pytest.fixture()
def movie_store(tmp_path):
    """A real embedded (LadybugDB) store holding a small movie graph."""
    from kgfm.config import StoreConfig
    from kgfm.store.build import BuildGraphConfig, SourceSpec, run_build

    rows = []
    for m in range(12):
        rows.append(f"Movie {m}|directed_by|Director {m % 4}")
        rows.append(f"Movie {m}|has_genre|Genre {m % 3}")
        rows.append(f"Movie {m}|starred_actors|Actor {m % 5}")
        rows.append(f"Movie {m}|starred_actors|Actor {(m + 2) % 5}")
    kb = tmp_path / "kb.txt"
    kb.write_text("\n".join(rows) + "\n", encoding="utf-8")
    store = StoreConfig(path=tmp_path / "graph.lbug")
    run_build(BuildGraphConfig(store=store, sources=[SourceSpec(path=kb)], out_dir=tmp_path / "build"),
              show_progress=False)
    return store


def test_train_main_end_to_end_resume_and_index(tmp_path, movie_store, capsys) -> None:
    from kgfm.index.build import main  # `kgfm train --stage graph`: encoder, then index
    from kgfm.index.entity_index import EntityIndex

    out = tmp_path / "run"
    overrides = {
        "store.path": str(movie_store.path), "run.output_dir": str(out), "model.dim": 16, "train.epochs": 3,
        "train.batch_size": 32, "train.eval_every": 1, "run.device": "cpu", "run.threads": 1,
        "data.valid_fraction": 0.1,
        "data.test_fraction": 0.1,
    }
    doc = main(None, overrides, resume=False)
    assert doc["epochs"] == 3 and doc["test"]["queries"] > 0
    for name in ("metrics.json", "curve.png", "config.yaml", "checkpoint/manifest.json", "last/manifest.json"):
        assert (out / name).is_file(), name
    doc2 = main(None, {**overrides, "train.epochs": 5}, resume=True)
    assert [h["epoch"] for h in doc2["history"]] == [1, 2, 3, 4, 5]
    assert "resuming" in capsys.readouterr().out
    index = EntityIndex.load(out / "index", use_gpu=False)
    ck = load_checkpoint(out / "checkpoint")
    assert len(index) == len(ck.vocab["entity_ids"]) and index.dim == 16
    assert index.manifest["encoder"]["manifest_sha256"] == ck.manifest_sha256
    hits = index.neighbors("Movie 3", k=3)
    assert len(hits) == 3 and all(h[0] != "Movie 3" for h in hits)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test"]["mrr"] == doc2["test"]["mrr"]
    assert doc2["index"]["fingerprint"] == index.fingerprint
    torch.testing.assert_close(torch.from_numpy(index.embeddings), ck.embeddings["entities"])


def test_train_main_with_conve_resumes_and_writes_an_index(tmp_path, movie_store) -> None:
    from kgfm.index.build import main
    from kgfm.index.entity_index import EntityIndex

    out = tmp_path / "run"
    overrides = {
        "store.path": str(movie_store.path), "run.output_dir": str(out), "model.dim": 16, "model.decoder": "conve",
        "model.conve.width": 4, "model.conve.filters": 4, "train.epochs": 2, "train.batch_size": 32,
        "run.device": "cpu", "run.threads": 1, "data.valid_fraction": 0.1, "data.test_fraction": 0.1,
    }
    main(None, overrides, resume=False)
    doc = main(None, {**overrides, "train.epochs": 3}, resume=True)
    assert [h["epoch"] for h in doc["history"]] == [1, 2, 3] and doc["test"]["queries"] > 0
    ck = load_checkpoint(out / "checkpoint")
    assert ck.manifest["config"]["model"]["decoder"] == "conve" and "decoder.conv.weight" in ck.weights
    index = EntityIndex.load(out / "index", use_gpu=False)
    assert index.metric == "ip" and index.manifest["encoder"]["decoder"] == "conve"
    torch.testing.assert_close(torch.from_numpy(index.embeddings), ck.embeddings["entities"])


def test_resume_without_checkpoint_is_clear(tmp_path, movie_store) -> None:
    from kgfm.encoder.train import main

    with pytest.raises(ArtifactError, match="no checkpoint to resume"):
        main(None, {"store.path": str(movie_store.path), "run.output_dir": str(tmp_path / "x"),
                    "run.device": "cpu"}, resume=True)


def test_cuda_training_step() -> None:
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    graph = tensors_from_triples(_chain())
    data = build_data(graph, [], _chain()[:4])
    model = KGEncoder(graph.num_entities, graph.num_relations, ModelConfig(dim=8))
    trainer = Trainer(model, data, _cfg(device="cuda", epochs=1, batch_size=8), torch.device("cuda"),
                      log=lambda _: None)
    trainer.fit()
    assert trainer.evaluate("test")["queries"] == 8


def _saved(tmp_path):
    graph = tensors_from_triples(_chain())
    data = build_data(graph, [], _chain()[:4])
    model = KGEncoder(graph.num_entities, graph.num_relations, ModelConfig(dim=8))
    trainer = Trainer(model, data, _cfg(epochs=1, batch_size=8), torch.device("cpu"), log=lambda _: None)
    trainer.fit()
    vocab = {"entity_ids": graph.entity_ids, "relation_types": graph.relation_types}
    save_checkpoint(tmp_path / "ck", model, vocab, trainer.state, {"model": {}}, optimizer=trainer.optimizer)
    return tmp_path / "ck"


def _rewrite(ck, name: str, data: bytes) -> None:
    """Replace one file and re-sign the manifest (what a careless hand edit would do)."""
    from kgfm.artifacts import sha256_file

    (ck / name).write_bytes(data)
    manifest = json.loads((ck / "manifest.json").read_text())
    manifest["files"][name] = sha256_file(ck / name)
    (ck / "manifest.json").write_text(json.dumps(manifest))


def test_pickle_in_safetensors_is_refused_clearly(tmp_path) -> None:
    import pickle

    ck = _saved(tmp_path)
    _rewrite(ck, "weights.safetensors", pickle.dumps({"x": 1}))
    with pytest.raises(ArtifactError, match="pickle/zip file, not safetensors"):
        load_checkpoint(ck).weights


def test_empty_vocab_and_bad_state_are_clear_errors(tmp_path) -> None:
    ck = _saved(tmp_path)
    _rewrite(ck, "vocab.json", b"{}")
    with pytest.raises(ArtifactError, match=r"vocab.json: missing or not a list: entity_ids, relation_types"):
        load_checkpoint(ck)
    ck = _saved(tmp_path / "b")
    state = json.loads((ck / "state.json").read_text())
    state["progress"]["epoch"] = "x"
    _rewrite(ck, "state.json", json.dumps(state).encode())
    with pytest.raises(ArtifactError, match=r"state.json: progress.epoch: Input should be a valid integer"):
        load_checkpoint(ck)


def test_resume_restores_weights_strictly(tmp_path) -> None:
    ck = load_checkpoint(_saved(tmp_path))
    graph = tensors_from_triples(_chain())
    other = KGEncoder(graph.num_entities, graph.num_relations, ModelConfig(dim=8, conv="none", num_layers=0))
    with pytest.raises(ArtifactError, match="weights do not fit the configured model"):
        ck.training.restore(other, None)


def test_decoders_are_classes_with_hand_computed_scores() -> None:
    from kgfm.encoder.decoders import ComplEx, DistMult, RotatE

    h, r, t = torch.tensor([[1.0, 2.0]]), torch.tensor([[3.0, 0.5]]), torch.tensor([[1.0, -1.0]])
    # DistMult: <h*r, t> = 1*3*1 + 2*0.5*(-1) = 2
    assert float(DistMult().score_pairs(DistMult().query(h, r), t)) == pytest.approx(2.0)
    # ComplEx with h = 1+2i, r = 3+0.5i: h*r = (3-1) + (0.5+6)i = 2+6.5i; Re(<h r, conj(t)>) with t = 1-1i: 2 - 6.5
    assert float(ComplEx().score_pairs(ComplEx().query(h, r), t)) == pytest.approx(-4.5)
    # RotatE with phase 0.5*pi: h = 1+2i rotated by i -> -2+1i; distance to 1-1i = sqrt(9+4)
    q = RotatE().query(h, torch.tensor([[0.5, 9.0]]))
    assert float(RotatE().score_pairs(q, t)) == pytest.approx(-(13 ** 0.5), rel=1e-5)
    assert float(RotatE().score_candidates(q, t)[0, 0]) == pytest.approx(-(13 ** 0.5), rel=1e-5)


def test_conve_is_the_convolution_over_the_stacked_head_and_relation() -> None:
    from kgfm.encoder.decoders import ConvE

    dec = ConvE(2, width=2, filters=1, kernel=1, feature_dropout=0.0, hidden_dropout=0.0).eval()
    with torch.no_grad():
        dec.conv.weight.fill_(1.0)
        dec.conv.bias.zero_()
        dec.fc.weight.copy_(torch.tensor([[1.0, 1.0, 1.0, 1.0], [0.0, 1.0, 0.0, -1.0]]))
        dec.fc.bias.zero_()
    # image [[1, -2], [3, 4]] (head row over relation row) -> ReLU -> (1, 0, 3, 4) -> fc -> (8, -4) -> ReLU -> (8, 0)
    # (fresh batch norms in eval mode are the identity up to 1/sqrt(1 + eps) each)
    q = dec.query(torch.tensor([[1.0, -2.0]]), torch.tensor([[3.0, 4.0]]))
    assert q[0].tolist() == pytest.approx([8.0, 0.0], rel=1e-4)
    assert dec.score_pairs(q, torch.tensor([[1.0, 1.0]])).item() == pytest.approx(8.0, rel=1e-4)
    dec.train()  # a one-query batch, as an epoch's last can be, trains without batch statistics
    assert dec.query(torch.tensor([[1.0, -2.0]]), torch.tensor([[3.0, 4.0]])).shape == (1, 2)
    with pytest.raises(ValueError, match="width 3 does not divide dim 8"):
        ConvE(8, width=3)
    with pytest.raises(ValueError, match="model.conve: width 3 does not divide dim 200"):
        ModelConfig(decoder="conve", conve={"width": 3})
    with pytest.raises(ValueError, match="model.conve: a 30x30 kernel does not fit the 16x8 image"):
        ModelConfig(dim=64, decoder="conve", conve={"width": 8, "kernel": 30})
    with pytest.raises(ValueError, match="a 5x5 kernel does not fit the 2x4 image"):
        ConvE(4, width=4, kernel=5)


def test_conve_learns_the_toy_graph_and_its_weights_round_trip(tmp_path) -> None:
    torch.manual_seed(0)
    triples = _chain()
    graph = tensors_from_triples(triples)
    data = build_data(graph, triples, triples)
    config = ModelConfig(conv="compgcn", num_layers=1, dim=16, composition="sub", decoder="conve", gnn_dropout=0.0,
                         conve={"width": 4, "filters": 8, "feature_dropout": 0.0, "hidden_dropout": 0.0})
    model = KGEncoder(graph.num_entities, graph.num_relations, config)
    assert any(name.startswith("decoder.conv") for name, _ in model.named_parameters())
    trainer = Trainer(model, data, _cfg(lr=0.01, epochs=80, batch_size=16, eval_every=20, patience=5),
                      torch.device("cpu"), log=lambda _: None)
    trainer.fit()
    trainer.restore_best()
    assert trainer.evaluate("test")["mrr"] >= 0.9
    vocab = {"entity_ids": graph.entity_ids, "relation_types": graph.relation_types}
    save_checkpoint(tmp_path / "ck", model, vocab, trainer.state, {"model": config.model_dump()})
    ck = load_checkpoint(tmp_path / "ck")
    assert "decoder.bn_hidden.running_var" in ck.weights  # batch-norm statistics travel with the weights
    other = KGEncoder(graph.num_entities, graph.num_relations, config)
    ck.training.restore(other, None)
    other.set_graph(*data.graph())
    model.eval(), other.eval()
    h, r, _ = data.queries(data.train)
    torch.testing.assert_close(other.score_all(other.encode(), h, r), model.score_all(model.encode(), h, r))


def test_safetensors_whose_header_length_looks_like_a_pickle_opcode_loads(tmp_path):
    """A 1,152-byte header is stored as b'\\x80\\x04...', the pickle protocol-4 signature."""
    import struct

    from safetensors.numpy import load_file

    from kgfm.artifacts import check_safetensors

    import json

    path = tmp_path / "w.safetensors"

    meta = json.dumps({"__metadata__": {"k": "x" * (1152 - 30)}}).encode()
    meta = meta + b" " * (1152 - len(meta))
    assert len(meta) == 1152 and struct.pack("<Q", 1152)[:2] == b"\x80\x04"
    path.write_bytes(struct.pack("<Q", len(meta)) + meta)
    check_safetensors(path)  # no error
    assert load_file(path) == {}
