"""The same input gives the same store, byte for byte, whatever the hash seed.

Builds one input (TSV with colliding sanitised relation names, plus Turtle with blank nodes and
literals) under four ``PYTHONHASHSEED`` values, each through the real ``kgfm build-graph`` in
its own process, and compares the vocabularies, the exported training tensors and the
``kgfm export`` N-Quads byte for byte.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
KGFM = [sys.executable, "-c", "from kgfm.cli.main import main; main()"]

TSV = "".join(
    f"e{i % 13}\t{rel}\te{(i * 7) % 17}\n"
    for i, rel in enumerate(["a-b", "a_b", "A_B", "a b", "c", "http://x.org/a-b", "d/e", "a-b"] * 5)
)
TTL = """@prefix ex: <http://example.org/> .
ex:e1 ex:rel [ ex:p "x"@en, "x", "x"^^ex:dt ], [ ex:q ex:e2 ] ; ex:label "one"@en .
ex:e2 ex:other ex:e1 .
"""

TENSORS = """
import hashlib, sys
import numpy as np
from kgfm.store.embedded import EmbeddedStore
with EmbeddedStore(sys.argv[1], read_only=True) as s:
    g = s.export_tensors(with_text=True)
h = hashlib.sha256()
for part in (g.head_index, g.rel_type, g.tail_index):
    h.update(np.ascontiguousarray(part, dtype=np.int64).tobytes())
h.update(repr((g.entity_ids, g.entity_names, g.relation_types, g.relation_predicates)).encode())
print(h.hexdigest())
print(g.relation_types)
"""


def _build(folder: Path, seed: str) -> tuple[str, str, str]:
    env = dict(os.environ, PYTHONHASHSEED=seed, PYTHONPATH=str(REPO))
    store = folder / f"seed{seed}" / "graph.lbug"
    run = subprocess.run([*KGFM, "build-graph", str(folder / "kb.tsv"), str(folder / "g.ttl"), "--path", str(store)],
                         capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stderr
    tensors = subprocess.run([sys.executable, "-c", TENSORS, str(store)], capture_output=True, text=True, env=env, timeout=300)
    assert tensors.returncode == 0, tensors.stderr
    out = folder / f"seed{seed}.nq"
    export = subprocess.run([*KGFM, "export", "--path", str(store), "-o", str(out)], capture_output=True, text=True, env=env, timeout=300)
    assert export.returncode == 0, export.stderr
    digest, relations = tensors.stdout.splitlines()[:2]
    return digest, relations, hashlib.sha256(out.read_bytes()).hexdigest()


def test_four_hash_seeds_build_identical_stores(tmp_path: Path) -> None:
    (tmp_path / "kb.tsv").write_text(TSV, encoding="utf-8")
    # a path with the same folder for every seed: blank-node ids derive from the file's IRI
    (tmp_path / "g.ttl").write_text(TTL, encoding="utf-8")
    results = {seed: _build(tmp_path, seed) for seed in ("0", "1", "2", "12345")}
    assert len(set(results.values())) == 1, results
    relations = eval(results["0"][1])  # noqa: S307 -- our own repr of a list of str
    # first-seen order, collisions numbered in that order (casefolded: LadybugDB tables are case-insensitive)
    assert relations == ["a_b", "a_b_2", "A_B_3", "a_b_4", "c", "a_b_5", "d_e", "rel", "q", "other"]


def test_triple_keys_hand_computed() -> None:
    import numpy as np

    from kgfm.store.triple_keys import TripleKeys, unique_rows

    keys = TripleKeys()
    keys.add(0, 0, np.array([1, 1]), np.array([2, 2]))  # stored twice: one key
    arr = lambda *v: np.array(v, dtype=np.int64)  # noqa: E731
    # rows: (rel, graph, head, tail); row 0 is stored; rows 1 and 3 repeat; row 4 differs only by graph
    unseen = keys.unseen(arr(0, 0, 1, 0, 0), arr(0, 0, 0, 0, 1), arr(1, 2, 2, 2, 2), arr(2, 3, 3, 3, 3))
    assert unseen.tolist() == [False, True, True, True, True]
    assert len(keys) == 1
    # a queue of (head, tail, graph) columns: repeats dropped, first-seen order kept
    queue = np.array([[5, 2, 5, 2, 7], [1, 3, 1, 3, 0], [0, 0, 0, 1, 0]])
    assert unique_rows(queue).T.tolist() == [[5, 1, 0], [2, 3, 0], [2, 3, 1], [7, 0, 0]]
    keys.add(1, 0, np.array([2]), np.array([3]))
    assert keys.unseen(arr(1, 1), arr(0, 1), arr(2, 2), arr(3, 3)).tolist() == [False, True]
