"""Filling a store from source files: ``kgfm build-graph``.

Records stream from :mod:`kgfm.sources` and are written in batches. For each batch the loader

1. checks rejects (``on_error="fail"``: stop before writing anything of this batch;
   ``"skip"``: write the good rows, append the rejects with reasons to the rejects file);
2. names new relations (:func:`kgfm.store.names.rel_type_name`) and registers them;
3. inserts entities not stored yet with the next dense ``idx`` values, and updates the
   attributes (name, description, types, props) of ones that exist;
4. queues triples not stored yet (checked against what the store held at start plus what
   this run wrote), grouped by relationship type, and writes a type's queue once it holds
   ``group_rows`` rows (all queues once ``max_pending`` rows wait, and at the end). One big
   COPY per relationship type is much cheaper than many small ones, both to run and to
   checkpoint.

Every step writes whole batches in single transactions and everything is keyed by stored
ids, so running the same input again, or again after an interrupt, ends with exactly the
same counts: no duplicates, nothing lost.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

from kgfm.sources import EntityInfo, Reject, Triple
from kgfm.store.base import EntityRow, GraphStore, StoreError
from kgfm.store.names import rel_type_name

ProgressHook = Callable[[str, int], None]


class LoadAborted(StoreError):
    """``on_error="fail"`` met a bad record; nothing of its batch was written."""

    def __init__(self, reject: Reject, report: "LoadReport") -> None:
        self.reject = reject
        self.report = report
        super().__init__(
            f"{reject.message()}\n  stopped before writing this batch (--on-error fail); written so far: "
            f"{report.entities_new} entities, {report.triples_new} triples. "
            "Fix the line, or re-run with --on-error skip to load the good rows and list the rejects."
        )


@dataclass
class LoadReport:
    """What a load did; printed as the summary and saved as JSON."""

    files: list[str] = field(default_factory=list)
    records_read: int = 0
    entities_new: int = 0
    entities_updated: int = 0
    relations_new: int = 0
    triples_read: int = 0
    triples_new: int = 0
    triples_existing: int = 0
    rejected: int = 0
    rejects_path: str | None = None
    names_matched: int = 0
    names_unmatched: int = 0
    seconds: float = 0.0
    entities_total: int = 0
    relations_total: int = 0
    triples_total: int = 0

    @property
    def triples_per_second(self) -> float:
        return self.triples_read / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict:
        out = asdict(self)
        out["triples_per_second"] = round(self.triples_per_second, 1)
        return out


def _merge_info(into: dict[str, EntityInfo], info: EntityInfo) -> None:
    old = into.get(info.id)
    if old is None:
        into[info.id] = info
        return
    types = tuple(dict.fromkeys(old.types + info.types))
    into[info.id] = EntityInfo(
        id=info.id,
        name=old.name if old.name is not None else info.name,
        description=old.description if old.description is not None else info.description,
        types=types,
        props={**info.props, **old.props},
    )


class GraphLoader:
    """Stateful writer over one store; holds the store's vocabularies and triple keys.

    Args:
        store: Target store (schema is created on demand).
        on_error: ``"fail"`` or ``"skip"``.
        rejects_path: Where skipped lines go (TSV: source, line, reason, text).
        batch_size: Records per write batch.
        group_rows: Queued triples of one type that trigger its COPY.
        max_pending: Queued triples in all that trigger writing every queue.
        progress: Called as ``progress(file, records_so_far)`` after each batch.
    """

    def __init__(
        self,
        store: GraphStore,
        on_error: str = "fail",
        rejects_path: Path | None = None,
        batch_size: int = 200_000,
        progress: ProgressHook | None = None,
        group_rows: int = 100_000,
        max_pending: int = 1_000_000,
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
        self._queues: dict[str, tuple[list[str], list[str], list[str]]] = {}
        self._queued = 0
        self.report = LoadReport()
        store.ensure_schema()
        self.entities = store.entity_index()
        stored_relations = store.relation_index()
        self.relations = {name: idx for name, (idx, _p) in stored_relations.items()}
        self.pred_to_type = {pred: name for name, (_i, pred) in stored_relations.items()}
        self.taken = {name.casefold(): pred for pred, name in self.pred_to_type.items()}
        store.ensure_schema((name, pred) for pred, name in self.pred_to_type.items())
        self.known: set[tuple[int, int, int]] = set()
        if self.entities:
            graph = store.export_tensors()
            self.known = set(zip(graph.head_index.tolist(), graph.rel_type.tolist(), graph.tail_index.tolist()))
        self._rejects_handle = None
        self._ids_are_names = False

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
        triples: list[Triple] = []
        infos: dict[str, EntityInfo] = {}
        rejects: list[Reject] = []
        pending = 0
        for record in records:
            pending += 1
            if isinstance(record, Triple):
                triples.append(record)
            elif isinstance(record, EntityInfo):
                _merge_info(infos, record)
            else:
                rejects.append(record)
                if self.on_error == "fail":
                    self.report.rejected += 1
                    raise LoadAborted(record, self.finish(partial=True))
            if pending >= self.batch_size:
                self._flush(triples, infos, rejects)
                self.report.records_read += pending
                if self.progress:
                    self.progress(source, self.report.records_read)
                triples, infos, rejects, pending = [], {}, [], 0
        self._flush(triples, infos, rejects)
        self.report.records_read += pending
        if self.progress:
            self.progress(source, self.report.records_read)

    def load_names(self, records: Iterable[EntityInfo | Reject], source: str) -> None:
        """Attach names/descriptions to entities that exist; unknown ids are counted, not created."""
        self.report.files.append(source)
        rows: list[EntityRow] = []
        for record in records:
            if isinstance(record, Reject):
                if self.on_error == "fail":
                    self.report.rejected += 1
                    raise LoadAborted(record, self.finish(partial=True))
                self._write_rejects([record])
                continue
            if record.id in self.entities:
                rows.append(EntityRow(record.id, -1, record.name, record.description, record.types, record.props))
            else:
                self.report.names_unmatched += 1
        self.store.update_entities(rows)
        self.report.names_matched += len(rows)
        self.report.entities_updated += len(rows)

    def finish(self, partial: bool = False) -> LoadReport:
        """Write every queued triple (all from complete batches), checkpoint, close the rejects file."""
        self._write_queues(force=True)
        self.store.checkpoint()
        if self._rejects_handle is not None:
            self._rejects_handle.close()
            self._rejects_handle = None
        self.report.entities_total = len(self.entities)
        self.report.relations_total = len(self.relations)
        self.report.triples_total = len(self.known)
        return self.report

    # ---- internals -------------------------------------------------------------------
    def _write_rejects(self, rejects: Sequence[Reject]) -> None:
        if not rejects:
            return
        self.report.rejected += len(rejects)
        if self.rejects_path is None:
            return
        if self._rejects_handle is None:
            self.rejects_path.parent.mkdir(parents=True, exist_ok=True)
            self._rejects_handle = open(self.rejects_path, "a", encoding="utf-8")
            self.report.rejects_path = str(self.rejects_path)
        for r in rejects:
            text = r.text.replace("\t", "\\t").replace("\n", "\\n")
            self._rejects_handle.write(f"{r.source}\t{r.line}\t{r.reason}\t{text}\n")
        self._rejects_handle.flush()

    def _relation(self, predicate: str, new: list[tuple[str, int, str]]) -> str:
        name = self.pred_to_type.get(predicate)
        if name is None:
            name = rel_type_name(predicate, self.taken)
            self.pred_to_type[predicate] = name
            self.relations[name] = len(self.relations)
            new.append((name, self.relations[name], predicate))
        return name

    def _flush(self, triples: list[Triple], infos: dict[str, EntityInfo], rejects: list[Reject]) -> None:
        self._write_rejects(rejects)
        self.report.triples_read += len(triples)
        if not triples and not infos:
            return
        # 1. relations
        new_rel: list[tuple[str, int, str]] = []
        rel_of = {p: self._relation(p, new_rel) for p in {t.relation for t in triples}}
        if new_rel:
            self.store.ensure_schema((name, pred) for name, _i, pred in new_rel)
            self.store.register_relations(new_rel)
            self.report.relations_new += len(new_rel)
        # 2. entities
        entities = self.entities
        fresh: dict[str, int] = {}
        for eid in list(dict.fromkeys(eid for t in triples for eid in (t.head, t.tail))) + list(infos):
            if eid not in entities and eid not in fresh:
                fresh[eid] = len(entities) + len(fresh)
        new_rows = []
        for eid, idx in fresh.items():
            info = infos.get(eid)
            if info is None:
                new_rows.append(EntityRow(eid, idx, eid if self._ids_are_names else None))
            else:
                new_rows.append(EntityRow(eid, idx, info.name, info.description, info.types, info.props))
        updates = [
            EntityRow(i.id, -1, i.name, i.description, i.types, i.props) for i in infos.values() if i.id not in fresh
        ]
        self.store.insert_entities(new_rows)
        entities.update(fresh)
        self.report.entities_new += len(new_rows)
        if updates:
            self.store.update_entities(updates)
            self.report.entities_updated += len(updates)
        # 3. triples, grouped by relationship type
        known = self.known
        groups = self._queues
        for t in triples:
            name = rel_of[t.relation]
            key = (entities[t.head], self.relations[name], entities[t.tail])
            if key in known:
                self.report.triples_existing += 1
                continue
            known.add(key)
            cols = groups.get(name)
            if cols is None:
                cols = groups[name] = ([], [], [])
            cols[0].append(t.head)
            cols[1].append(t.tail)
            cols[2].append(t.relation)
            self._queued += 1
        self._write_queues(force=self._queued >= self.max_pending)

    def _write_queues(self, force: bool) -> None:
        for name in list(self._queues):
            heads, tails, preds = self._queues[name]
            if force or len(heads) >= self.group_rows:
                self.report.triples_new += self.store.insert_triple_columns(name, heads, tails, preds)
                self._queued -= len(heads)
                del self._queues[name]
