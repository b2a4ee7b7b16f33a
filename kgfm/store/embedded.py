"""The embedded store: LadybugDB on disk, in-process Cypher, no server.

Bulk writes go through ``COPY ... FROM <DataFrame>`` (LadybugDB's fastest path); the loader
guarantees that only rows not yet stored reach :meth:`insert_entities` and
:meth:`insert_triples`, because LadybugDB's COPY must never see a duplicate primary key.
Each COPY is one transaction, so an interrupted load leaves whole batches or nothing.
"""

from __future__ import annotations

import gc
import json
import re
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import numpy as np
import pyarrow.compute as pc

from kgfm.sources.records import EntityInfo
from kgfm.store import embedded_cypher as cy
from kgfm.store.base import (
    GraphCounts,
    GraphStore,
    GraphTensors,
    Neighbor,
    PathResult,
    StoreError,
    TripleRow,
    assemble_tensors,
    entity_from_row,
    props_json,
    update_payload,
)
from kgfm.store.locks import writer_elsewhere
from kgfm.store.readonly import return_columns

_UPDATE_BATCH = 10_000




def _frame(columns: dict[str, Any]) -> Any:
    """A pandas DataFrame for LadybugDB's COPY (pandas imported here: only writes need it, and it
    costs ~0.45 s of every read-only start: `kgfm qa`, `kgfm serve`)."""
    import pandas as pd

    return pd.DataFrame(columns)


def _ints(column: Any) -> np.ndarray:
    """An Arrow integer column (``Array`` or ``ChunkedArray``, no nulls) as an int64 array.

    Read from the chunks' value buffers: ``ChunkedArray.to_numpy`` imports pandas (~0.5 s of
    every read-only start: ``kgfm qa``, ``kgfm serve``), which nothing else here needs.
    """
    import pyarrow as pa

    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    parts = []
    for chunk in chunks:
        if not pa.types.is_integer(chunk.type) or chunk.null_count:
            raise StoreError(f"expected an integer column without nulls, got {chunk.type} with {chunk.null_count} nulls")
        dtype = np.dtype(f"{'int' if pa.types.is_signed_integer(chunk.type) else 'uint'}{chunk.type.bit_width}")
        data = chunk.buffers()[1]
        parts.append(np.frombuffer(data, dtype=dtype, count=len(chunk), offset=chunk.offset * dtype.itemsize)
                     if data is not None else np.zeros(0, dtype))
    return np.concatenate(parts).astype(np.int64, copy=False) if parts else np.zeros(0, np.int64)


_MISSING_TABLE = re.compile(r"Table (\S+) does not exist")
_LOCK_HOLDER = re.compile(r"Could not set lock on file.*?Lock is held by PID (\d+)", re.S)


