"""Filling a store from source files: ``kgfm build-graph``.

Records stream from :mod:`kgfm.sources` and are written in bounded batches. For each batch
the loader

1. checks rejects (``on_error="fail"``: stop before writing anything of this batch;
   ``"skip"``: write the good rows, append the rejects with reasons to the rejects file);
2. names new relations in first-seen order (:func:`kgfm.store.names.rel_type_name`) and
   registers them, so the relation vocabulary never depends on hashing;
3. inserts entities not stored yet with the next dense ``idx`` values (first-seen order), and
   updates the attributes of ones that exist;
4. drops triples already stored, checked against :class:`~kgfm.store.triple_keys.TripleKeys`
   (sorted int64 keys per relation and graph: 8 bytes a triple, not a Python tuple), and queues
   the rest per relationship type as int32 ``(head, tail, graph)`` idx columns (12 bytes a
   triple; strings are looked up only when a queue is written, repeats dropped then).

Queues are written at the end, one COPY per relationship type (or earlier: a type once it holds
``group_rows`` rows, all once ``max_pending`` rows wait). This is the design choice that bounds
memory: LadybugDB's COPY into a relationship table that already holds checkpointed rows costs
memory growing with the table (measured: +900 MB for an 84k-row COPY into a 170k-row table),
while one COPY into an empty table does not; the queued ints cost far less than that.

Every write is one transaction over whole batches and keyed by stored ids, so running the same
input again, or again after an interrupt, ends with exactly the same store: no duplicates, nothing lost.
"""

from __future__ import annotations

import contextlib
import gc
from dataclasses import replace
from itertools import chain, filterfalse
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np

from kgfm.sources import EntityInfo, Reject, Triple
from kgfm.store.base import GraphStore, StoreError
from kgfm.store.load_report import LoadAborted, LoadReport
from kgfm.store.names import rel_type_name
from kgfm.store.triple_keys import TripleKeys, split_by_graph, unique_rows

ProgressHook = Callable[[str, int], None]
Row = tuple  # (head, relation, tail, line) from kgfm.sources.read_delimited_batches


