"""The Python API: the same stages as the CLI, for notebooks and scripts.

Every function takes plain Python values or config objects and returns results; nothing here
prints tables or parses flags (the CLI does that on top). Heavy libraries are imported inside
the functions, so ``import kgfm`` stays fast. A training config may be given as

* a YAML path, or ``"sample:NAME"`` for a bundled config (``kgfm init`` writes them out);
* a ``dict`` with the same sections as the YAML file;
* the stage's pydantic config object;

and ``overrides`` take dotted keys exactly like ``--set`` (``{"train.epochs": 3}``).

Example::

    import kgfm
    report = kgfm.build_graph("graphs/movies_kb.txt", path=".kgfm/graph.lbug")
    kgfm.train_graph("configs/graph.yaml", overrides={"train.epochs": 20})
    model = kgfm.QAModel.from_pretrained("runs/qa/sample/model")
    print(model.answer("who directed [Orchard of Havana]")["answers"][0]["name"])
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Mapping, Optional, Sequence, Union

from pydantic import BaseModel

from kgfm.config import SAMPLE_QA_MODEL, StoreConfig

ConfigLike = Union[str, Path, Mapping[str, Any], BaseModel, None]
PathLike = Union[str, Path]


def _stage_args(config: ConfigLike, overrides: Optional[Mapping[str, Any]]) -> tuple[Optional[Path], dict[str, Any]]:
    """(YAML path or None, overrides) for a stage's ``main(config_path, overrides, resume)``.

    A dict or config object becomes whole-section overrides (so explicit ``None`` values survive);
    dotted ``overrides`` are applied after it.
    """
    from kgfm.samples import resolve

    path: Optional[Path] = None
    sections: dict[str, Any] = {}
    if isinstance(config, (str, Path)):
        path = resolve(config, "configs")
    elif isinstance(config, BaseModel):
        sections = config.model_dump(mode="json")
    elif isinstance(config, Mapping):
        sections = dict(config)
    elif config is not None:
        raise TypeError(f"config: expected a path, a dict or a config object, got {type(config).__name__}")
    return path, {**sections, **dict(overrides or {})}


def _store_config(path: Optional[PathLike], backend: str, store: Optional[StoreConfig]) -> StoreConfig:
    if store is not None:
        return store
    return StoreConfig(backend=backend, **({"path": Path(path)} if path is not None else {}))  # type: ignore[arg-type]


def build_graph(*sources: PathLike, path: Optional[PathLike] = None, backend: str = "embedded",
                names: Iterable[PathLike] = (), on_error: str = "fail", base: Optional[str] = None,
                store: Optional[StoreConfig] = None, progress: bool = False,
                ids_as_names: Optional[bool] = None, replace: bool = False,
                value_entities: Iterable[str] = ()) -> Any:
    """Read triple files into the graph store (``kgfm build-graph``); idempotent.

    Args:
        *sources: RDF / TSV / CSV / pipe files (``sample:movies_kb.txt`` for the bundled sample).
        path: Embedded store location (default ``.kgfm/graph.lbug``).
        backend: ``embedded`` or ``neo4j`` (credentials from ``KGFM_NEO4J_*``).
        names: Name/description files, ``FILE`` or ``FILE:KIND``.
        on_error: ``fail`` (every file is read first: a bad line anywhere writes nothing) or ``skip``.
        base: Base IRI for relative IRIs in RDF sources.
        store: A full :class:`~kgfm.config.StoreConfig` instead of ``path``/``backend``.
        progress: Show a progress bar.
        ids_as_names: TSV/CSV/pipe sources: a new entity's id is also its name (default: pipe KBs
            yes, TSV/CSV no).
        value_entities: RDF sources: predicates (IRIs or local names; ``"all"``) whose literal objects
            become value entities that questions and QA can use (names and descriptions never do).
        replace: Afterwards the store holds exactly these sources (embedded: built beside the old
            store and swapped in when complete; Neo4j: emptied first). Default: add to it.

    Returns:
        The :class:`~kgfm.store.loader.LoadReport` (counts written / already stored / rejected).
    """
    from kgfm.store.build import BuildGraphConfig, NamesSpec, SourceSpec, run_build

    if not sources:
        raise ValueError("build_graph: give at least one source file")
    cfg = BuildGraphConfig(
        store=_store_config(path, backend, store), on_error=on_error,  # type: ignore[arg-type]
        sources=[SourceSpec(path=str(s), base=base, ids_as_names=ids_as_names, value_entities=list(value_entities))
                 for s in sources],  # sample:NAME resolved by SourceSpec
        names=[NamesSpec.parse(str(n)) for n in names], replace=replace,
    )
    return run_build(cfg, show_progress=progress)


def open_store(path: Optional[PathLike] = None, backend: str = "embedded", read_only: bool = True,
               store: Optional[StoreConfig] = None) -> Any:
    """Open the graph store; use it as a context manager (``with kgfm.open_store() as db: db.cypher(...)``).

    Args:
        path: Embedded store location (default ``.kgfm/graph.lbug``).
        backend: ``embedded`` or ``neo4j``.
        read_only: Open read-only (the database itself refuses writes).
        store: A full :class:`~kgfm.config.StoreConfig` instead of ``path``/``backend``.
    """
    from kgfm.store.factory import open_store as _open

    return _open(_store_config(path, backend, store), read_only=read_only)


def train_graph(config: ConfigLike, overrides: Optional[Mapping[str, Any]] = None, resume: bool = False) -> dict[str, Any]:
    """Train the GNN encoder by link prediction and build its FAISS index (``kgfm train --stage graph``).

    Returns:
        Metrics (valid/test MRR, Hits@k), paths and the index fingerprint.
    """
    from kgfm.index.build import main

    return main(*_stage_args(config, overrides), resume)


def pretrain(config: ConfigLike, overrides: Optional[Mapping[str, Any]] = None, resume: bool = False) -> dict[str, Any]:
    """Knowledge-pretrain the fusion transformer (MLM + masked-entity; ``kgfm train --stage pretrain``)."""
    from kgfm.fusion.pretrain import main

    return main(*_stage_args(config, overrides), resume)


def finetune(config: ConfigLike, overrides: Optional[Mapping[str, Any]] = None, resume: bool = False) -> dict[str, Any]:
    """Fine-tune the QA model (``kgfm train --stage finetune``); returns the metrics and the model path."""
    from kgfm.qa.finetune import main

    return main(*_stage_args(config, overrides), resume)


def generate_questions(out: PathLike, path: Optional[PathLike] = None, backend: str = "embedded",
                       relation_text: Optional[PathLike] = None, store: Optional[StoreConfig] = None,
                       **settings: Any) -> dict[str, Any]:
    """Generate QA training questions from the graph (``kgfm questions``) into the artifact ``out``.

    Args:
        out: Output folder (JSONL + MetaQA-format train/valid files + manifest).
        path: Embedded store location.
        backend: ``embedded`` or ``neo4j``.
        relation_text: Optional ``id<TAB>text`` file with relation wording.
        store: A full store config instead of ``path``/``backend``.
        **settings: :class:`kgfm.questions.QuestionsConfig` fields (``topics``, ``hops``, ``seed``, ...).
    """
    from kgfm.questions import QuestionsConfig, build_questions

    return build_questions(_store_config(path, backend, store), Path(out), QuestionsConfig(**settings),
                           relation_text=Path(relation_text) if relation_text else None)


def auto(out: PathLike = "runs/auto", path: Optional[PathLike] = None, backend: str = "embedded",
         relation_text: Optional[PathLike] = None, encoder: str = "frozen", graph_minutes: float = 10.0,
         qa_minutes: float = 20.0, overrides: Optional[Mapping[str, Any]] = None,
         store: Optional[StoreConfig] = None, **settings: Any) -> dict[str, Any]:
    """The graph to a QA model with no hand-written question (``kgfm auto``): generated questions,
    the graph encoder + FAISS index, then the QA fine-tune on those questions.

    Args:
        out: Output folder (``questions/``, ``graph/``, ``qa/``; the model is ``qa/model``).
        path: Embedded store location.
        backend: ``embedded`` or ``neo4j``.
        relation_text: Optional ``id<TAB>text`` file with relation wording.
        encoder: ``frozen`` (cached MiniLM vectors, the scorer trained alone: minutes on a CPU) or
            ``fusion`` (MiniLM fine-tuned with its fusion layers).
        graph_minutes: Time budget of the graph encoder stage.
        qa_minutes: Time budget of the QA fine-tune.
        overrides: Fine-tune config values (dotted keys, as ``--set``).
        store: A full store config instead of ``path``/``backend``.
        **settings: :class:`kgfm.questions.QuestionsConfig` fields (``topics``, ``hops``, ``per_hop``, ...).

    Returns:
        ``{"questions", "graph", "finetune"}`` (what each stage returned) and ``"model"`` (for
        :meth:`QAModel.from_pretrained`).
    """
    from kgfm.qa.auto import run_auto
    from kgfm.questions import QuestionsConfig

    return run_auto(_store_config(path, backend, store), Path(out), QuestionsConfig(**settings),
                    Path(relation_text) if relation_text else None, encoder, graph_minutes, qa_minutes, overrides)


def extend_index(model: Optional[PathLike] = None, index: Optional[PathLike] = None, path: Optional[PathLike] = None,
                 backend: str = "embedded", checkpoint: Optional[PathLike] = None, out: Optional[PathLike] = None,
                 store: Optional[StoreConfig] = None) -> Any:
    """Embed the entities ``build_graph`` added since training with the trained graph encoder (no
    retraining) and add them to the entity index (``kgfm extend-index``); the known rows stay as they were.

    Args:
        model: A QA model: extend the index it references, reading the store it references.
        index: The entity index folder (with ``model``: instead of the model's; without: the store is ``path``).
        path: Embedded store location (default: the model's; ``.kgfm/graph.lbug`` with ``index`` alone).
        backend: ``embedded`` or ``neo4j`` (with ``index`` alone).
        checkpoint: The graph encoder checkpoint (default: the one the index records).
        out: Write the extended index here instead of replacing it.
        store: A full store config instead of ``path``/``backend``.

    Returns:
        An :class:`~kgfm.index.extend.ExtendResult` (``before``, ``after``, ``added``, ``facts``, ``seconds``).
    """
    from kgfm.qa.locate import extend_model_index

    opt = lambda v: Path(v) if v is not None else None  # noqa: E731
    if model is None and index is not None:
        return extend_model_index(None, _store_config(path, backend, store), None, Path(index), opt(checkpoint), opt(out))
    return extend_model_index(Path(model or SAMPLE_QA_MODEL), store, opt(path), opt(index), opt(checkpoint), opt(out))


def evaluate(model_dir: PathLike, file: Optional[PathLike] = None, dataset: str = "metaqa",
             hops: Optional[int] = None, split: str = "test", limit: Optional[int] = None,
             data_root: Optional[PathLike] = None, path: Optional[PathLike] = None,
             index: Optional[PathLike] = None, out: Optional[PathLike] = None,
             qtype: Optional[PathLike] = None) -> dict[str, Any]:
    """Score a QA model (``kgfm eval``): Hits@1/3/10, MRR with and without fusion, the answerable
    ceiling on its graph, the linking rate, and the paired fusion on/off comparison.

    Args:
        model_dir: The fine-tuned model folder.
        file: Your own questions: MetaQA text (``question [topic]<TAB>a|b``) or JSONL
            (``{"question", "answers", "topic"?}``); without it, a public ``dataset`` split.
        dataset: ``metaqa`` (found under ``data_root`` / ``$KGFM_DATA_ROOT``).
        hops: Candidate radius (default: as trained).
        split: ``test`` or ``dev`` (public datasets).
        limit: Score a seeded sample of this many questions.
        data_root: Folder holding the public dataset.
        path: Embedded store instead of the one the model records.
        index: Entity index instead of the one the model records.
        out: Also write the report JSON here (atomically).
        qtype: Question types, one a line, aligned with ``file`` (per-type Hits@1; default: a
            ``{stem}_qtype.txt`` beside ``file``), as ``kgfm eval --qtype``.

    Raises:
        UnscorableError: when most questions have no gold answer entity in the graph.
    """
    from kgfm.qa.evaluate import run_eval

    opt = lambda v: Path(v) if v is not None else None  # noqa: E731
    return run_eval(Path(model_dir), dataset=dataset, hops=hops, split=split, limit=limit, out_path=opt(out),
                    store_path=opt(path), data_root=opt(data_root), file=opt(file), index_path=opt(index),
                    qtype_file=opt(qtype))


class QAModel:
    """A fine-tuned QA model with its store and entity index, loaded once.

    Build it with :meth:`from_pretrained`; :meth:`answer` returns the same JSON-ready dict as
    ``kgfm qa --json`` (answers with ids, names, scores and evidence paths, the linked topic
    entity, the Cypher that shows the evidence).
    """

    def __init__(self, engine: Any) -> None:
        self.engine = engine

    @classmethod
    def from_pretrained(cls, model_dir: PathLike, path: Optional[PathLike] = None, backend: Optional[str] = None,
                        store: Optional[StoreConfig] = None, hops: Optional[int] = None,
                        trace: bool = False) -> "QAModel":
        """Load ``model_dir`` (a ``kgfm train --stage finetune`` output, fp32 or int8).

        Args:
            model_dir: The model folder.
            path: Embedded store to read instead of the one recorded in the model.
            backend: ``embedded`` or ``neo4j`` instead of the recorded backend.
            store: A full store config (takes precedence over ``path``/``backend``).
            hops: Candidate radius override.
            trace: Run the transformer blocks from ``torch.jit.trace`` recordings made on the first
                questions (as ``kgfm serve`` does, :mod:`kgfm.qa.tracing`): the same answers, less
                time per question afterwards, ~1 s more on the first call.
        """
        from kgfm.qa.answer import QAEngine

        if store is None and (path is not None or backend is not None):
            store = _store_config(path, backend or "embedded", None)
        engine = QAEngine.load(Path(model_dir), store_config=store, hops=hops)
        if trace:
            from kgfm.qa.tracing import trace_encoder

            trace_encoder(engine.model.encoder)
        return cls(engine)

    def answer(self, question: str, top_k: int = 5, evidence: bool = True) -> dict[str, Any]:
        """Answer one question; raises ``LookupError`` (``UnlinkableQuestionError``) when no entity
        of the graph is in it."""
        return self.engine.answer_one(question, top_k=top_k, evidence=evidence).as_dict()

    def answer_batch(self, questions: Sequence[str], top_k: int = 5, evidence: bool = True) -> list[dict[str, Any]]:
        """Answer many questions in batches; an unlinkable one gets ``error`` set instead of raising.
        From 32 questions on, the evidence paths come from the graph held in memory (the store's same
        paths, :mod:`kgfm.qa.paths`) for this and every later call."""
        return [r.as_dict() for r in self.engine.answer(list(questions), top_k=top_k, evidence=evidence)]

    def close(self) -> None:
        self.engine.close()

    def __enter__(self) -> "QAModel":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def start_server(model_dir: PathLike, host: str = "127.0.0.1", port: int = 0, path: Optional[PathLike] = None,
                 backend: Optional[str] = None, store: Optional[StoreConfig] = None, hops: Optional[int] = None,
                 int8: bool = False, trace: bool = True, limits: Optional[Mapping[str, Any]] = None) -> Any:
    """Serve ``model_dir`` over HTTP from a background thread (``kgfm serve`` without leaving the notebook).

    Returns once it accepts requests, with ``.url`` (``port=0``: a free port), ``.reload()`` (read the
    model, index and store again after ``build_graph`` + ``extend_index``, no downtime; raises
    ``kgfm.serve.reload.ReloadError`` in one line and keeps serving if that fails) and ``.stop()``;
    also a context manager. The endpoints are ``kgfm serve``'s: ``POST /qa``, ``POST /cypher``, ``GET
    /entities/ID``, ``/health``, the page at ``/`` and OpenAPI at ``/docs``.

    Args:
        model_dir: The fine-tuned model folder.
        host: Address to listen on (``0.0.0.0``: every interface).
        port: TCP port; 0 picks a free one.
        path: Embedded store to read instead of the one recorded in the model.
        backend: ``embedded`` or ``neo4j`` instead of the recorded backend.
        store: A full store config (takes precedence over ``path``/``backend``).
        hops: Candidate radius override.
        int8: Quantise the encoder to int8 at load.
        trace: Record traced transformer blocks while idle (same answers, less time).
        limits: :class:`~kgfm.serve.schemas.ServeSettings` fields (``max_questions``, ``max_rows``, ...).
    """
    from kgfm.serve.server import start_server as _start

    if store is None and (path is not None or backend is not None):
        store = _store_config(path, backend or "embedded", None)
    return _start(Path(model_dir), host=host, port=port, store=store, hops=hops, int8=int8, trace=trace,
                  limits=dict(limits or {}))


def write_samples(target: PathLike = ".", force: bool = False) -> list[Path]:
    """Write the bundled sample ``configs/``, ``graphs/`` and ``quickstart.ipynb`` into ``target`` (``kgfm init``).

    Files that already hold the sample are left alone, so a re-run cell is a no-op; a file that differs is an
    error unless ``force``. Returns the files written.
    """
    from kgfm.samples import init

    return init(Path(target), force=force)
