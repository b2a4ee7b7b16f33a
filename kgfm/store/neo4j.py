"""The production store: Neo4j 5 through the official ``neo4j`` driver.

Written the way Neo4j documents bulk writes: uniqueness constraints first, UNWIND-of-rows
batches (``batch_size`` rows, default 10k), managed transactions (``execute_write`` /
``execute_read``, which retry transient errors), parameters for every value, backtick-quoted
labels and types, and ``database=`` honoured on every session. Credentials come from the
config/env only (:meth:`kgfm.config.StoreConfig.resolved_neo4j`).
"""

from __future__ import annotations

import json
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from kgfm.sources.records import EntityInfo
from kgfm.store import neo4j_cypher as cy
from kgfm.store.base import (
    EntityRow,
    GraphCounts,
    GraphStore,
    GraphTensors,
    Neighbor,
    PathResult,
    StoreError,
    TripleRow,
    assemble_tensors,
    entity_from_row,
    entity_payload,
    update_payload,
)
from kgfm.store.names import base_name

_BOLT_SCHEMES = ("bolt", "bolt+s", "bolt+ssc", "neo4j", "neo4j+s", "neo4j+ssc")


class Neo4jStore(GraphStore):
    """Neo4j-backed :class:`GraphStore`.

    Args:
        uri: Bolt/neo4j URI, e.g. ``neo4j://localhost:7687``.
        user: User name.
        password: Password (from the environment).
        database: Database name (``None``: the server default).
        batch_size: Rows per ``UNWIND`` transaction.
        merge: Write entities and relationships with ``MERGE`` instead of ``CREATE`` (for several
            loaders writing into one database at once; slower).
    """

    backend = "neo4j"

    def __init__(
        self, uri: str, user: str, password: str, database: str | None = None, batch_size: int = 10_000,
        merge: bool = False,
    ) -> None:
        try:
            import neo4j
        except ImportError:
            raise StoreError("the Neo4j backend needs the driver: pip install 'kgfm[neo4j]'") from None
        self._neo4j = neo4j
        self.uri = uri
        self.database = database
        self.batch_size = batch_size
        self.merge = merge
        scheme = uri.split("://", 1)[0].lower() if "://" in uri else ""
        problem = None if scheme in _BOLT_SCHEMES else f"the scheme must be one of {', '.join(_BOLT_SCHEMES)}"
        if problem is None:
            try:
                self._driver = neo4j.GraphDatabase.driver(uri, auth=(user, password))
            except (neo4j.exceptions.ConfigurationError, ValueError) as exc:
                problem = str(exc)
        if problem is not None:
            raise StoreError(
                f"store.neo4j_uri / KGFM_NEO4J_URI = {uri!r}: not a Bolt URI ({problem}); "
                "expected e.g. bolt://127.0.0.1:7687 or neo4j://host:7687"
            ) from None
        try:
            self._driver.verify_connectivity()
        except neo4j.exceptions.AuthError:
            self._driver.close()
            raise StoreError(f"{uri}: Neo4j refused the credentials (check KGFM_NEO4J_USER / KGFM_NEO4J_PASSWORD)") from None
        except (neo4j.exceptions.DriverError, neo4j.exceptions.Neo4jError, OSError, ValueError) as exc:
            self._driver.close()
            reason = " ".join(str(exc).split())
            raise StoreError(f"{uri}: Neo4j is unreachable ({reason}); is the server up? (docker compose -f docker/compose.yaml up -d)") from None

    @property
    def server_agent(self) -> str:
        """What the server calls itself, e.g. ``Neo4j/5.26.0`` (ArcadeDB: ``... (ArcadeDB 26.10.2)``)."""
        return self._driver.get_server_info().agent

    # ---- low level -----------------------------------------------------------------
    def _session(self, read: bool = False):
        mode = self._neo4j.READ_ACCESS if read else self._neo4j.WRITE_ACCESS
        return self._driver.session(database=self.database, default_access_mode=mode)

    def _write(self, query: str, **params: Any) -> list[dict[str, Any]]:
        def work(tx):
            return [record.data() for record in tx.run(query, params)]

        try:
            with self._session() as session:
                return session.execute_write(work)
        except self._neo4j.exceptions.Neo4jError as exc:
            raise StoreError(f"Neo4j: {exc.message or exc}") from None

    def _read(self, query: str, **params: Any) -> list[dict[str, Any]]:
        def work(tx):
            return [record.data() for record in tx.run(query, params)]

        try:
            with self._session(read=True) as session:
                return session.execute_read(work)
        except self._neo4j.exceptions.Neo4jError as exc:
            raise StoreError(f"Neo4j: {exc.message or exc}") from None

    def _batched(self, query: str, rows: Sequence[dict[str, Any]]) -> None:
        for start in range(0, len(rows), self.batch_size):
            self._write(query, rows=list(rows[start : start + self.batch_size]))

    # ---- writing -------------------------------------------------------------------
    def ensure_schema(self, rel_types: Iterable[tuple[str, str]] = ()) -> None:
        # Neo4j creates relationship types on first use; only constraints/indexes are DDL.
        if not getattr(self, "_schema_done", False):
            for statement in cy.CONSTRAINTS:
                self._write(statement)
            self._schema_done = True

    def clear(self) -> None:
        while self._write(cy.DELETE_BATCH, limit=self.batch_size)[0]["deleted"]:  # constraints stay
            pass

    def insert_entities(self, rows: Sequence[EntityRow], first_idx: int) -> int:
        payload = entity_payload(rows, first_idx)
        self._batched(cy.MERGE_ENTITIES if self.merge else cy.CREATE_ENTITIES, payload)
        self._label_types(rows)
        return len(payload)

    def _label_types(self, rows: Sequence[EntityRow]) -> None:
        by_label: dict[str, list[str]] = {}
        for r in rows:
            for t in r.types:
                by_label.setdefault(base_name(t), []).append(r.id)
        for label, ids in by_label.items():
            for start in range(0, len(ids), self.batch_size):
                self._write(cy.add_type_labels(label), ids=ids[start : start + self.batch_size])

    def update_entities(self, rows: Sequence[EntityRow]) -> int:
        payload = update_payload(rows)
        self._batched(cy.UPDATE_ENTITIES, payload)
        self._label_types(rows)
        return len(payload)

    def insert_triples(self, rel_type: str, rows: Sequence[TripleRow]) -> int:
        written = 0
        by_predicate: dict[str, list[TripleRow]] = {}
        for r in rows:
            by_predicate.setdefault(r.predicate, []).append(r)
        for predicate, group in by_predicate.items():
            written += self.insert_triple_columns(
                rel_type, predicate, [r.head_id for r in group], [r.tail_id for r in group], [r.graph for r in group]
            )
        return written

    def insert_triple_columns(self, rel_type: str, predicate: str, heads: list[str], tails: list[str], graphs: list[str]) -> int:
        """One ``UNWIND`` transaction per ``batch_size`` ``[head, tail, graph]`` rows; the predicate
        (one per type) goes once per batch."""
        query = cy.merge_triples(rel_type) if self.merge else cy.create_triples(rel_type)
        rows = [[h, t, g] for h, t, g in zip(heads, tails, graphs)]
        for start in range(0, len(rows), self.batch_size):
            self._write(query, rows=rows[start : start + self.batch_size], p=predicate)
        return len(rows)

    def register_relations(self, rows: Sequence[tuple[str, int, str]]) -> None:
        self._batched(cy.MERGE_RELATIONS, [{"name": n, "idx": i, "predicate": p} for n, i, p in rows])

    # ---- reading -------------------------------------------------------------------
    def entity_index(self) -> dict[str, int]:
        return {r["id"]: int(r["idx"]) for r in self._read(cy.ENTITY_INDEX)}

    def relation_index(self) -> dict[str, tuple[int, str]]:
        return {r["name"]: (int(r["idx"]), r["predicate"]) for r in self._read(cy.RELATION_VOCAB)}

    def counts(self) -> GraphCounts:
        entities = int(self._read(cy.COUNT_ENTITIES)[0]["n"])
        per_rel = {name: int(self._read(cy.count_rel(name))[0]["n"]) for name in self.relation_index()}
        return GraphCounts(entities, len(per_rel), sum(per_rel.values()), per_rel)

    def triple_keys(self) -> Iterator[tuple[str, np.ndarray, np.ndarray, list[str] | None]]:
        for name in self.relation_index():
            rows = self._read(cy.rel_keys(name))
            graphs = [r["graph"] or "" for r in rows]
            yield (name, np.fromiter((r["head"] for r in rows), dtype=np.int64, count=len(rows)),
                   np.fromiter((r["tail"] for r in rows), dtype=np.int64, count=len(rows)),
                   graphs if any(graphs) else None)

    def iter_entity_statements(self, batch: int = 50_000) -> Iterator[list[EntityInfo]]:
        rows = [EntityInfo(r["id"], r["name"], r["description"], props=json.loads(r["props"]) if r["props"] else {})
                for r in self._read(cy.ENTITY_STATEMENTS)]
        for start in range(0, len(rows), batch):
            yield rows[start : start + batch]

    def iter_relationships(self, batch: int = 100_000) -> Iterator[list[tuple[str, str, str, str]]]:
        for name in self.relation_index():
            rows = [(r["head"], r["predicate"], r["tail"], r["graph"] or "") for r in self._read(cy.rel_statements(name))]
            for start in range(0, len(rows), batch):
                yield rows[start : start + batch]

    def export_tensors(self, with_text: bool = False) -> GraphTensors:
        vocab = self._read(cy.ENTITY_VOCAB_TEXT if with_text else cy.ENTITY_VOCAB)
        if [r["idx"] for r in vocab] != list(range(len(vocab))):
            raise StoreError(f"{self.uri}: entity idx values are not dense 0..N-1; the graph is corrupt")
        relations = sorted(((n, i, p) for n, (i, p) in self.relation_index().items()), key=lambda r: r[1])
        heads, rels, tails = [], [], []
        for name, idx, _pred in relations:  # a relationship-type scan each: cheap in Neo4j
            rows = self._read(cy.rel_pairs(name))
            heads.append(np.fromiter((r["head"] for r in rows), dtype=np.int64, count=len(rows)))
            tails.append(np.fromiter((r["tail"] for r in rows), dtype=np.int64, count=len(rows)))
            rels.append(np.full(len(rows), idx, dtype=np.int64))
        cat = lambda parts: np.concatenate(parts) if parts else np.zeros(0, np.int64)  # noqa: E731
        columns = ("id", "name", "description") if with_text else ("id", "name")
        return assemble_tensors({c: [r[c] for r in vocab] for c in columns}, relations, cat(heads), cat(rels), cat(tails))

    def get_entity(self, entity_id: str) -> dict[str, Any] | None:
        rows = self._read(cy.GET_ENTITY, id=entity_id)
        if not rows:
            return None
        return entity_from_row(rows[0])

    def neighbors(self, entity_id: str, hops: int = 1, limit: int = 1000) -> list[Neighbor]:
        rows = self._read(cy.neighbors(hops), id=entity_id, limit=int(limit))
        return [Neighbor(r["id"], r["name"], int(r["hops"])) for r in rows]

    def paths(self, source_id: str, target_id: str, max_hops: int = 3, limit: int = 10) -> list[PathResult]:
        rows = self._read(cy.paths(max_hops), source=source_id, target=target_id, limit=int(limit))
        out = [
            PathResult(
                tuple(r["ids"]),
                tuple(r["names"]),
                tuple(r["types"]),
                tuple(1 if r["starts"][i] == r["ids"][i] else -1 for i in range(len(r["types"]))),
            )
            for r in rows
        ]
        out.sort(key=lambda p: (len(p), p.rels, p.nodes))
        return out

    def cypher(self, query: str, params: dict[str, Any] | None = None, write: bool = False) -> list[dict[str, Any]]:
        """User query; without ``write`` it runs in a READ transaction, which Neo4j refuses to write in."""
        def work(tx):
            return [record.data() for record in tx.run(query, params or {})]

        try:
            with self._session(read=not write) as session:
                return session.execute_write(work) if write else session.execute_read(work)
        except self._neo4j.exceptions.Neo4jError as exc:
            raise StoreError(f"Neo4j: {exc.message or exc}") from None

    def close(self) -> None:
        self._driver.close()
