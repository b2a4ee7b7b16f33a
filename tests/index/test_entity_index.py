"""EntityIndex: exact vs HNSW recall, search semantics, persistence and tamper detection."""

from __future__ import annotations

import json

import numpy as np
import pytest

from kgfm.artifacts import ArtifactError
from kgfm.index.entity_index import EntityIndex, UnknownEntityError


def _random(n: int, d: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _ids(n: int) -> list[str]:
    return [f"e{i}" for i in range(n)]


def test_flat_search_matches_numpy_brute_force() -> None:
    emb = _random(300, 16)
    index = EntityIndex.build(emb, _ids(300), metric="ip", use_gpu=False)
    assert index.config["index_type"] == "flat"
    queries = _random(7, 16, seed=1)
    scores, idx = index.search(queries, 5)
    assert scores.shape == (7, 5) and idx.shape == (7, 5) and idx.dtype == np.int64
    ref = queries @ emb.T
    np.testing.assert_array_equal(idx, np.argsort(-ref, axis=1)[:, :5])
    np.testing.assert_allclose(scores, np.take_along_axis(ref, idx, axis=1), rtol=1e-5, atol=1e-5)


def test_l2_scores_are_negative_squared_distances() -> None:
    emb = _random(50, 8)
    index = EntityIndex.build(emb, _ids(50), metric="l2", use_gpu=False)
    q = emb[3] + 0.01
    scores, idx = index.search(q, 3)
    assert idx[0, 0] == 3
    np.testing.assert_allclose(-scores[0, 0], np.sum((emb[3] - q) ** 2), rtol=1e-4)
    assert np.all(np.diff(scores[0]) <= 0)


def test_hnsw_recall_against_exact() -> None:
    n, d = 3000, 32
    emb = _random(n, d)
    exact = EntityIndex.build(emb, _ids(n), exact_threshold=10**9, use_gpu=False)
    approx = EntityIndex.build(emb, _ids(n), exact_threshold=1000, hnsw_m=16, ef_search=64, use_gpu=False)
    assert approx.config["index_type"] == "hnsw" and exact.config["index_type"] == "flat"
    queries = _random(100, d, seed=5)
    _, ei = exact.search(queries, 10)
    _, ai = approx.search(queries, 10)
    recall = np.mean([len(set(a) & set(e)) / 10 for a, e in zip(ai, ei)])
    assert recall >= 0.9, recall


def test_k_larger_than_index_is_padded() -> None:
    index = EntityIndex.build(_random(4, 8), _ids(4), use_gpu=False)
    scores, idx = index.search(_random(2, 8, seed=3), 6)
    assert idx.shape == (2, 6)
    assert (idx[:, 4:] == -1).all() and np.isneginf(scores[:, 4:]).all()


def test_neighbors_exclude_self_and_resolve_names() -> None:
    emb = _random(20, 8)
    names = [f"name {i}" for i in range(20)]
    index = EntityIndex.build(emb, _ids(20), names, use_gpu=False)
    result = index.neighbors("e5", k=4)
    assert len(result) == 4
    assert all(eid != "e5" for eid, _, _ in result)
    assert result == index.neighbors("name 5", k=4)
    assert [s for _, _, s in result] == sorted((s for _, _, s in result), reverse=True)
    assert result[0][1] == names[int(result[0][0][1:])]
    with pytest.raises(UnknownEntityError, match="nope"):
        index.neighbors("nope")
    np.testing.assert_array_equal(index.embeddings[index.idx_of("e7")], emb[7])


def test_bad_inputs_are_clear() -> None:
    with pytest.raises(ValueError, match="unique"):
        EntityIndex.build(_random(3, 4), ["a", "a", "b"], use_gpu=False)
    with pytest.raises(ValueError, match="3 entity ids for 2"):
        EntityIndex.build(_random(2, 4), ["a", "b", "c"], use_gpu=False)
    index = EntityIndex.build(_random(3, 4), ["a", "b", "c"], use_gpu=False)
    with pytest.raises(ValueError, match=r"\[n, 4\]"):
        index.search(np.zeros((1, 5), np.float32), 1)


@pytest.mark.parametrize("threshold", [10**6, 100])
def test_save_load_round_trip(tmp_path, threshold: int) -> None:
    emb = _random(400, 12)
    rel = _random(3, 12, seed=9)
    index = EntityIndex.build(
        emb, _ids(400), [None] * 399 + ["last"], metric="ip", exact_threshold=threshold, use_gpu=False,
        relation_types=["r0", "r1", "r2"], relation_embeddings=rel,
    )
    manifest = index.save(tmp_path / "idx", {"encoder": {"manifest_sha256": "abc"}})
    assert manifest["fingerprint"] == index.fingerprint and manifest["encoder"]["manifest_sha256"] == "abc"
    loaded = EntityIndex.load(tmp_path / "idx", use_gpu=False)
    assert loaded.fingerprint == index.fingerprint and len(loaded) == 400 and loaded.dim == 12
    assert loaded.config["index_type"] == index.config["index_type"]
    assert loaded.entity_names[-1] == "last" and loaded.relation_types == ["r0", "r1", "r2"]
    np.testing.assert_array_equal(loaded.relation_embeddings, rel)
    q = _random(5, 12, seed=2)
    np.testing.assert_array_equal(loaded.search(q, 5)[1], index.search(q, 5)[1])


def test_tampered_index_is_refused(tmp_path) -> None:
    index = EntityIndex.build(_random(10, 4), _ids(10), use_gpu=False)
    index.save(tmp_path / "idx")
    vocab = tmp_path / "idx" / "vocab.json"
    data = json.loads(vocab.read_text())
    data["entity_ids"][0] = "evil"
    vocab.write_text(json.dumps(data))
    with pytest.raises(ArtifactError, match="checksum mismatch"):
        EntityIndex.load(tmp_path / "idx", use_gpu=False)
    with pytest.raises(ArtifactError, match="not an artifact"):
        EntityIndex.load(tmp_path / "missing")


def test_gpu_index(tmp_path) -> None:
    import faiss

    if not hasattr(faiss, "get_num_gpus") or faiss.get_num_gpus() == 0:
        pytest.skip("faiss has no GPU here (faiss-cpu build or no CUDA device)")
    emb = _random(500, 16)
    index = EntityIndex.build(emb, _ids(500), use_gpu=True)
    assert index.on_gpu
    cpu = EntityIndex.build(emb, _ids(500), use_gpu=False)
    q = _random(4, 16, seed=1)
    np.testing.assert_array_equal(index.search(q, 5)[1], cpu.search(q, 5)[1])
    index.save(tmp_path / "g")
    assert EntityIndex.load(tmp_path / "g", use_gpu=False).fingerprint == index.fingerprint


def test_cosine_metric_ignores_norms(tmp_path) -> None:
    emb = _random(200, 8) * np.random.default_rng(4).uniform(0.1, 10, (200, 1)).astype(np.float32)
    index = EntityIndex.build(emb, _ids(200), metric="cosine", use_gpu=False)
    unit = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    q = _random(3, 8, seed=8) * 5
    scores, idx = index.search(q, 4)
    ref = (q / np.linalg.norm(q, axis=1, keepdims=True)) @ unit.T
    np.testing.assert_array_equal(idx, np.argsort(-ref, axis=1)[:, :4])
    assert np.all(scores <= 1.0 + 1e-5)
    np.testing.assert_array_equal(index.embeddings, emb)  # raw vectors kept
    index.save(tmp_path / "c")
    loaded = EntityIndex.load(tmp_path / "c", use_gpu=False)
    np.testing.assert_array_equal(loaded.search(q, 4)[1], idx)
    hnsw = EntityIndex.build(emb, _ids(200), metric="cosine", exact_threshold=10, use_gpu=False)
    assert hnsw.neighbors("e0", 3)[0][0] == index.neighbors("e0", 3)[0][0]


def test_manifest_must_cover_every_file(tmp_path) -> None:
    """A manifest with ``"files": {}`` plus a flipped byte in index.faiss is refused."""
    import json

    from kgfm.artifacts import ArtifactError

    EntityIndex.build(_random(10, 4), _ids(10), use_gpu=False).save(tmp_path / "ix")
    manifest = json.loads((tmp_path / "ix" / "manifest.json").read_text())
    manifest["files"] = {}
    (tmp_path / "ix" / "manifest.json").write_text(json.dumps(manifest))
    blob = bytearray((tmp_path / "ix" / "index.faiss").read_bytes())
    blob[-1] ^= 0xFF
    (tmp_path / "ix" / "index.faiss").write_bytes(bytes(blob))
    with pytest.raises(ArtifactError, match="does not list index.faiss"):
        EntityIndex.load(tmp_path / "ix", use_gpu=False)


def test_rows_checked_against_store_order() -> None:
    from kgfm.artifacts import ArtifactError

    index = EntityIndex.build(_random(3, 4), ["a", "b", "c"], use_gpu=False)
    index.check_rows(["a", "b", "c"], "here")
    with pytest.raises(ArtifactError, match="not the store's entities in idx order"):
        index.check_rows(["b", "a", "c"], "here")
