"""Fixtures for the fusion tests. Small real components for the fusion tests: a hand-made movie graph, its FAISS index, a tiny
random BERT config (hidden 32, 2 layers) and the offline MiniLM tokenizer (tokenizer files only)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from kgfm.store.base import GraphTensors

NAMES = [
    "Kismet", "William Dieterle", "Edward Knoblock", "Marlene Dietrich", "Drama", "The Matrix",
    "Keanu Reeves", "Lana Wachowski", "Action", "Inception", "Christopher Nolan", "Leonardo DiCaprio",
    "Heat", "Michael Mann", "Al Pacino", "The Who", "1944", "English",
]
TRIPLES = [
    ("Kismet", "directed_by", "William Dieterle"), ("Kismet", "written_by", "Edward Knoblock"),
    ("Kismet", "starred_actors", "Marlene Dietrich"), ("Kismet", "has_genre", "Drama"),
    ("Kismet", "release_year", "1944"), ("Kismet", "in_language", "English"),
    ("The Matrix", "starred_actors", "Keanu Reeves"), ("The Matrix", "directed_by", "Lana Wachowski"),
    ("The Matrix", "has_genre", "Action"), ("Inception", "directed_by", "Christopher Nolan"),
    ("Inception", "starred_actors", "Leonardo DiCaprio"), ("Heat", "directed_by", "Michael Mann"),
    ("Heat", "starred_actors", "Al Pacino"), ("Heat", "has_genre", "Drama"), ("Heat", "has_genre", "Action"),
    ("Inception", "has_genre", "Action"), ("The Matrix", "in_language", "English"),
]


def toy_graph(with_text: bool = True) -> GraphTensors:
    ids = [f"m{i}" for i in range(len(NAMES))]
    pos = {n: i for i, n in enumerate(NAMES)}
    rels = sorted({r for _, r, _ in TRIPLES})
    return GraphTensors(
        entity_ids=ids,
        entity_names=list(NAMES),
        relation_types=rels,
        relation_predicates=list(rels),
        head_index=np.array([pos[h] for h, _, _ in TRIPLES], dtype=np.int64),
        rel_type=np.array([rels.index(r) for _, r, _ in TRIPLES], dtype=np.int64),
        tail_index=np.array([pos[t] for _, _, t in TRIPLES], dtype=np.int64),
        entity_descriptions=[f"{n} is an entity of the toy movie graph number {i}" if i % 3 == 0 else None
                             for i, n in enumerate(NAMES)] if with_text else None,
    )


def toy_index(dim: int = 16, seed: int = 0, graph: GraphTensors | None = None):
    from kgfm.index.entity_index import EntityIndex

    graph = graph or toy_graph()
    emb = np.random.default_rng(seed).normal(size=(graph.num_entities, dim)).astype(np.float32)
    return EntityIndex.build(emb, graph.entity_ids, graph.entity_names, metric="ip", use_gpu=False)


def tiny_backbone(**extra) -> dict:
    return dict(model_type="bert", hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                intermediate_size=64, vocab_size=30522, max_position_embeddings=128, **extra)


def tokenizer():
    from transformers import AutoTokenizer

    from kgfm.hf import minilm_path

    return AutoTokenizer.from_pretrained(str(minilm_path()))


def write_toy_setup(root: Path, steps: int = 4, fusion: bool = True, extra_train: dict | None = None) -> Path:
    """Corpus + index + a pretraining YAML config for the toy graph; returns the config path."""
    import yaml

    from kgfm.fusion.corpus import build_corpus

    graph = toy_graph()
    build_corpus(graph, root / "corpus", valid_fraction=0.2, seed=0)
    toy_index(graph=graph).save(root / "index")
    train = dict(steps=steps, batch_size=4, max_length=24, negatives=8, log_every=1, eval_every=steps,
                 save_every=steps, eval_examples=16)
    train.update(extra_train or {})
    cfg = {"corpus": str(root / "corpus"), "index": str(root / "index"),
           "run": {"output_dir": str(root / "out"), "threads": 1},
           "optim": {"lr": 1e-3, "head_lr": 3e-3, "warmup": 0},
           "model": {"backbone_config": tiny_backbone(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0),
                     "fusion_layers": [0, 1], "top_k": 3, "fusion": fusion, "knowledge_dropout": 0.0},
           "train": train}
    path = root / "pretrain.yaml"
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    return path


import pytest  # noqa: E402


@pytest.fixture(scope="session")
def graph() -> GraphTensors:
    return toy_graph()


@pytest.fixture(scope="session")
def index(graph):
    return toy_index(graph=graph)


@pytest.fixture(scope="session")
def tok():
    return tokenizer()


@pytest.fixture()
def toy_setup(tmp_path):
    """``toy_setup(steps=..., fusion=..., extra_train=...)`` -> pretraining config path."""
    return lambda **kw: write_toy_setup(tmp_path, **kw)


@pytest.fixture(scope="session")
def other_index(graph):
    """Same entities, different embeddings: a different fingerprint."""
    return toy_index(graph=graph, seed=1)
