"""The one place where the server touches the QA engine, the store and the entity index.

The HTTP app (:mod:`kgfm.serve.app`) and the page only see :class:`ServeEngine` and the
error types below, so a change to :mod:`kgfm.qa`, :mod:`kgfm.store` or :mod:`kgfm.index`
is absorbed here. Nothing in this class is thread-safe (torch modules and a LadybugDB
connection): the app calls it from a single worker thread (:mod:`kgfm.serve.worker`).
"""

from __future__ import annotations

import base64
import datetime as _dt
import math
import time
from pathlib import Path
from typing import Any, Sequence

from kgfm.artifacts import read_manifest
from kgfm.config import StoreConfig


class ServeError(Exception):
    """A request the engine refuses; ``status`` is the HTTP status, ``field`` the request field at fault."""

    status = 400

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFoundError(ServeError):
    status = 404


class LimitError(ServeError):
    """A request over one of the server's limits (questions per request, top_k, k)."""

    status = 422


class UnlinkableError(ServeError):
    """No entity of the graph in the question (the message is the one ``kgfm qa`` prints)."""

    status = 422


class QueryRejectedError(ServeError):
    """A Cypher query that is not read-only, or that the store refused."""

    status = 400


def check_read_only(query: str) -> None:
    """Refuse a Cypher query that is not read-only, before it reaches the store.

    Uses ``kgfm.store.readonly.check_read_only`` (the allow-list ``kgfm cypher`` applies without
    ``--write``) where this checkout has it, else :func:`_keyword_check`. The store is opened
    read-only as well, so the database refuses writes by itself; this check refuses what a
    read-only LadybugDB still runs (``COPY ... TO``, ``CHECKPOINT``, extensions) and gives the
    clear message first.

    Raises:
        QueryRejectedError: naming the clause that is not allowed.
    """
    try:
        from kgfm.store import readonly
    except ImportError:  # before the store's allow-list exists
        _keyword_check(query)
        return
    from kgfm.store.base import StoreError

    try:
        readonly.check_read_only(query)
    except StoreError as exc:
        hint = getattr(readonly, "WRITE_HINT", None)  # the CLI's --write has no HTTP equivalent
        message = str(exc).replace(f"; {hint}", "; this server only reads") if hint else str(exc)
        raise QueryRejectedError(message if message.startswith("query") else f"query: {message}", field="query") from None


