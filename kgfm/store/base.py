"""The store interface every later stage uses, and the value types it returns.

Both backends (:mod:`kgfm.store.embedded`, :mod:`kgfm.store.neo4j`) implement
:class:`GraphStore`. The graph model is the same on both:

* ``(:Entity {id, idx, name, description, names, descriptions, types, props})`` -- ``id``
  unique, ``idx`` a dense integer assigned on first insert and never changed (the entity
  vocabulary); ``name``/``description`` the preferred ones, ``names``/``descriptions`` JSON
  ``{language: text}``, ``props`` JSON ``{predicate: [value object...]}`` holding every literal
  statement losslessly (see :class:`kgfm.sources.records.EntityInfo`);
* one relationship type per relation, named by :func:`kgfm.store.names.rel_type_name`,
  each relationship carrying ``predicate`` (the original IRI/string) and ``graph`` (the
  graph name of a quad, ``""`` for the default graph);
* ``(:RelationType {name, idx, predicate})`` -- the relation vocabulary.

Vocabularies only grow, so integer ids exported by :meth:`GraphStore.export_tensors`
stay stable across runs and re-loads.
"""

from __future__ import annotations

import abc
import json
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from kgfm.sources.records import EntityInfo


class StoreError(Exception):
    """A store problem worth a clear one-line message (unreachable, auth, bad query)."""


#: An entity to insert or update: the readers' record type itself (no copy field by field).
EntityRow = EntityInfo


@dataclass(frozen=True, slots=True)
class TripleRow:
    """A relationship to insert: ``head_id -[rel_type {predicate, graph}]-> tail_id``."""

    head_id: str
    rel_type: str
    tail_id: str
    predicate: str
    graph: str = ""


def props_json(props: dict[str, Any]) -> str | None:
    """A JSON column value (``None`` when empty); keys sorted, lists in their stored order."""
    return json.dumps(props, sort_keys=True, ensure_ascii=False) if props else None


def entity_payload(rows: Sequence[EntityInfo], first_idx: int | None = None) -> list[dict[str, Any]]:
    """Column values of entities; ``idx`` = ``first_idx`` + position (``None``: updates, no idx)."""
    out = []
    for i, r in enumerate(rows):
        row = {
            "id": r.id, "name": r.name, "description": r.description, "names": props_json(r.names),
            "descriptions": props_json(r.descriptions), "types": list(r.types), "props": props_json(r.props),
        }
        if first_idx is not None:
            row["idx"] = first_idx + i
        out.append(row)
    return out


def update_payload(rows: Sequence[EntityInfo]) -> list[dict[str, Any]]:
    """Parameters for the portable ``UPDATE_ENTITIES`` statement."""
    return entity_payload(rows)


def entity_from_row(row: dict[str, Any]) -> dict[str, Any]:
    """A ``GET_ENTITY`` row as returned to callers: JSON columns decoded, types a list."""
    for key in ("props", "names", "descriptions"):
        if key in row:
            row[key] = json.loads(row[key]) if row.get(key) else {}
    row["types"] = list(row.get("types") or [])
    return row


@dataclass(frozen=True)
class GraphCounts:
    entities: int
    relations: int
    triples: int
    per_relation: dict[str, int] = field(default_factory=dict)


@dataclass
class GraphTensors:
    """The whole graph as integer-indexed arrays (numpy; the encoder turns them into torch).

    Args:
        entity_ids: ``entity_ids[i]`` is the id of the entity with ``idx == i``.
        entity_names: Display names aligned with ``entity_ids`` (``None`` where unknown).
        relation_types: ``relation_types[r]`` is the relationship type with ``idx == r``.
        relation_predicates: Original predicate strings aligned with ``relation_types``.
        head_index: ``[num_triples]`` int64 entity idx of each head.
        rel_type: ``[num_triples]`` int64 relation idx.
        tail_index: ``[num_triples]`` int64 entity idx of each tail.
    """

    entity_ids: list[str]
    entity_names: list[str | None]
    relation_types: list[str]
    relation_predicates: list[str]
    head_index: np.ndarray
    rel_type: np.ndarray
    tail_index: np.ndarray
    entity_descriptions: list[str | None] | None = None

    @property
    def num_entities(self) -> int:
        return len(self.entity_ids)

    @property
    def num_relations(self) -> int:
        return len(self.relation_types)

    @property
    def num_triples(self) -> int:
        return int(self.head_index.shape[0])

    def edge_index(self) -> np.ndarray:
        """``[2, num_triples]`` array of (head, tail), PyG convention."""
        return np.stack([self.head_index, self.tail_index])


def assemble_tensors(
    vocab: dict[str, list[Any]],
    relations: list[tuple[str, int, str]],
    head: np.ndarray,
    rel: np.ndarray,
    tail: np.ndarray,
) -> GraphTensors:
    """Build :class:`GraphTensors` from what a backend read.

    The triples come out in one canonical order, sorted by ``(rel, head, tail)``, so the export
    does not depend on the backend, its storage layout or how many threads scanned it.

    Args:
        vocab: Entity columns ``id``, ``name`` and optionally ``description``, ordered by ``idx``.
        relations: ``(rel_type, idx, predicate)`` sorted by ``idx``.
        head: Head entity ``idx`` of every relationship.
        rel: Relation ``idx`` of every relationship, aligned with ``head``.
        tail: Tail entity ``idx`` of every relationship, aligned with ``head``.
    """
    head, rel, tail = (np.asarray(a, dtype=np.int64) for a in (head, rel, tail))
    n = max(len(vocab["id"]), 1)
    if max(len(relations), 1) * n * n < 2**63:  # one packed int64 key: a plain sort, ~5x faster than lexsort
        key = rel * (n * n)
        key += head * n
        key += tail
        key.sort()
        rel, head, tail = key // (n * n), (key // n) % n, key % n
    else:
        order = np.lexsort((tail, head, rel))
        head, rel, tail = head[order], rel[order], tail[order]
    return GraphTensors(
        entity_ids=list(vocab["id"]),
        entity_names=list(vocab["name"]),
        relation_types=[name for name, _, _ in relations],
        relation_predicates=[pred for _, _, pred in relations],
        head_index=head,
        rel_type=rel,
        tail_index=tail,
        entity_descriptions=list(vocab["description"]) if "description" in vocab else None,
    )