class EmbeddedStore(GraphStore):
    """LadybugDB-backed :class:`GraphStore`.

    Args:
        path: Database file (created with its parent folder unless ``read_only``).
        read_only: Open the database read-only; LadybugDB then refuses every write itself.
        buffer_pool_mb: Buffer pool size.
        bulk: Bulk-load mode: no automatic checkpoint after each write transaction (each
            COPY otherwise pays one, ~10x the cost of small COPYs); :meth:`checkpoint` is
            called by the loader at the end. Committed transactions stay durable in the WAL.
    """

    backend = "embedded"

    def __init__(
        self, path: Path | str, read_only: bool = False, buffer_pool_mb: int = 1024, bulk: bool = False
    ) -> None:

        self.path = Path(path)
        self.read_only = read_only
        self.bulk = bulk
        self._buffer_pool_mb = buffer_pool_mb
        if read_only and not self.path.exists():
            raise StoreError(f"{self.path}: no graph here yet; run 'kgfm build-graph' first")
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._open()
        except RuntimeError as exc:
            if read_only and "recovery is pending" in str(exc):
                raise StoreError(
                    f"{self.path}: an interrupted write or checkpoint left recovery pending; recover it with "
                    f"`kgfm cypher --write 'RETURN 1' --path {self.path}` (opens it read-write once), then retry"
                ) from None
            held = _LOCK_HOLDER.search(str(exc))
            if held is not None:
                raise StoreError(writer_elsewhere(self.path, held.group(1))) from None
            raise StoreError(f"{self.path}: cannot open the LadybugDB database ({cy.one_line(str(exc))})") from None
        self._has_schema = False
        self._known_rel_tables: set[str] = set()

    def _open(self) -> None:
        import ladybug

        self._db = ladybug.Database(
            str(self.path),
            read_only=self.read_only,
            buffer_pool_size=self._buffer_pool_mb * 1024 * 1024,
            auto_checkpoint=not self.bulk,
        )
        self._conn = ladybug.Connection(self._db)

    # ---- low level -----------------------------------------------------------------
    def _run(self, query: str, params: dict[str, Any] | None = None):
        try:
            return self._conn.execute(query, params or {})
        except RuntimeError as exc:
            raise StoreError(f"LadybugDB: {cy.one_line(str(exc))}".strip()) from None

    def _rows(self, query: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        return list(self._run(query, params).rows_as_dict().get_all())

    def _arrow(self, query: str, params: dict[str, Any] | None = None):
        return self._run(query, params).get_as_arrow()

    def _schema_exists(self) -> bool:
        if not self._has_schema:
            tables = {row["name"].casefold() for row in self._rows(cy.TABLES)}
            self._has_schema = {"entity", "relationtype"} <= tables
            if self._has_schema:
                columns = {row["name"] for row in self._rows(cy.ENTITY_COLUMNS)}
                if "names" not in columns:
                    raise StoreError(
                        f"{self.path}: this store was built by an older kgfm (no names/graph columns); "
                        "rebuild it: kgfm build-graph SOURCES --path NEW_PATH"
                    )
        return self._has_schema

    # ---- writing -------------------------------------------------------------------
    def ensure_schema(self, rel_types: Iterable[tuple[str, str]] = ()) -> None:
        if not self._schema_exists():
            self._run(cy.CREATE_ENTITY_TABLE)
            self._run(cy.CREATE_RELATION_TABLE)
            self._has_schema = True
        for rel_type, _predicate in rel_types:
            if rel_type not in self._known_rel_tables:
                self._run(cy.create_rel_table(rel_type))
                self._known_rel_tables.add(rel_type)

    def insert_entities(self, rows: Sequence[EntityInfo], first_idx: int) -> int:
        if not rows:
            return 0
        frame = _frame(
            {
                "id": [r.id for r in rows],
                "idx": np.arange(first_idx, first_idx + len(rows), dtype=np.int64),
                "name": [r.name for r in rows],
                "description": [r.description for r in rows],
                "names": [props_json(r.names) for r in rows],
                "descriptions": [props_json(r.descriptions) for r in rows],
                "types": [list(r.types) for r in rows],
                "props": [props_json(r.props) for r in rows],
            }
        )
        self._copy("Entity", frame)
        return len(rows)

    def update_entities(self, rows: Sequence[EntityInfo]) -> int:
        payload = update_payload(rows)
        for start in range(0, len(payload), _UPDATE_BATCH):
            self._run(cy.UPDATE_ENTITIES, {"rows": payload[start : start + _UPDATE_BATCH]})
        return len(payload)

    def insert_triples(self, rel_type: str, rows: Sequence[TripleRow]) -> int:
        if not rows:
            return 0
        frame = _frame(
            {
                "from": [r.head_id for r in rows],
                "to": [r.tail_id for r in rows],
                "predicate": [r.predicate for r in rows],
                "graph": [r.graph for r in rows],
            }
        )
        self._copy(rel_type, frame)
        return len(rows)

    def insert_triple_columns(self, rel_type: str, predicate: str, heads: list[str], tails: list[str], graphs: list[str]) -> int:
        if heads:
            frame = _frame({"from": heads, "to": tails, "predicate": [predicate] * len(heads), "graph": graphs})
            self._copy(rel_type, frame)
        return len(heads)

    def _copy(self, table: str, frame: Any) -> None:
        # LadybugDB resolves the DataFrame by its Python variable name in the calling frame.
        kgfm_copy_frame = frame  # noqa: F841
        self._run(cy.copy_from(table, "kgfm_copy_frame"))

    def register_relations(self, rows: Sequence[tuple[str, int, str]]) -> None:
        if rows:
            self._run(cy.INSERT_RELATIONS, {"rows": [{"name": n, "idx": i, "predicate": p} for n, i, p in rows]})

    def checkpoint(self) -> None:
        """Checkpoint; in bulk mode also close and reopen the database: LadybugDB keeps ~200 bytes
        of memory per written relationship row until the database is closed, checkpoint or not
        (measured), so a bulk load that checkpoints every ~1M rows stays bounded."""
        self._run(cy.CHECKPOINT)
        if self.bulk:
            self.close()
            gc.collect()  # results still referencing the old database must let it go before the reopen
            try:
                self._open()
            except RuntimeError as exc:
                raise StoreError(f"{self.path}: cannot reopen the LadybugDB database ({exc})") from None

    # ---- reading -------------------------------------------------------------------
    def entity_index(self) -> dict[str, int]:
        if not self._schema_exists():
            return {}
        table = self._arrow(cy.ENTITY_INDEX)
        return dict(zip(table.column("id").to_pylist(), table.column("idx").to_pylist()))

    def relation_index(self) -> dict[str, tuple[int, str]]:
        if not self._schema_exists():
            return {}
        rows = self._rows(cy.RELATION_VOCAB)
        self._known_rel_tables.update(r["name"] for r in rows)
        return {r["name"]: (int(r["idx"]), r["predicate"]) for r in rows}

    def counts(self) -> GraphCounts:
        if not self._schema_exists():
            return GraphCounts(0, 0, 0, {})
        entities = int(self._rows(cy.COUNT_ENTITIES)[0]["n"])
        per_rel = {name: int(self._rows(cy.count_rel(name))[0]["n"]) for name in self.relation_index()}
        return GraphCounts(entities, len(per_rel), sum(per_rel.values()), per_rel)

    def triple_keys(self) -> Iterator[tuple[str, np.ndarray, np.ndarray, list[str] | None]]:
        for name in self.relation_index():
            table = self._arrow(cy.rel_keys(name))
            heads, tails = (_ints(table.column(c)) for c in ("head", "tail"))
            graph = table.column("graph")
            named = pc.any(pc.not_equal(pc.fill_null(graph, ""), "")).as_py()
            yield name, heads, tails, (graph.to_pylist() if named else None)

    def iter_entity_statements(self, batch: int = 50_000) -> Iterator[list[EntityInfo]]:
        if not self._schema_exists():
            return
        result = self._run(cy.ENTITY_STATEMENTS)
        rows: list[EntityInfo] = []
        while result.has_next():
            eid, props, name, description = result.get_next()
            rows.append(EntityInfo(eid, name, description, props=json.loads(props) if props else {}))
            if len(rows) >= batch:
                yield rows
                rows = []
        if rows:
            yield rows

    def iter_relationships(self, batch: int = 100_000) -> Iterator[list[tuple[str, str, str, str]]]:
        if not self._schema_exists():
            return
        for name in self.relation_index():
            table = self._arrow(cy.rel_statements(name))
            cols = [table.column(c).to_pylist() for c in ("head", "predicate", "tail", "graph")]
            for start in range(0, table.num_rows, batch):
                yield [(h, p, t, g or "") for h, p, t, g in zip(*(c[start : start + batch] for c in cols))]

    def export_tensors(self, with_text: bool = False) -> GraphTensors:
        if not self._schema_exists():
            raise StoreError(f"{self.path}: the graph is empty; run 'kgfm build-graph' first")
        vocab = self._arrow(cy.ENTITY_VOCAB_TEXT if with_text else cy.ENTITY_VOCAB)
        idx = _ints(vocab.column("idx"))
        if len(idx) and not np.array_equal(idx, np.arange(len(idx))):
            raise StoreError(f"{self.path}: entity idx values are not dense 0..N-1; the store is corrupt")
        relations = sorted(((n, i, p) for n, (i, p) in self.relation_index().items()), key=lambda r: r[1])
        text = {c: vocab.column(c).to_pylist() for c in vocab.column_names if c != "idx"}
        if not relations:
            empty = np.zeros(0, np.int64)
            return assemble_tensors(text, relations, empty, empty, empty)
        edges = self._arrow(cy.ALL_EDGES)
        offsets = self._arrow(cy.ENTITY_OFFSETS)
        offset = _ints(offsets.column("offset"))
        idx_of = np.full(int(offset.max()) + 1 if len(offset) else 0, -1, dtype=np.int64)
        idx_of[offset] = _ints(offsets.column("idx"))
        labels = edges.column("rel").combine_chunks().dictionary_encode()
        by_name = {name: i for name, i, _ in relations}
        unknown = [name for name in labels.dictionary.to_pylist() if name not in by_name]
        if unknown:
            raise StoreError(f"{self.path}: relationship type {unknown[0]!r} has no RelationType entry; the store is corrupt")
        rel_of = np.asarray([by_name[name] for name in labels.dictionary.to_pylist()], dtype=np.int64)
        rel = rel_of[_ints(labels.indices)] if len(rel_of) else np.zeros(0, np.int64)
        head, tail = (idx_of[_ints(edges.column(c))] for c in ("head", "tail"))
        del edges, labels  # the Arrow result (the labels' strings) before the sort's copies: ~0.4 GB at 10M
        return assemble_tensors(text, relations, head, rel, tail)

    def get_entity(self, entity_id: str) -> dict[str, Any] | None:
        if not self._schema_exists():
            return None
        rows = self._rows(cy.GET_ENTITY, {"id": entity_id})
        if not rows:
            return None
        return entity_from_row(rows[0])

    def neighbors(self, entity_id: str, hops: int = 1, limit: int = 1000) -> list[Neighbor]:
        rows = self._rows(cy.neighbors(hops), {"id": entity_id, "limit": int(limit)})
        return [Neighbor(r["id"], r["name"], int(r["hops"])) for r in rows]

    def paths(self, source_id: str, target_id: str, max_hops: int = 3, limit: int = 10) -> list[PathResult]:
        rows = self._rows(cy.paths(max_hops), {"source": source_id, "target": target_id, "limit": int(limit)})
        out = []
        for r in rows:
            node_keys = [(d["table"], d["offset"]) for d in r["node_ids"]]
            src_keys = [(d["table"], d["offset"]) for d in r["srcs"]]
            directions = tuple(1 if src_keys[i] == node_keys[i] else -1 for i in range(len(src_keys)))
            out.append(PathResult(tuple(r["ids"]), tuple(r["names"]), tuple(r["types"]), directions))
        out.sort(key=lambda p: (len(p), p.rels, p.nodes))
        return out

    def cypher(self, query: str, params: dict[str, Any] | None = None, write: bool = False) -> list[dict[str, Any]]:
        if write and self.read_only:
            raise StoreError("the store was opened read-only; pass --write to allow writes")
        try:
            if write or self.read_only:
                return self._user_rows(query, params)
            self._run(cy.BEGIN_READ_ONLY)
            try:
                return self._user_rows(query, params)
            finally:
                self._run(cy.ROLLBACK)
        except StoreError as exc:
            missing = _MISSING_TABLE.search(str(exc))
            if missing is not None:
                as_rel = re.search(r"\[[^\]]*:[^\]]*\b" + re.escape(missing.group(1)) + r"\b", query) is not None
                raise StoreError(f"{exc} {self._schema_hint(missing.group(1), as_rel)}") from None
            hint = cy.dialect_hint(query, str(exc))
            if hint is None:
                raise
            raise StoreError(f"{exc} (the embedded store speaks LadybugDB's Cypher: {hint})") from None

    def _user_rows(self, query: str, params: dict[str, Any] | None) -> list[dict[str, Any]]:
        """Rows keyed by the column names Neo4j would give (:func:`~kgfm.store.readonly.return_columns`),
        not LadybugDB's (``COUNT_STAR()``); two columns of one name are refused, as Neo4j does, rather
        than one silently dropped."""
        result = self._run(query, params)
        names = result.get_column_names()
        given = return_columns(query)
        if given is not None and len(given) == len(names):
            names = given
        twice = [name for name in dict.fromkeys(names) if names.count(name) > 1]
        if twice:
            raise StoreError(f"two result columns are named {twice[0]!r}: give one an alias with AS "
                             "(Neo4j refuses this query too)")
        return [dict(zip(names, row)) for row in result.get_all()]

    def _schema_hint(self, name: str, as_rel: bool) -> str:
        """What a query naming an unknown relationship type or node label should have named instead."""
        rels = sorted(self.relation_index())
        shown = ", ".join(rels[:20]) + (f", ... ({len(rels)} in all)" if len(rels) > 20 else "")
        hint = f"(relationship types in this store: {shown or 'none yet'}"
        if not as_rel:
            hint += (f"; every node is an :Entity and its RDF classes are in e.types: "
                     f"{cy.TYPE_FILTER_EXAMPLE.format(name=name)} (on Neo4j also labels)")
        return hint + ")"

    def close(self) -> None:
        conn, db = getattr(self, "_conn", None), getattr(self, "_db", None)
        if conn is not None:
            conn.close()
            self._conn = None
        if db is not None:
            db.close()
            self._db = None