def _keyword_check(query: str) -> None:
    """A conservative keyword check on the query outside string literals, names and comments."""
    import re

    stripped = re.sub(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|`[^`]*`|//[^\n]*|/\*.*?\*/", " ", query, flags=re.S)
    words = re.findall(r"[A-Za-z_]+", stripped.upper())
    writes = ("CREATE", "MERGE", "DELETE", "DETACH", "SET", "REMOVE", "DROP", "ALTER", "COPY", "LOAD", "INSTALL",
              "ATTACH", "CHECKPOINT", "IMPORT", "EXPORT", "BEGIN", "COMMIT", "ROLLBACK", "FOREACH")
    for word in words:
        if word in writes:
            raise QueryRejectedError(f"query: {word} is not allowed here (read-only; use `kgfm cypher --write`)",
                                     field="query")
    if words and words[0] == "CALL" and "SHOW_" not in stripped.upper() and "TABLE_INFO" not in stripped.upper():
        raise QueryRejectedError("query: only read-only CALL procedures (show_tables, table_info...) are allowed",
                                 field="query")


def jsonable(value: Any) -> Any:
    """A store value as JSON (nested dicts/lists kept; dates ISO; bytes base64; NaN -> None)."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [jsonable(v) for v in value]
    if isinstance(value, (_dt.date, _dt.datetime, _dt.time)):
        return value.isoformat()
    if isinstance(value, _dt.timedelta):
        return value.total_seconds()
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if hasattr(value, "tolist"):
        return jsonable(value.tolist())
    return str(value)


def _load_qa_engine(model_dir: Path, store: StoreConfig | None, index_dir: Path | None, hops: int | None) -> Any:
    """A loaded :class:`kgfm.qa.answer.QAEngine`; ``index_dir`` overrides the index the model names."""
    from kgfm.qa.answer import QAEngine

    if index_dir is not None and not Path(index_dir).is_dir():
        raise FileNotFoundError(f"{index_dir}: no entity index here")
    return QAEngine.load(model_dir, store_config=store, hops=hops, index_path=index_dir)


def _quantize(qa: Any, int8: bool) -> str | None:
    """How the served encoder is quantised: ``int8-export``, ``int8-at-load`` (done here) or ``None``
    (the server loads on CPU, where dynamic quantisation runs)."""
    from kgfm.qa.quantize import INT8_KIND, quantize_encoder

    if qa.manifest.get("kind") == INT8_KIND:
        return "int8-export"
    if not int8:
        return None
    quantize_encoder(qa.model)
    return "int8-at-load"


class ServeEngine:
    """A loaded model with its store and index, answering the server's requests.

    Args:
        qa: A :class:`kgfm.qa.answer.QAEngine`.
        model_dir: Where the model was loaded from (reported by :meth:`info`).
        memory_paths: Answer evidence-path look-ups from the graph in memory (same paths as the
            store's, see :mod:`kgfm.qa.paths`) instead of one store query per answer.
        quantization: How the encoder is quantised (reported by :meth:`info`).
        threads: torch intra-op threads for a batch of several questions (default: torch's
            current setting). A single question always runs on one thread: its matrix products
            (~16 tokens) are too small to split, and a second thread made it slower and cost 14%
            more CPU (bench/results/serve_int8_threads.json). Whether a second thread helps a
            batch depends on what else the box runs (two runs at load 4-5: 1.7x and 0.7x the
            8-client throughput of one thread).
    """

    def __init__(self, qa: Any, model_dir: Path, memory_paths: bool = True, quantization: str | None = None,
                 threads: int | None = None, trace: bool = True) -> None:
        import torch

        self.qa = qa
        self.quantization = quantization
        self.tracers: list[Any] = []
        if trace:
            from kgfm.qa.tracing import trace_encoder

            self.tracers = trace_encoder(qa.model.encoder, deferred=True)  # recorded by trace_step
        self.trace_work_s = 0.0  # time spent in trace_step
        self.threads = int(threads or torch.get_num_threads())
        self._threads_now = torch.get_num_threads()
        self.store = qa.store  # the real store (entities, neighbours, Cypher)
        if memory_paths:
            qa.hold_paths_in_memory()
        self.model_dir = Path(model_dir)
        self.loaded_at = time.time()
        kind = read_manifest(self.model_dir, verify=False).get("kind")
        self.model_kind = kind
        self.manifest = qa.manifest

    @classmethod
    def load(cls, model_dir: Path, store: StoreConfig | None = None, index_dir: Path | None = None,
             hops: int | None = None, threads: int | None = None, warm_up: bool = True,
             memory_paths: bool = True, int8: bool = False, trace: bool = True,
             trace_later: bool = False) -> "ServeEngine":
        """Load everything once (and answer one question so the first request is warm).

        Args:
            model_dir: A ``kgfm train --stage finetune`` model (fp32 or int8 export).
            store: The store to read (default: the one in the model's config), opened read-only.
            index_dir: Entity index (default: the one in the model's config).
            hops: Candidate radius override.
            threads: torch intra-op threads for batches (default: torch's choice); see the class docstring.
            warm_up: Run one question through the model after loading.
            memory_paths: See the class docstring.
            int8: Quantise the encoder's linear layers to int8 at load (PyTorch dynamic
                quantisation, :func:`kgfm.qa.quantize.quantize_encoder`: the same layers and
                rounding as a ``kgfm-qa-model-int8`` export). About 2x faster matrix products on
                CPU; answers can differ (see the README's Serving section). A model that is
                already an int8 export is served as it is.
            trace: Run the transformer blocks from ``torch.jit.trace`` recordings
                (:mod:`kgfm.qa.tracing`; same answers, ~1/4 less time per question on CPU). They
                are recorded from the warm-up's inputs, ~0.1 s per block, before this returns.
            trace_later: Leave the recording to :meth:`trace_step` (the server runs it while no
                request waits, so it answers eagerly from the start and traced soon after).
        """
        import torch

        if threads:
            torch.set_num_threads(int(threads))
        model_dir = Path(model_dir)
        if not model_dir.is_dir():
            raise FileNotFoundError(f"{model_dir}: no model here (train one with `kgfm train --stage finetune`)")
        qa = _load_qa_engine(model_dir, store, index_dir, hops)
        quantization = _quantize(qa, int8)
        engine = cls(qa, model_dir, memory_paths, quantization, threads, trace=trace)
        if warm_up:
            engine.warm_up()
            while not trace_later and engine.trace_step():
                pass
        return engine

    # ---- facts ------------------------------------------------------------------------
    @property
    def num_entities(self) -> int:
        return self.qa.graph.num_entities

    def info(self) -> dict[str, Any]:
        """What is loaded: model kind and folder, graph size, hops, index fingerprint."""
        index = self.qa.index
        return {
            "model": str(self.model_dir),
            "model_kind": self.model_kind,
            "encoder_kind": self.manifest.get("encoder_kind"),
            "hops": self.qa.hops,
            "entities": self.qa.graph.num_entities,
            "relations": list(self.qa.graph.relation_types),
            "triples": self.qa.graph.num_triples,
            "index_fingerprint": getattr(index, "fingerprint", None),
            "store_backend": getattr(self.store, "backend", None),
            "quantization": self.quantization,
            "evidence_paths": "memory" if self.qa.paths_in_memory else "store",
            "traced_blocks": self.traced_blocks(),
        }

    def traced_blocks(self) -> str | None:
        """``"traced/all"`` transformer blocks running a ``torch.jit.trace`` recording (``None``: tracing off)."""
        if not self.tracers:
            return None
        from kgfm.qa.tracing import traced_count

        return f"{traced_count(self.tracers)}/{len(self.tracers)}"

    def trace_step(self) -> bool:
        """Record one pending transformer block (~0.1 s, :func:`kgfm.qa.tracing.record_pending`);
        ``True`` while more are pending. Blocks answer eagerly until theirs is recorded."""
        if not self.tracers:
            return False
        from kgfm.qa.tracing import record_pending

        t0 = time.perf_counter()
        more = record_pending(self.tracers)
        self.trace_work_s += time.perf_counter() - t0
        return more

    def warm_up(self) -> None:
        """Answer a padded batch of two questions about the first entity, then one of them alone
        (pays the first-forward and thread-pool costs now, and gives the traced blocks the two
        call signatures a server sees: a padded batch, and an unpadded question)."""
        graph = self.qa.graph
        if graph.num_entities:
            name = (graph.entity_names[0] if graph.entity_names else None) or graph.entity_ids[0]
            self.answer([f"what about [{name}]", f"and what else does the graph say about [{name}]"],
                        top_k=1, evidence=True)
            self.answer([f"what about [{name}]"], top_k=1, evidence=True)

    def forget_threads(self) -> None:
        """The torch thread count is not known (the engine was loaded on another thread): the next
        call sets its own."""
        self._threads_now = 0

    def _use_threads(self, questions: int) -> None:
        """One intra-op thread for a single question, :attr:`threads` for a batch."""
        want = 1 if questions == 1 else self.threads
        if want != self._threads_now:
            import torch

            torch.set_num_threads(want)
            self._threads_now = want

    # ---- QA ---------------------------------------------------------------------------
    def answer(self, questions: Sequence[str], top_k: int, evidence: bool) -> list[dict[str, Any]]:
        """``kgfm qa --json`` objects for ``questions`` (unlinkable ones carry ``error``)."""
        self._use_threads(len(questions))
        return [jsonable(r.as_dict()) for r in self.qa.answer(list(questions), top_k=top_k, evidence=evidence)]

    # ---- entities ---------------------------------------------------------------------
    def entity(self, entity_id: str) -> dict[str, Any]:
        """The stored entity (id, idx, name, description, types, props)."""
        row = self.store.get_entity(entity_id)
        if row is None:
            raise NotFoundError(f"entity_id: no entity with id {entity_id!r} in the graph", field="entity_id")
        return jsonable(row)

    def neighbors(self, entity_id: str, k: int) -> dict[str, Any]:
        """The ``k`` nearest entities in the FAISS index, and up to ``k`` one-hop store neighbours."""
        from kgfm.index.entity_index import UnknownEntityError

        if self.store.get_entity(entity_id) is None:
            raise NotFoundError(f"entity_id: no entity with id {entity_id!r} in the graph", field="entity_id")
        faiss: list[dict[str, Any]] | None = None
        if self.qa.index is not None:
            try:
                hits = self.qa.index.neighbors(entity_id, k)
                faiss = [{"id": i, "name": n, "score": round(float(s), 6)} for i, n, s in hits]
            except UnknownEntityError:
                faiss = []
        store = [{"id": n.id, "name": n.name, "hops": n.hops} for n in self.store.neighbors(entity_id, 1, k)]
        return {"id": entity_id, "k": k, "faiss": faiss, "store": store,
                "index_metric": getattr(self.qa.index, "metric", None)}

    # ---- Cypher -----------------------------------------------------------------------
    def cypher(self, query: str, params: dict[str, Any] | None, max_rows: int) -> dict[str, Any]:
        """Run a read-only query; at most ``max_rows`` rows come back (``truncated`` says if more existed)."""
        from kgfm.store.base import StoreError

        check_read_only(query)
        try:
            rows = self.store.cypher(query, params or {}, write=False)
        except StoreError as exc:
            raise QueryRejectedError(f"query: {exc}", field="query") from None
        columns = list(rows[0].keys()) if rows else []
        return {"columns": columns, "rows": [jsonable(r) for r in rows[:max_rows]],
                "row_count": min(len(rows), max_rows), "truncated": len(rows) > max_rows}

    def close(self) -> None:
        self.qa.close()
