"""Training questions synthesized from a graph, with answer sets computed from the graph.

:func:`generate_questions` samples topic entities (seeded), enumerates 1..``max_hops`` relation
path types in both edge directions, and for each path type draws topics from the pool whose
answer set has 1..``max_answers`` entities; each question gets a random surface form
(:mod:`kgfm.questions.surface`). Quotas are equal per path type within a hop count and equal
per hop count, so frequent relations do not drown rare ones. Topics are split into train and
valid *by entity*: no valid topic is ever a train topic.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydantic import Field

from kgfm.config import ConfigError, StrictModel
from kgfm.questions.lexicon import RelationWords
from kgfm.questions.paths import StepAdjacency, path_types, step_inverse, step_relation
from kgfm.questions.surface import StepWords, add_noise, compose
from kgfm.store.base import GraphTensors


class QuestionsConfig(StrictModel):
    """What to generate (``kgfm questions`` options map one to one)."""

    topics: int = Field(5000, ge=1, description="topic entities to sample (all when the graph has fewer)")
    hops: list[int] = Field(default_factory=lambda: [1, 2], description="hop counts to generate (1..3)")
    per_hop: int = Field(20000, ge=1, description="questions per hop count (train + valid)")
    per_topic_path: int = Field(1, ge=1, description="surface forms per (topic, path type)")
    max_answers: int = Field(30, ge=1, description="drop a question whose answer set is larger")
    frontier_cap: int = Field(2000, ge=1, description="abandon a path whose intermediate set grows past this")
    max_path_types: int = Field(400, ge=1, description="path types per hop count (seeded sample when more)")
    chain_min_shared: int = Field(5, ge=1, description="entities two chained steps must share (paths.chainable)")
    chain_min_fraction: float = Field(0.2, ge=0.0, le=1.0, description="share of either side they must make up")
    valid_fraction: float = Field(0.1, ge=0.0, lt=0.9, description="share of topic entities held out for valid")
    bracket_rate: float = Field(1.0, ge=0.0, le=1.0, description="share of questions with the topic in [brackets]")
    noise: float = Field(0.15, ge=0.0, le=1.0, description="probability of each light-noise kind")
    seed: int = 0


@dataclass
class Question:
    """One generated question (one JSONL row)."""

    question: str
    topic: str
    topic_id: str
    answers: list[str]
    answer_ids: list[str]
    hops: int
    path: list[dict[str, str]]
    qtype: str
    template: str
    noise: list[str]
    bracketed: bool
    split: str

    def as_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Generation:
    questions: list[Question]
    warnings: list[str] = field(default_factory=list)
    counts: dict[str, Any] = field(default_factory=dict)


def display_names(graph: GraphTensors) -> tuple[list[str], np.ndarray]:
    """Per entity the text used in questions (name, else id) and whether it is usable as a
    topic/answer: unique (exactly: the QA reader looks names up exactly first), free of ``|``, ``[``, ``]``, TAB and newline, and not
    a nameless blank node (``_:b…``: nothing a user could type)."""
    names = [n if n else i for i, n in zip(graph.entity_ids, graph.entity_names or [None] * graph.num_entities)]
    folded: dict[str, int] = {}
    for n in names:
        folded[n] = folded.get(n, 0) + 1
    bad = set("|[]\t\n\r")
    raw = graph.entity_names or [None] * graph.num_entities
    ok = np.array([folded[n] == 1 and not (bad & set(n)) and bool(n.strip())
                   and not (r is None and n.startswith("_:")) for n, r in zip(names, raw)], dtype=bool)
    return names, ok


def step_words(relation_words: list[RelationWords], types: dict[int, tuple[str | None, str | None]],
               step: int) -> StepWords:
    r = step_relation(step)
    head_type, tail_type = types.get(r, (None, None))
    return StepWords(relation_words[r], step_inverse(step), head_type, tail_type)


def qtype_name(graph: GraphTensors, path: tuple[int, ...]) -> str:
    return ">".join(graph.relation_types[step_relation(s)] + ("^-1" if step_inverse(s) else "") for s in path)


def generate_questions(
    graph: GraphTensors,
    relation_words: list[RelationWords],
    cfg: QuestionsConfig,
    types: dict[int, tuple[str | None, str | None]] | None = None,
) -> Generation:
    """Generate questions over ``graph``.

    Args:
        graph: The exported graph.
        relation_words: Per relation idx, its words (:func:`kgfm.questions.lexicon.relation_words`).
        cfg: Sizes, caps, seed.
        types: Relation idx -> (head type noun, tail type noun) where types are known.

    Raises:
        ConfigError: the graph has no relation/triple, or a hop count outside 1..3.
    """
    if graph.num_triples == 0 or graph.num_relations == 0:
        raise ConfigError("the store holds no relations (no triples): nothing to ask about; run kgfm build-graph first")
    if not cfg.hops or any(h not in (1, 2, 3) for h in cfg.hops):
        raise ConfigError(f"hops {cfg.hops}: each must be 1, 2 or 3")
    rng = np.random.default_rng(cfg.seed)
    names, usable = display_names(graph)
    warnings: list[str] = []
    pool = np.flatnonzero(usable)
    if cfg.topics > pool.size:
        warnings.append(f"--topics {cfg.topics} is more than the {pool.size} usable entities of the graph "
                        f"({graph.num_entities} in all, {graph.num_entities - pool.size} with a missing, repeated or "
                        f"unusable name): using all {pool.size}")
    else:
        pool = np.sort(rng.choice(pool, size=cfg.topics, replace=False))
    valid_topics = set(rng.permutation(pool)[: int(round(pool.size * cfg.valid_fraction))].tolist())
    in_pool = np.zeros(graph.num_entities, dtype=bool)
    in_pool[pool] = True
    adj = StepAdjacency.from_graph(graph)
    by_hop = path_types(adj, max(cfg.hops), cfg.max_path_types, rng, cfg.chain_min_shared, cfg.chain_min_fraction)
    types = types or {}
    questions: list[Question] = []
    seen: set[str] = set()
    counts: dict[str, Any] = {"topics_pool": int(pool.size), "valid_topics": len(valid_topics), "per_hop": {},
                              "path_types": {}, "dropped_too_many_answers": 0, "dropped_no_answer": 0,
                              "duplicates": 0}
    for hops in sorted(set(cfg.hops)):
        kinds = by_hop.get(hops, [])
        made = _fill_hop(graph, adj, kinds, relation_words, types, cfg, rng, in_pool, valid_topics, usable,
                         names, seen, counts)
        questions.extend(made)
        counts["per_hop"][str(hops)] = len(made)
        counts["path_types"][str(hops)] = len(kinds)
        if not made:
            warnings.append(f"no {hops}-hop question: no path of that length with 1..{cfg.max_answers} answers "
                            "from the sampled topics")
    return Generation(questions, warnings, counts)


def _fill_hop(graph: GraphTensors, adj: StepAdjacency, kinds: list[tuple[int, ...]], relation_words: list[RelationWords],
              types: dict, cfg: QuestionsConfig, rng: np.random.Generator, in_pool: np.ndarray,
              valid_topics: set[int], usable: np.ndarray, names: list[str], seen: set[str],
              counts: dict[str, Any]) -> list[Question]:
    """Round-robin over the path types of one hop count until the quota or the topics run out."""
    if not kinds:
        return []
    quota = max(1, cfg.per_hop // len(kinds))
    out: list[Question] = []
    for path in kinds:
        sources = adj.sources(path[0])
        topics = sources[in_pool[sources]]
        if topics.size == 0:
            continue
        steps = [step_words(relation_words, types, s) for s in path]
        qtype = qtype_name(graph, path)
        made = 0
        for topic in rng.permutation(topics)[: 20 * quota].tolist():
            if made >= quota:
                break
            answers = adj.answers(topic, path, cfg.frontier_cap)
            if answers is None or answers.size > cfg.max_answers:
                counts["dropped_too_many_answers"] += 1
                continue
            answers = answers[usable[answers]]
            if answers.size == 0:
                counts["dropped_no_answer"] += 1
                continue
            for _ in range(cfg.per_topic_path):
                q = _one(graph, names, steps, path, qtype, topic, answers, cfg, rng, topic in valid_topics)
                if q.question.casefold() in seen:
                    counts["duplicates"] += 1
                    continue
                seen.add(q.question.casefold())
                out.append(q)
                made += 1
    return out


def _one(graph: GraphTensors, names: list[str], steps: list[StepWords], path: tuple[int, ...], qtype: str,
         topic: int, answers: np.ndarray, cfg: QuestionsConfig, rng: np.random.Generator, valid: bool) -> Question:
    bracketed = bool(rng.random() < cfg.bracket_rate)
    span = f"[{names[topic]}]" if bracketed else names[topic]
    text, template = compose(steps, span, rng)
    text, noise = add_noise(text, span, rng, cfg.noise)
    return Question(
        question=text, topic=names[topic], topic_id=graph.entity_ids[topic],
        answers=[names[a] for a in answers.tolist()], answer_ids=[graph.entity_ids[a] for a in answers.tolist()],
        hops=len(path),
        path=[{"relation": graph.relation_types[step_relation(s)], "direction": "inverse" if step_inverse(s)
               else "forward"} for s in path],
        qtype=qtype, template=template, noise=noise, bracketed=bracketed, split="valid" if valid else "train",
    )