@dataclass(frozen=True)
class Neighbor:
    """An entity reached from a start entity within k hops."""

    id: str
    name: str | None
    hops: int


@dataclass(frozen=True)
class PathResult:
    """One path: ``nodes[0] -rels[0]- nodes[1] ...``; ``directions[i]`` is ``+1`` when the
    i-th relationship points from ``nodes[i]`` to ``nodes[i+1]``, ``-1`` otherwise."""

    nodes: tuple[str, ...]
    names: tuple[str | None, ...]
    rels: tuple[str, ...]
    directions: tuple[int, ...]

    def __len__(self) -> int:
        return len(self.rels)


class GraphStore(abc.ABC):
    """What every backend offers. All values travel as query parameters."""

    backend: str = "abstract"

    # ---- writing -------------------------------------------------------------------
    @abc.abstractmethod
    def ensure_schema(self, rel_types: Iterable[tuple[str, str]] = ()) -> None:
        """Create constraints/tables, and relationship types ``(rel_type, predicate)``."""

    @abc.abstractmethod
    def insert_entities(self, rows: Sequence[EntityInfo], first_idx: int) -> int:
        """Insert entities whose ids are not yet stored (the caller filtered them), with
        ``idx`` = ``first_idx``, ``first_idx + 1``, ... Returns count."""

    @abc.abstractmethod
    def update_entities(self, rows: Sequence[EntityInfo]) -> int:
        """Set name/description/names/types/props of existing entities (``None``/empty fields untouched)."""

    @abc.abstractmethod
    def insert_triples(self, rel_type: str, rows: Sequence[TripleRow]) -> int:
        """Insert relationships of one type whose (head, tail, graph) is not stored yet. Returns count."""

    def insert_triple_columns(self, rel_type: str, predicate: str, heads: list[str], tails: list[str], graphs: list[str]) -> int:
        """Column-wise :meth:`insert_triples` (the loader's bulk path; backends may override)."""
        rows = [TripleRow(h, rel_type, t, predicate, g) for h, t, g in zip(heads, tails, graphs)]
        return self.insert_triples(rel_type, rows)

    @abc.abstractmethod
    def register_relations(self, rows: Sequence[tuple[str, int, str]]) -> None:
        """Store new relation vocabulary entries ``(rel_type, idx, predicate)``."""

    def clear(self) -> None:
        """Delete every entity, relationship and relation type stored (``build-graph --replace`` on a
        server; an embedded store is replaced as a whole file instead, atomically)."""
        raise StoreError(f"{self.backend} store: no clearing in place; build a new store and replace the old one")

    def checkpoint(self) -> None:
        """Make everything written so far durable in the main files (no-op where not needed)."""

    # ---- reading -------------------------------------------------------------------
    @abc.abstractmethod
    def entity_index(self) -> dict[str, int]:
        """Map of every stored entity id to its ``idx``."""

    @abc.abstractmethod
    def relation_index(self) -> dict[str, tuple[int, str]]:
        """Map of every relationship type to ``(idx, predicate)``."""

    @abc.abstractmethod
    def counts(self) -> GraphCounts: ...

    @abc.abstractmethod
    def triple_keys(self) -> Iterator[tuple[str, np.ndarray, np.ndarray, list[str] | None]]:
        """Per relationship type: ``(rel_type, head idx, tail idx, graph names or None when all default)``."""

    @abc.abstractmethod
    def iter_entity_statements(self, batch: int = 50_000) -> Iterator[list[EntityInfo]]:
        """What ``kgfm export`` writes besides relationships: batches of :class:`EntityInfo` holding ``id``,
        ``props`` (decoded), ``name`` and ``description``, for entities with any of them, by ``idx``."""

    @abc.abstractmethod
    def iter_relationships(self, batch: int = 100_000) -> Iterator[list[tuple[str, str, str, str]]]:
        """Batches of ``(head id, predicate, tail id, graph)`` over every relationship type."""

    @abc.abstractmethod
    def export_tensors(self, with_text: bool = False) -> GraphTensors:
        """The whole graph as :class:`GraphTensors`; ``with_text`` adds descriptions."""

    @abc.abstractmethod
    def get_entity(self, entity_id: str) -> dict[str, Any] | None: ...

    @abc.abstractmethod
    def neighbors(self, entity_id: str, hops: int = 1, limit: int = 1000) -> list[Neighbor]:
        """Entities within ``hops`` (either direction), nearest first, ``limit`` at most."""

    @abc.abstractmethod
    def paths(self, source_id: str, target_id: str, max_hops: int = 3, limit: int = 10) -> list[PathResult]:
        """Shortest undirected paths from ``source_id`` to ``target_id``."""

    @abc.abstractmethod
    def cypher(self, query: str, params: dict[str, Any] | None = None, write: bool = False) -> list[dict[str, Any]]:
        """Run a user query. Read-only unless ``write``: the backend refuses writes itself."""

    @abc.abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> "GraphStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
