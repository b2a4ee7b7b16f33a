"""Answering questions with a fine-tuned model: ranked entities, the linked topic, evidence.

:class:`QAEngine` links the question (:class:`kgfm.fusion.linking.EntityLinker`), encodes it
with fusion, scores every entity of the graph (:mod:`kgfm.qa.model`), and for each answer
reads the KG paths from the topic entity out of the store (``GraphStore.paths``), ranked by
how strongly the model's relation attention supports each path. It also writes the Cypher
that shows that evidence subgraph in Neo4j Browser (:func:`kgfm.qa.evidence.browser_cypher`).

What ``score`` means: the head is trained with a multi-positive softmax loss (:func:`kgfm.qa.model.
multi_positive_loss`, ``-log`` of the summed softmax share of *all* gold answers), so the model puts
probability mass on the *set* of answers and correct answers of a multi-answer question split it.
``score`` is that share (the candidates' scores sum to 1), not an independent probability that
this one answer is right: a second correct answer can score 0.02 beside a first at 0.71. Read the
``rank``, and ``cumulative`` (the share held by ranks 1..rank) to see where the mass runs out;
the logit is kept for comparisons within one question.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from kgfm.fusion.linking import topic_mention
from kgfm.qa.candidates import UndirectedAdjacency
from kgfm.qa.data import PreparedQuestions, link_questions
from kgfm.qa.evidence import browser_cypher, rank_paths
from kgfm.qa.ranking import encode_questions, rank_answers
from kgfm.store.base import GraphTensors


def _no_random_init() -> Any:
    """Skip the random initialisation of a model whose every weight is then loaded from disk.

    Building the MiniLM backbone draws ~22M random numbers (``normal_``/``kaiming_uniform_``), about
    half of a warm load (0.4 s on this box) for weights overwritten at once. ``transformers``'
    ``no_init_weights`` turns the torch init functions into no-ops for the duration; it is safe here
    because the loaders refuse a weights file that misses any parameter or buffer
    (``load_state_dict`` missing/unexpected checks) and non-persistent buffers are not made by
    init functions. Not thread-safe (it patches ``torch.nn.init`` for the process): loading only.
    """
    try:
        from transformers.initialization import no_init_weights  # transformers >= 5
    except ImportError:
        try:
            from transformers.modeling_utils import no_init_weights  # 4.x
        except ImportError:
            import contextlib

            return contextlib.nullcontext()
    return no_init_weights()


class UnlinkableQuestionError(LookupError):
    """No entity of the graph could be found in the question."""


@dataclass
class AnswerItem:
    id: str
    name: str | None
    score: float  # the answer's share of the softmax over the question's candidates (see the module docstring)
    logit: float
    rank: int = 0  # 1-based
    cumulative: float = 0.0  # the shares of ranks 1..rank summed
    paths: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """``dataclasses.asdict`` of this item, built directly (its deep copy walk cost ~5% of a batch)."""
        return {"id": self.id, "name": self.name, "score": self.score, "logit": self.logit, "rank": self.rank,
                "cumulative": self.cumulative,
                "paths": [{k: list(v) if isinstance(v, list) else v for k, v in p.items()} for p in self.paths]}


@dataclass
class QAResult:
    question: str
    topic: dict[str, Any] | None
    answers: list[AnswerItem]
    cypher: str | None
    error: str | None = None
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """``dataclasses.asdict`` of the result (the same keys and values, fresh containers)."""
        return {"question": self.question, "topic": None if self.topic is None else dict(self.topic),
                "answers": [a.as_dict() for a in self.answers], "cypher": self.cypher, "error": self.error,
                "seconds": self.seconds}


#: A call of :meth:`QAEngine.answer` with at least this many questions holds the evidence paths in memory.
BATCH_PATHS_IN_MEMORY = 32


class QAEngine:
    """A loaded model plus everything needed to answer and explain.

    Build with :meth:`load`. ``hops`` is the candidate radius (the hop setting the model was
    fine-tuned on unless overridden).
    """

    def __init__(self, model: Any, manifest: dict[str, Any], graph: GraphTensors, store: Any, index: Any,
                 hops: int) -> None:
        from kgfm.fusion.linking import EntityLinker
        from kgfm.qa.config import QAConfig

        self.model = model.eval()  # once: answering never trains (encode_questions then skips its eval() walk)
        self.manifest = manifest
        self.config = QAConfig.model_validate(manifest["config"])
        self.graph = graph
        self.store = store
        self.index = index
        self.hops = hops
        self.linker = EntityLinker.from_tensors(graph)
        self.adjacency = UndirectedAdjacency.from_graph(graph)
        self.rel_index = {name: i for i, name in enumerate(graph.relation_types)}

    @classmethod
    def load(cls, model_dir: Path, store_config: Any | None = None, store: Any | None = None,
             graph: GraphTensors | None = None, hops: int | None = None, device: str = "cpu",
             store_path: Path | None = None, index_path: Path | None = None) -> "QAEngine":
        """Load ``model_dir`` (fp32 or int8 export) with its store and entity index.

        The manifest is read (and verified) once, here, and handed down. The store and index are
        the ones the model references, found from the model folder (:mod:`kgfm.qa.locate`), never
        from the current directory; the graph is checked by content fingerprint.

        Args:
            model_dir: A ``kgfm-qa-model`` or ``kgfm-qa-model-int8`` artifact.
            store_config: Store to read (default: the one the model references).
            store: An already open store (tests); takes precedence.
            graph: Pre-exported graph tensors (default: ``store.export_tensors()``).
            hops: Candidate radius override.
            device: Where the model runs (``cpu``, ``cuda``, ``auto``; int8 exports are CPU only).
            store_path: Override just the path of the model's store config.
            index_path: Override the entity index folder.
        """
        from kgfm.qa.checkpoint import load_qa_model
        from kgfm.qa.config import QAConfig
        from kgfm.qa.locate import check_model_dir, locate_index, locate_store
        from kgfm.qa.quantize import INT8_KIND, load_quantized
        from kgfm.training.loop import select_device

        model_dir = Path(model_dir)
        manifest = check_model_dir(model_dir)
        cfg = QAConfig.model_validate(manifest["config"])
        extend_cmd = f"kgfm extend-index --model {model_dir}"  # named when the store has new entities
        if index_path is not None:
            extend_cmd += f" --index {index_path}"
        if store is None:
            from kgfm.store.factory import open_store

            store_cfg = store_config or locate_store(model_dir, manifest, cfg.store, None)
            if store_path is not None:
                store_cfg = store_cfg.model_copy(update={"path": Path(store_path)})
            store = open_store(store_cfg, read_only=True)
            if store_config is not None or store_path is not None:  # the fix must name the store read here
                extend_cmd += f" --path {store_cfg.path}" if store_cfg.backend == "embedded" else " --store neo4j"
        try:
            graph = graph if graph is not None else store.export_tensors()
            index = None
            index_dir = locate_index(model_dir, manifest, cfg.index, index_path)
            if index_dir is not None:
                from kgfm.index.entity_index import EntityIndex

                index = EntityIndex.load(index_dir)
            if manifest["kind"] == INT8_KIND:
                model, manifest = load_quantized(model_dir, graph, index, manifest=manifest, extend_cmd=extend_cmd)
            else:
                with _no_random_init():
                    model, manifest = load_qa_model(model_dir, graph, index, manifest=manifest, extend_cmd=extend_cmd)
        except BaseException:
            store.close()
            raise
        if manifest["kind"] != INT8_KIND:
            model.to(select_device(device))
        return cls(model, manifest, graph, store, index, hops or cfg.data.hops)

    def close(self) -> None:
        if self.store is not None:
            self.store.close()

    @property
    def paths_in_memory(self) -> bool:
        from kgfm.qa.paths import MemoryPathStore

        return isinstance(self.store, MemoryPathStore)

    def hold_paths_in_memory(self) -> bool:
        """Answer evidence-path look-ups from the graph in memory from now on (the same paths as
        the store's, :mod:`kgfm.qa.paths`): worth it for many questions (``kgfm serve``, and
        :meth:`answer` of a batch: ``kgfm qa --file``, ``QAModel.answer_batch``), not for one. Graphs over
        ``MEMORY_PATHS_MAX_TRIPLES`` stay with the store. Returns whether paths are in memory."""
        from kgfm.qa.paths import MEMORY_PATHS_MAX_TRIPLES, MemoryPathStore

        if self.store is not None and not self.paths_in_memory and self.graph.num_triples <= MEMORY_PATHS_MAX_TRIPLES:
            self.store = MemoryPathStore(self.store, self.graph)
        return self.paths_in_memory

    def _topic_info(self, mention: Any) -> dict[str, Any]:
        idx = int(mention.entity_idx)
        return {
            "id": self.graph.entity_ids[idx],
            "name": self.graph.entity_names[idx] if self.graph.entity_names else None,
            "surface": mention.surface,
            "link_score": round(float(mention.score), 4),
            "bracketed": bool(getattr(mention, "bracketed", False)),
        }

    @torch.inference_mode()
    def answer(self, questions: Sequence[str], top_k: int = 5, evidence: bool = True, max_paths: int = 3,
               batch_size: int = 32) -> list[QAResult]:
        """Answer a batch of questions (one encoder pass per ``batch_size`` questions).

        Questions with no linkable entity get a result with ``error`` set and no answers. From
        ``BATCH_PATHS_IN_MEMORY`` questions with evidence on, the paths come from the graph held
        in memory (:meth:`hold_paths_in_memory`) for this and every later call.
        """
        start = time.perf_counter()
        if evidence and len(questions) >= BATCH_PATHS_IN_MEMORY:
            self.hold_paths_in_memory()
        texts, mentions, topics = link_questions(list(questions), self.linker)
        results: list[QAResult | None] = [None] * len(questions)
        ok = np.nonzero(topics >= 0)[0]
        for i in np.nonzero(topics < 0)[0]:
            results[i] = QAResult(questions[i], None, [], None,
                                  error=f"no entity of the knowledge graph found in {questions[i]!r}; "
                                        "name one (e.g. in [brackets]) as it is spelled in the graph")
        if ok.size:
            prepared = PreparedQuestions([texts[i] for i in ok], [mentions[i] for i in ok], topics[ok],
                                         [np.zeros(0, dtype=np.int64)] * ok.size)
            vectors = encode_questions(self.model.encoder, prepared, batch_size)
            top_idx, top_logit, log_norm = rank_answers(self.model.scorer, vectors, prepared.topics,
                                                        self.adjacency, self.hops, top_k, batch_size)
            probs = np.where(np.isfinite(top_logit), np.exp(top_logit - log_norm[:, None]), 0.0)
            rel_att, hop_att = (a.cpu() for a in self.model.scorer.attention(vectors))
            cumulative = np.cumsum(probs, axis=1)
            for row, i in enumerate(ok):
                topic = self._topic_info(topic_mention(mentions[i]))
                items = []
                for j, ent in enumerate(top_idx[row]):
                    if ent < 0:
                        continue
                    item = AnswerItem(self.graph.entity_ids[ent],
                                      self.graph.entity_names[ent] if self.graph.entity_names else None,
                                      round(float(probs[row, j]), 6), round(float(top_logit[row, j]), 4),
                                      rank=j + 1, cumulative=round(float(cumulative[row, j]), 6))
                    if evidence and self.store is not None:
                        paths = self.store.paths(topic["id"], item.id, max_hops=self.hops, limit=50)
                        item.paths = rank_paths(paths, rel_att[row], hop_att[row], self.rel_index)[:max_paths]
                    items.append(item)
                cypher = browser_cypher(topic["id"], items, self.hops)
                results[i] = QAResult(questions[i], topic, items, cypher)
        elapsed = time.perf_counter() - start
        for r in results:
            r.seconds = round(elapsed / max(len(questions), 1), 4)
        return results  # type: ignore[return-value]

    def answer_one(self, question: str, top_k: int = 5, evidence: bool = True) -> QAResult:
        """One question; raises :class:`UnlinkableQuestionError` when nothing can be linked."""
        result = self.answer([question], top_k, evidence)[0]
        if result.error:
            raise UnlinkableQuestionError(result.error)
        return result