@contextlib.contextmanager
def young_gc_only() -> Iterator[None]:
    """Pause Python's automatic garbage collection while loading; the loader collects the young
    generations every 8 batches itself (:meth:`GraphLoader._batch_done`).

    A load keeps a few huge long-lived containers (the id -> idx dict: 1.4M entries at 10M
    triples) and allocates millions of short-lived tuples per batch, so the automatic full
    collections re-traverse the whole vocabulary ever more often: 15 % of a 3M-triple load, and
    growing with size. Young collections still free each batch's cycles, so memory stays bounded.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class GraphLoader:
    """Stateful writer over one store; holds the store's vocabularies and triple keys.

    Args:
        store: Target store (schema is created on demand).
        on_error: ``"fail"`` or ``"skip"``.
        rejects_path: Where skipped lines go (TSV: source, line, reason, text).
        batch_size: Records per write batch.
        progress: Called as ``progress(file, records_so_far)`` after each batch.
        group_rows: Queued triples of one type that trigger its COPY (default: at the end only).
        max_pending: Queued triples in all that trigger writing every queue (30M: 360 MB of int32).
        entity_rows: New entities queued before they are COPYed (all are, before any triple).
        checkpoint_rows: Written triples between two checkpoints (between COPYs into different
            tables, so no table is COPYed into after its rows were checkpointed; bounds the
            memory a checkpoint needs, which grows with what was written since the last one).
    """

    def __init__(
        self,
        store: GraphStore,
        on_error: str = "fail",
        rejects_path: Path | None = None,
        batch_size: int = 200_000,
        progress: ProgressHook | None = None,
        group_rows: int = 1 << 62,
        max_pending: int = 30_000_000,
        checkpoint_rows: int = 1_000_000,
        entity_rows: int = 1 << 18,
    ) -> None:
        if on_error not in ("fail", "skip"):
            raise StoreError(f"on_error: expected 'fail' or 'skip', got {on_error!r}")
        self.store = store
        self.on_error = on_error
        self.rejects_path = Path(rejects_path) if rejects_path else None
        self.batch_size = batch_size
        self.progress = progress
        self.group_rows = group_rows
        self.max_pending = max_pending
        self.checkpoint_rows = checkpoint_rows
        # per relationship type: queued (head idx, tail idx, graph idx) arrays, not strings
        self._queues: dict[str, list[np.ndarray]] = {}
        self._queue_rows: dict[str, int] = {}
        self._queued = 0
        self._since_checkpoint = 0
        self.entity_rows = entity_rows
        self._pending: dict[str, EntityInfo | None] = {}  # new entities not COPYed yet, idx order
        self._id_named: set[str] = set()  # pending ids from sources whose ids are names
        self.report = LoadReport()
        store.ensure_schema()
        self.entities = store.entity_index()
        self.id_of: list[str] = [""] * len(self.entities)  # idx -> id (the dict's own strings)
        for eid, idx in self.entities.items():
            self.id_of[idx] = eid
        stored_relations = store.relation_index()
        self.relations = {name: idx for name, (idx, _p) in stored_relations.items()}
        self.pred_to_type = {pred: name for name, (_i, pred) in stored_relations.items()}
        self.type_to_pred = {name: pred for pred, name in self.pred_to_type.items()}
        self.taken = {name.casefold(): pred for pred, name in self.pred_to_type.items()}
        store.ensure_schema((name, pred) for pred, name in self.pred_to_type.items())
        self.graphs: dict[str, int] = {"": 0}
        self.graph_names: list[str] = [""]
        self.keys = TripleKeys()
        if self.entities:
            for rel_type, heads, tails, graphs in store.triple_keys():
                for graph, (h, t) in split_by_graph(heads, tails, graphs).items():
                    self.keys.add(self.relations[rel_type], self._graph(graph), h, t)
        self._rejects_handle = None
        self._ids_are_names = False
        self._batches = 0

    # ---- public ----------------------------------------------------------------------
    def load(self, records: Iterable[Triple | EntityInfo | Reject], source: str, ids_are_names: bool = False) -> None:
        """Stream one source's records into the store.

        Args:
            records: The source's records.
            source: Its path, for the report.
            ids_are_names: New entities without a name get their id as name (pipe KBs such as
                MetaQA, whose ids are the names).
        """
        self._ids_are_names = ids_are_names
        self.report.files.append(source)
        rows: list[Triple] = []
        infos: dict[str, EntityInfo] = {}
        rejects: list[Reject] = []
        pending = 0
        for record in records:
            pending += 1
            if isinstance(record, Triple):
                rows.append(record)
            elif isinstance(record, EntityInfo):
                _merge_info(infos, record)
            else:
                self._reject(record, rejects)
            if pending >= self.batch_size:
                self._batch_done(source, pending, rows, infos, rejects)
                rows, infos, rejects, pending = [], {}, [], 0
        self._batch_done(source, pending, rows, infos, rejects)

    def load_rows(self, batches: Iterable[tuple[list[Row], list[Reject]]], source: str, ids_are_names: bool = False) -> None:
        """:meth:`load` for the delimited readers' plain-tuple batches (no per-line objects)."""
        self._ids_are_names = ids_are_names
        self.report.files.append(source)
        for rows, rejects in batches:
            kept: list[Reject] = []
            for reject in rejects:
                self._reject(reject, kept)
            self._batch_done(source, len(rows) + len(rejects), rows, {}, kept)

    def load_names(self, records: Iterable[EntityInfo | Reject], source: str) -> None:
        """Attach names/descriptions to entities that exist; unknown ids are counted, not created."""
        self._flush_entities()
        self.report.files.append(source)
        rows: list[EntityInfo] = []
        for record in records:
            if isinstance(record, Reject):
                kept: list[Reject] = []
                self._reject(record, kept)
                self._write_rejects(kept)
                continue
            if record.id in self.entities:
                rows.append(record)
            else:
                self.report.names_unmatched += 1
        self.store.update_entities(rows)
        self.report.names_matched += len(rows)
        self.report.entities_updated += len(rows)

    def finish(self, partial: bool = False) -> LoadReport:
        """Write every queued entity and triple (all from complete batches), checkpoint, close the rejects file."""
        self._flush_entities()
        self._write_queues(force=True)
        self.store.checkpoint()
        if self._rejects_handle is not None:
            self._rejects_handle.close()
            self._rejects_handle = None
        self.report.entities_total = len(self.entities)
        self.report.relations_total = len(self.relations)
        self.report.triples_total = len(self.keys)
        return self.report

    # ---- internals -------------------------------------------------------------------
    def _reject(self, record: Reject, rejects: list[Reject]) -> None:
        rejects.append(record)
        if self.on_error == "fail":
            self.report.rejected += 1
            raise LoadAborted(record, self.finish(partial=True))

    def _batch_done(self, source: str, n: int, rows: list, infos: dict[str, EntityInfo], rejects: list[Reject]) -> None:
        if rows and isinstance(rows[0], Triple):
            columns = ([t.head for t in rows], [t.relation for t in rows], [t.tail for t in rows], [t.graph for t in rows])
        else:  # (head, relation, tail, line) tuples of the delimited readers: default graph
            heads, rels, tails, _lines = zip(*rows) if rows else ((), (), (), ())
            columns = (heads, rels, tails, None)
        self._flush(columns, infos, rejects)
        self._batches += 1
        if not gc.isenabled() and self._batches % 8 == 0:  # under young_gc_only: recent garbage cycles only
            gc.collect(1)
        self.report.records_read += n
        if self.progress:
            self.progress(source, self.report.records_read)

    def _graph(self, name: str) -> int:
        found = self.graphs.get(name)
        if found is None:
            found = self.graphs[name] = len(self.graphs)
            self.graph_names.append(name)
        return found

    def _write_rejects(self, rejects: Sequence[Reject]) -> None:
        if not rejects:
            return
        self.report.warnings.extend(r.message() for r in rejects if r.reason.startswith("cannot read further"))
        self.report.rejected += len(rejects)
        if self.rejects_path is None:
            return
        if self._rejects_handle is None:
            self.rejects_path.parent.mkdir(parents=True, exist_ok=True)
            self._rejects_handle = open(self.rejects_path, "a", encoding="utf-8")
            self.report.rejects_path = str(self.rejects_path)
        for r in rejects:
            text = r.text.replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
            line = f"{r.line}:{r.column}" if r.column else str(r.line)
            self._rejects_handle.write(f"{r.source}\t{line}\t{r.reason}\t{text}\n")
        self._rejects_handle.flush()

    def _relations(self, predicates: Iterable[str]) -> None:
        """Register the predicates not known yet, in first-seen order."""
        new: list[tuple[str, int, str]] = []
        for predicate in dict.fromkeys(predicates):  # C speed; first-seen order
            if predicate not in self.pred_to_type:
                name = rel_type_name(predicate, self.taken)
                self.pred_to_type[predicate] = name
                self.type_to_pred[name] = predicate
                self.relations[name] = len(self.relations)
                new.append((name, self.relations[name], predicate))
        if new:
            self.store.ensure_schema((name, pred) for name, _i, pred in new)
            self.store.register_relations(new)
            self.report.relations_new += len(new)

    def _entities(self, heads: list[str], tails: list[str], infos: dict[str, EntityInfo]) -> None:
        """Give new entities their idx now (first-seen order); queue their rows for one big COPY."""
        entities, pending = self.entities, self._pending
        seen = dict.fromkeys(chain.from_iterable(zip(heads, tails)))  # first-seen order, C speed
        seen.update(dict.fromkeys(infos))
        fresh = list(filterfalse(entities.__contains__, seen))
        first = len(entities)
        entities.update(zip(fresh, range(first, first + len(fresh))))
        self.id_of.extend(fresh)
        self.report.entities_new += len(fresh)
        pending.update(dict.fromkeys(fresh))
        if self._ids_are_names:
            self._id_named.update(fresh)
        updates = []
        for eid, info in infos.items():
            if eid in pending:
                old = pending[eid]
                pending[eid] = info if old is None else _merged(old, info)
            else:
                updates.append(info)
        if updates:
            self.store.update_entities(updates)
            self.report.entities_updated += len(updates)
        if len(pending) >= self.entity_rows:
            self._flush_entities()

    def _flush_entities(self) -> None:
        """COPY the queued new entities (consecutive idx) in one go. Few large COPYs matter:
        LadybugDB gives every COPY into a node table its own node group (~20 MB held until the
        checkpoint however few rows it has)."""
        if not self._pending:
            return
        named = self._id_named
        rows = [
            info if info is not None and (info.name is not None or eid not in named)
            else EntityInfo(eid, name=eid) if info is None and eid in named
            else EntityInfo(eid) if info is None
            else replace(info, name=eid)
            for eid, info in self._pending.items()
        ]
        first = self.entities[rows[0].id]
        self.store.insert_entities(rows, first)
        self._pending = {}
        self._id_named = set()

    def _flush(self, columns: tuple, infos: dict[str, EntityInfo], rejects: list[Reject]) -> None:
        self._write_rejects(rejects)
        heads_s, rels_s, tails_s, graphs_s = columns
        n = len(heads_s)
        self.report.triples_read += n
        if not n and not infos:
            return
        self._relations(rels_s)
        self._entities(heads_s, tails_s, infos)
        if not n:
            return
        get, rel_idx = self.entities.__getitem__, self.relations
        pred_idx = {pred: rel_idx[name] for pred, name in self.pred_to_type.items()}
        heads = np.fromiter(map(get, heads_s), dtype=np.int64, count=n)
        tails = np.fromiter(map(get, tails_s), dtype=np.int64, count=n)
        rels = np.fromiter(map(pred_idx.__getitem__, rels_s), dtype=np.int64, count=n)
        if graphs_s is None or not any(graphs_s):
            graphs = np.zeros(n, dtype=np.int64)
        else:
            graphs = np.fromiter(map(self._graph, graphs_s), dtype=np.int64, count=n)
        mask = self.keys.unseen(rels, graphs, heads, tails)
        self.report.triples_existing += n - int(mask.sum())
        rels, heads, tails, graphs = rels[mask], heads[mask], tails[mask], graphs[mask]
        order = np.argsort(rels, kind="stable")
        rels, heads, tails, graphs = rels[order], heads[order], tails[order], graphs[order]
        starts = np.flatnonzero(np.r_[True, rels[1:] != rels[:-1]]) if len(rels) else np.zeros(0, int)
        names = {idx: name for name, idx in rel_idx.items()}
        for start, end in zip(starts.tolist(), np.r_[starts[1:], len(rels)].tolist()):
            name = names[int(rels[start])]
            self._queues.setdefault(name, []).append(
                np.stack([heads[start:end], tails[start:end], graphs[start:end]]).astype(np.int32))
            self._queue_rows[name] = self._queue_rows.get(name, 0) + end - start
            self._queued += end - start
        self._write_queues(force=self._queued >= self.max_pending)

    def _write_queues(self, force: bool) -> None:
        for name in list(self._queues):
            if force or self._queue_rows[name] >= self.group_rows:
                self._flush_entities()
                queued = self._queue_rows.pop(name)
                cols = unique_rows(np.concatenate(self._queues.pop(name), axis=1))
                self._queued -= queued
                self.report.triples_existing += queued - cols.shape[1]
                rel = self.relations[name]
                for g in np.unique(cols[2]).tolist():
                    keep = cols[2] == g
                    self.keys.add(rel, g, cols[0][keep], cols[1][keep])
                ids = self.id_of
                heads = list(map(ids.__getitem__, cols[0].tolist()))
                tails = list(map(ids.__getitem__, cols[1].tolist()))
                graphs = list(map(self.graph_names.__getitem__, cols[2].tolist()))
                written = self.store.insert_triple_columns(name, self.type_to_pred[name], heads, tails, graphs)
                self.report.triples_new += written
                self._since_checkpoint += written
                if self._since_checkpoint >= self.checkpoint_rows:
                    self.store.checkpoint()
                    self._since_checkpoint = 0


def _merge_info(into: dict[str, EntityInfo], info: EntityInfo) -> None:
    old = into.get(info.id)
    into[info.id] = info if old is None else _merged(old, info)


def _merged(old: EntityInfo, info: EntityInfo) -> EntityInfo:
    """``old`` with ``info``'s attributes added (``old``'s name/description win)."""
    props = {k: list(v) for k, v in old.props.items()}
    for key, values in info.props.items():
        kept = props.setdefault(key, [])
        kept.extend(v for v in values if v not in kept)
    return EntityInfo(
        id=info.id,
        name=old.name if old.name is not None else info.name,
        description=old.description if old.description is not None else info.description,
        types=tuple(dict.fromkeys(old.types + info.types)),
        props=props,
        names={**info.names, **old.names},
        descriptions={**info.descriptions, **old.descriptions},
    )
