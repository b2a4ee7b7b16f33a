"""Link-prediction data: the training graph (with inverse relations) and evaluation splits.

Relations are numbered ``0..R-1`` as in the store; the inverse of relation ``r`` is ``r + R``.
A triple ``(h, r, t)`` gives two training queries: ``(h, r) -> t`` and ``(t, r + R) -> h``.
Evaluation uses the same trick: tail prediction of ``(h, r, ?)`` and head prediction of
``(?, r, t)`` (asked as ``(t, r + R, ?)``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from kgfm.sources.records import SourceError
from kgfm.store.base import GraphTensors


def read_triple_file(path: Path) -> list[tuple[str, str, str]]:
    """Read ``head<TAB>relation<TAB>tail`` (or ``head|relation|tail``) lines; gz allowed.

    Parsing is :func:`kgfm.sources.delimited.read_delimited_batches` (the same rules as
    ``kgfm build-graph``, so valid/test files map onto the store's vocabulary exactly); the
    format comes from :func:`kgfm.sources.formats.detect_format`, as for the loader.

    Raises:
        SourceError: missing file, or the first line that is not a triple (file:line named).
    """
    from kgfm.sources.delimited import read_delimited_batches
    from kgfm.sources.formats import detect_format

    path = Path(path)
    if not path.is_file():
        raise SourceError(str(path), "triple file not found")
    out: list[tuple[str, str, str]] = []
    fmt = detect_format(path)
    if fmt not in ("tsv", "csv", "pipe"):
        raise SourceError(str(path), f"a {fmt} file is not a triple file (tsv, csv or pipe)")
    for rows, rejects in read_delimited_batches(path, fmt):  # type: ignore[arg-type]
        if rejects:
            raise SourceError(str(path), rejects[0].reason, rejects[0].line)
        out.extend((h, r, t) for h, r, t, _ in rows)
    return out


def tensors_from_triples(
    triples: Sequence[tuple[str, str, str]], entity_names: dict[str, str] | None = None
) -> GraphTensors:
    """Build :class:`GraphTensors` directly from string triples (vocabulary in first-seen order).

    Used by the benchmarks and tests; ``kgfm train`` reads the store instead.
    """
    ent: dict[str, int] = {}
    rel: dict[str, int] = {}
    arr = np.empty((len(triples), 3), dtype=np.int64)
    for i, (h, r, t) in enumerate(triples):
        arr[i, 0] = ent.setdefault(h, len(ent))
        arr[i, 1] = rel.setdefault(r, len(rel))
        arr[i, 2] = ent.setdefault(t, len(ent))
    ids = list(ent)
    names = [(entity_names or {}).get(e) for e in ids]
    rels = list(rel)
    return GraphTensors(ids, names, rels, rels, arr[:, 0].copy(), arr[:, 1].copy(), arr[:, 2].copy())


@dataclass
class SplitStats:
    """How a split file mapped onto the store vocabulary."""

    name: str
    total: int
    known: int
    unknown_entity: int
    unknown_relation: int
    examples: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "total": self.total,
            "known": self.known,
            "unknown_entity": self.unknown_entity,
            "unknown_relation": self.unknown_relation,
            "unknown_examples": self.examples[:5],
        }


def map_triples(
    triples: Sequence[tuple[str, str, str]], graph: GraphTensors, name: str
) -> tuple[np.ndarray, SplitStats]:
    """Map string triples to ``[n, 3]`` (h, r, t) ids through the graph's vocabularies.

    A relation matches its stored predicate or its relationship-type name. Triples with an
    unknown entity or relation are not dropped silently: they are counted in the returned
    stats and the evaluation scores them as misses.
    """
    ent = {e: i for i, e in enumerate(graph.entity_ids)}
    rel = {p: i for i, p in enumerate(graph.relation_types)}
    rel.update({p: i for i, p in enumerate(graph.relation_predicates)})
    rows: list[tuple[int, int, int]] = []
    unk_e = unk_r = 0
    examples: list[str] = []
    for h, r, t in triples:
        hi, ri, ti = ent.get(h), rel.get(r), ent.get(t)
        if ri is None:
            unk_r += 1
        elif hi is None or ti is None:
            unk_e += 1
        else:
            rows.append((hi, ri, ti))
            continue
        if len(examples) < 5:
            examples.append(f"{h}\t{r}\t{t}")
    arr = np.asarray(rows, dtype=np.int64).reshape(-1, 3)
    return arr, SplitStats(name, len(triples), len(rows), unk_e, unk_r, examples)


def message_edges(head: torch.Tensor, rel: torch.Tensor, tail: torch.Tensor,
                  num_relations: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``edge_index [2, 2n]`` and ``edge_type [2n]`` of ``n`` triples with their inverse edges (type
    ``r + R``): the graph the encoder passes messages over."""
    return torch.stack([torch.cat([head, tail]), torch.cat([tail, head])]), torch.cat([rel, rel + num_relations])


@dataclass
class LinkPredData:
    """Everything training and evaluation need, as torch tensors on one device.

    Args:
        num_entities: ``N``.
        num_relations: ``R`` (original relations; ``2R`` with inverses).
        train: ``[n, 3]`` training triples (also the message-passing edges).
        valid: ``[n_v, 3]`` validation triples mapped to the vocabulary.
        test: ``[n_t, 3]`` test triples mapped to the vocabulary.
        valid_missing: Validation triples that could not be mapped (scored as misses).
        test_missing: Test triples that could not be mapped (scored as misses).
        stats: Per-split mapping stats for the metrics file.
    """

    num_entities: int
    num_relations: int
    train: torch.Tensor
    valid: torch.Tensor
    test: torch.Tensor
    valid_missing: int = 0
    test_missing: int = 0
    stats: dict = field(default_factory=dict)

    def to(self, device: torch.device | str) -> "LinkPredData":
        self.train, self.valid, self.test = (t.to(device) for t in (self.train, self.valid, self.test))
        return self

    def graph(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The training triples' message-passing edges (:func:`message_edges`)."""
        return message_edges(*self.train.unbind(1), self.num_relations)

    def queries(self, triples: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Tail and head queries of ``triples`` as ``(entity, relation in [0, 2R), answer)``."""
        h, r, t = triples.unbind(1)
        return torch.cat([h, t]), torch.cat([r, r + self.num_relations]), torch.cat([t, h])

    def all_true(self) -> torch.Tensor:
        """Every known triple (train, valid, test) for filtered ranking."""
        return torch.cat([self.train, self.valid, self.test])


def holdout_split(
    graph: GraphTensors, valid_fraction: float, test_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Seeded random split of the graph's triples into train/valid/test ``[n, 3]`` arrays.

    Held-out triples whose head or tail would be left with no training edge stay in train,
    so every evaluated entity has been seen in message passing.
    """
    triples = np.stack([graph.head_index, graph.rel_type, graph.tail_index], axis=1).astype(np.int64)
    # canonical order first: a store may export triples in any order, the split must not depend on it
    triples = triples[np.lexsort((triples[:, 2], triples[:, 1], triples[:, 0]))]
    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(triples))
    n_valid = int(round(valid_fraction * len(triples)))
    n_test = int(round(test_fraction * len(triples)))
    held = perm[: n_valid + n_test]
    degree = np.bincount(np.concatenate([triples[:, 0], triples[:, 2]]), minlength=graph.num_entities)
    keep_mask = np.zeros(len(triples), dtype=bool)
    for i in held:  # greedy: never strip an entity of its last edge
        h, _, t = triples[i]
        if degree[h] > 1 and degree[t] > 1:
            degree[h] -= 1
            degree[t] -= 1
        else:
            keep_mask[i] = True
    held_ok = held[~keep_mask[held]]
    n_valid_ok = len(held_ok) * n_valid // max(n_valid + n_test, 1)
    valid_idx, test_idx = held_ok[:n_valid_ok], held_ok[n_valid_ok:]
    train_mask = np.ones(len(triples), dtype=bool)
    train_mask[held_ok] = False
    return triples[train_mask], triples[valid_idx], triples[test_idx]


def build_data(
    graph: GraphTensors,
    valid: Sequence[tuple[str, str, str]] | None = None,
    test: Sequence[tuple[str, str, str]] | None = None,
    valid_fraction: float = 0.05,
    test_fraction: float = 0.05,
    seed: int = 0,
) -> LinkPredData:
    """Assemble :class:`LinkPredData` from a graph and optional explicit split triples.

    With explicit splits all graph triples train; otherwise a seeded hold-out is used.
    """
    stats: dict = {}
    if valid is None and test is None:
        train, va, te = holdout_split(graph, valid_fraction, test_fraction, seed)
        stats["split"] = {"mode": "holdout", "seed": seed, "train": len(train), "valid": len(va), "test": len(te)}
        missing_v = missing_t = 0
    else:
        train = np.stack([graph.head_index, graph.rel_type, graph.tail_index], axis=1).astype(np.int64)
        va, sv = map_triples(valid or [], graph, "valid")
        te, st = map_triples(test or [], graph, "test")
        stats["split"] = {"mode": "files", "train": len(train)}
        stats["valid"], stats["test"] = sv.as_dict(), st.as_dict()
        missing_v, missing_t = sv.total - sv.known, st.total - st.known
    return LinkPredData(
        num_entities=graph.num_entities,
        num_relations=graph.num_relations,
        train=torch.from_numpy(np.ascontiguousarray(train)),
        valid=torch.from_numpy(np.ascontiguousarray(va)),
        test=torch.from_numpy(np.ascontiguousarray(te)),
        valid_missing=missing_v,
        test_missing=missing_t,
        stats=stats,
    )
