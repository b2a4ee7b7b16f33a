"""Evidence paths from the graph in memory (``kgfm.qa.paths``) equal the store's (``GraphStore.paths``) exactly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def movie_store(tmp_path_factory):
    from kgfm.config import StoreConfig
    from kgfm.store.build import BuildGraphConfig, SourceSpec, run_build
    from kgfm.store.factory import open_store

    cfg = StoreConfig(path=tmp_path_factory.mktemp("paths") / "movies.lbug")
    run_build(BuildGraphConfig(store=cfg, sources=[SourceSpec(path=REPO / "graphs" / "movies_kb.txt")]), show_progress=False)
    store = open_store(cfg, read_only=True)
    yield store, store.export_tensors()
    store.close()


def _memory(graph):
    from kgfm.qa.paths import PairPaths

    return PairPaths(graph.entity_ids, graph.entity_names, graph.relation_types, graph.head_index, graph.rel_type,
                     graph.tail_index)


def test_hand_made_graph_parallel_edges_and_directions():
    from kgfm.qa.paths import PairPaths

    #  a -r-> b, b -s-> a (both directions), b -r-> c, a -t-> d, d -r-> c, c -u-> e, e -u-> e (a self-loop)
    ids = ["a", "b", "c", "d", "e"]
    heads, rels, tails = np.array([0, 1, 1, 0, 3, 2, 4]), np.array([0, 1, 0, 2, 0, 3, 3]), np.array([1, 0, 2, 3, 2, 4, 4])
    pp = PairPaths(ids, ["A", "B", "C", None, "E"], ["r", "s", "t", "u"], heads, rels, tails)
    assert [pp.neighbours(i).tolist() for i in range(5)] == [[1, 3], [0, 2], [1, 3, 4], [0, 2], [2]]
    assert pp.paths("a", "b", 2) == [(("a", "b"), ("A", "B"), ("r",), (1,)), (("a", "b"), ("A", "B"), ("s",), (-1,))]
    assert pp.paths("a", "c", 2) == [
        (("a", "b", "c"), ("A", "B", "C"), ("r", "r"), (1, 1)),
        (("a", "b", "c"), ("A", "B", "C"), ("s", "r"), (-1, 1)),
        (("a", "d", "c"), ("A", None, "C"), ("t", "r"), (1, 1)),
    ]
    assert pp.paths("a", "c", 1) == []  # no path within one hop
    assert pp.paths("c", "a", 2, limit=2) is None  # 3 shortest paths, limit 2: the store chooses
    assert pp.paths("a", "a", 2) is None and pp.paths("a", "nobody", 2) == []
    assert pp.paths("a", "e", 2) == []  # three hops away
    assert pp.paths("a", "e", 3) == [
        (("a", "b", "c", "e"), ("A", "B", "C", "E"), ("r", "r", "u"), (1, 1, 1)),
        (("a", "b", "c", "e"), ("A", "B", "C", "E"), ("s", "r", "u"), (-1, 1, 1)),
        (("a", "d", "c", "e"), ("A", None, "C", "E"), ("t", "r", "u"), (1, 1, 1)),
    ]
    assert pp.paths("e", "a", 3) == [  # the same routes walked back: every direction flips
        (("e", "c", "b", "a"), ("E", "C", "B", "A"), ("u", "r", "r"), (-1, -1, -1)),
        (("e", "c", "b", "a"), ("E", "C", "B", "A"), ("u", "r", "s"), (-1, -1, 1)),
        (("e", "c", "d", "a"), ("E", "C", None, "A"), ("u", "r", "t"), (-1, -1, -1)),
    ]


def test_same_paths_as_the_store_on_the_sample_graph(movie_store):
    store, graph = movie_store
    memory = _memory(graph)
    rng = np.random.default_rng(0)
    ids = graph.entity_ids
    pairs = [(ids[i], ids[j]) for i, j in rng.integers(0, len(ids), size=(150, 2)) if i != j]
    for s in rng.choice(len(ids), size=40, replace=False):  # and pairs one and two hops apart
        one = memory.neighbours(int(s)).tolist()
        two = sorted({m for n in one for m in memory.neighbours(n).tolist()} - {int(s)})
        pairs += [(ids[s], ids[t]) for t in one[:3] + two[:5]]
    compared = 0
    for hops in (1, 2, 3):
        for s, t in pairs[: 80 if hops == 3 else None]:
            mine = memory.paths(s, t, hops, 50)
            if mine is None:
                continue
            theirs = [(p.nodes, p.names, p.rels, p.directions) for p in store.paths(s, t, max_hops=hops, limit=50)]
            assert mine == theirs, (s, t, hops)
            compared += bool(theirs)
    assert compared > 300
