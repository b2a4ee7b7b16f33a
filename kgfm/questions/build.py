"""``kgfm questions``: store -> generated questions artifact.

The artifact directory (atomic, checksummed, :mod:`kgfm.artifacts`, kind ``generated-questions``)::

    questions.jsonl   one JSON object per question (all splits), keys:
                      question, topic, topic_id, answers, answer_ids, hops,
                      path [{relation, direction: forward|inverse}], qtype, template, noise,
                      bracketed, split (train|valid)
    train.txt         MetaQA format: question with [topic]<TAB>answer1|answer2  (data.dataset: files)
    valid.txt         the same for the held-out topics
    train_qtype.txt   one path type per line, aligned with train.txt (``rel>rel^-1``)
    valid_qtype.txt
    manifest.json     counts, warnings, config, relation words, checksums

The MetaQA-format files always bracket the topic (the QA reader needs it); the JSONL keeps the
unbracketed variants as generated.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from pathlib import Path
from typing import Any, Callable

from kgfm.artifacts import write_artifact
from kgfm.config import StoreConfig
from kgfm.questions.generate import Generation, QuestionsConfig, generate_questions
from kgfm.questions.lexicon import RelationWords, read_relation_text, relation_words, split_words
from kgfm.store.base import GraphStore, GraphTensors

KIND = "generated-questions"
TYPE_SAMPLE = 25


def relation_texts(graph: GraphTensors, relation_text: Path | None) -> tuple[dict[int, str], list[str]]:
    """Relation idx -> text from a relation-text file (ids match the relationship type or the
    predicate; integer ids that match neither are read as the relation idx), with warnings."""
    if relation_text is None:
        return {}, []
    rt = read_relation_text(relation_text)
    keys: dict[str, int] = {}
    for r, (name, pred) in enumerate(zip(graph.relation_types, graph.relation_predicates)):
        keys.setdefault(name, r)
        keys.setdefault(pred, r)
    out: dict[int, str] = {}
    unknown: list[str] = []
    by_index = 0
    for rid, text in rt.texts.items():
        if rid in keys:
            out[keys[rid]] = text
        elif rid.isdigit() and int(rid) < graph.num_relations and not any(k.isdigit() for k in keys):
            out[int(rid)] = text
            by_index += 1
        else:
            unknown.append(rid)
    warnings = []
    if rt.bad_lines:
        warnings.append(f"{relation_text}: {len(rt.bad_lines)} bad line(s) skipped (expected 'id<TAB>text'), "
                        f"first at line {rt.bad_lines[0]}")
    if unknown:
        warnings.append(f"{relation_text}: {len(unknown)} of {len(rt.texts)} id(s) are not relations of the store "
                        f"(first: {unknown[0]!r}); their text is unused")
    if by_index:
        warnings.append(f"{relation_text}: {by_index} integer id(s) read as the store's relation index")
    missing = graph.num_relations - len(out)
    if missing:
        warnings.append(f"{relation_text}: {missing} of {graph.num_relations} relation(s) have no text there; "
                        "their names are split into words")
    return out, warnings


def predicate_labels(graph: GraphTensors) -> dict[int, str]:
    """``rdfs:label``/``skos:prefLabel`` of predicates: an entity whose id is the predicate IRI and has a name."""
    index = {eid: i for i, eid in enumerate(graph.entity_ids)}
    names = graph.entity_names or [None] * graph.num_entities
    out = {}
    for r, pred in enumerate(graph.relation_predicates):
        i = index.get(pred)
        if i is not None and names[i]:
            out[r] = names[i]
    return out


def side_types(store: GraphStore, graph: GraphTensors, sample: int = TYPE_SAMPLE) -> dict[int, tuple[str | None, str | None]]:
    """Relation idx -> (head type noun, tail type noun): the most common ``rdf:type`` among a few
    heads / tails of the relation (local name split into words); ``None`` where untyped."""
    out: dict[int, tuple[str | None, str | None]] = {}
    if graph.num_triples and not any((store.get_entity(graph.entity_ids[int(e)]) or {}).get("types")
                                     for e in graph.head_index[:: max(1, graph.num_triples // 50)][:50]):
        return out  # no types anywhere in a sample of the graph: skip the per-relation look-ups
    for r in range(graph.num_relations):
        sides = []
        for column in (graph.head_index, graph.tail_index):
            ents = sorted(set(column[graph.rel_type == r].tolist()))[:sample]
            votes: Counter[str] = Counter()
            for e in ents:
                for t in (store.get_entity(graph.entity_ids[e]) or {}).get("types", []):
                    votes[t] += 1
            top = votes.most_common(1)
            sides.append(" ".join(split_words(top[0][0])) if top and top[0][1] * 2 >= len(ents) else None)
        out[r] = (sides[0], sides[1])
    return out


def all_relation_words(graph: GraphTensors, texts: dict[int, str], types: dict[int, tuple[str | None, str | None]]
                       ) -> list[RelationWords]:
    labels = predicate_labels(graph)
    return [
        relation_words(pred, name, texts.get(r) or labels.get(r), (types.get(r) or (None, None))[0])
        for r, (name, pred) in enumerate(zip(graph.relation_types, graph.relation_predicates))
    ]


_CODE = re.compile(r"[a-z]{0,2}\d+")  # Wikidata P31, P279; numbered relations r7; bare ids 42


def code_named_relations(graph: GraphTensors, words: list[RelationWords]) -> list[str]:
    """A warning when relations are named by codes (``wdt:P31``) rather than words: questions would
    read "what is the p31 of [X]" unless a relation text gives their words."""
    coded = [graph.relation_types[r] for r, w in enumerate(words) if _CODE.fullmatch(w.phrase.replace(" ", ""))]
    if not coded:
        return []
    shown = ", ".join(coded[:5]) + (", ..." if len(coded) > 5 else "")
    return [f"{len(coded)} of {graph.num_relations} relation(s) are named by codes, not words ({shown}); their "
            "questions will use the code: give their words with --relation-text FILE (id<TAB>text) or an "
            "rdfs:label on the predicate"]


def _lines_writer(lines: list[str]) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8", newline="\n")
    return write


def metaqa_line(q: Any) -> str:
    """The question in MetaQA format: topic always in brackets, answers joined by ``|``."""
    if not q.bracketed:
        if q.topic not in q.question:  # never write a line the QA reader would refuse
            raise ValueError(f"generated question {q.question!r} does not contain its topic {q.topic!r}")
        text = q.question.replace(q.topic, f"[{q.topic}]", 1)
    else:
        text = q.question
    return f"{text}\t{'|'.join(q.answers)}"


def write_questions(out: Path, gen: Generation, cfg: QuestionsConfig, extra: dict[str, Any]) -> dict[str, Any]:
    """Write the artifact (module docstring); returns the manifest."""
    rows = [json.dumps(q.as_json(), ensure_ascii=False, sort_keys=True) for q in gen.questions]
    writers: dict[str, Callable[[Path], None]] = {"questions.jsonl": _lines_writer(rows)}
    for split in ("train", "valid"):
        part = [q for q in gen.questions if q.split == split]
        writers[f"{split}.txt"] = _lines_writer([metaqa_line(q) for q in part])
        writers[f"{split}_qtype.txt"] = _lines_writer([q.qtype for q in part])
    by_split = Counter(q.split for q in gen.questions)
    manifest = {
        "config": cfg.model_dump(), "counts": {**gen.counts, "questions": len(gen.questions), **dict(by_split)},
        "warnings": gen.warnings, **extra,
    }
    return write_artifact(out, KIND, writers, manifest)


def build_questions(store_config: StoreConfig, out: Path, cfg: QuestionsConfig,
                    relation_text: Path | None = None, store: GraphStore | None = None) -> dict[str, Any]:
    """The whole ``kgfm questions`` run: read the graph, generate, write ``out``.

    Args:
        store_config: Which store to read (opened read-only) when ``store`` is not given.
        out: Artifact directory to (re)write.
        cfg: Generation settings.
        relation_text: Optional ``id<TAB>text`` file with relation wording.
        store: An already open store (tests, the chain command).

    Returns:
        A summary: counts, warnings, questions/s, the artifact path.
    """
    from kgfm.store.factory import open_store

    start = time.perf_counter()
    own = store is None
    db = open_store(store_config, read_only=True) if own else store
    try:
        graph = db.export_tensors()
        texts, warnings = relation_texts(graph, relation_text)
        types = side_types(db, graph) if graph.num_triples else {}
    finally:
        if own:
            db.close()
    words = all_relation_words(graph, texts, types)
    warnings.extend(code_named_relations(graph, words))
    gen_start = time.perf_counter()
    gen = generate_questions(graph, words, cfg, types)
    gen_seconds = time.perf_counter() - gen_start
    gen.warnings[:0] = warnings
    lexicon = {graph.relation_types[r]: {"phrase": w.phrase, "shape": w.shape, "noun": w.tail_noun,
                                         "head_noun": (types.get(r) or (None, None))[0] or w.head_noun}
               for r, w in enumerate(words)}
    manifest = write_questions(out, gen, cfg, {"relation_words": lexicon, "store": {
        "backend": store_config.backend, "path": str(store_config.path), "entities": graph.num_entities,
        "relations": graph.num_relations, "triples": graph.num_triples}})
    return {"out": str(out), "counts": manifest["counts"], "warnings": gen.warnings,
            "generation_seconds": round(gen_seconds, 3), "total_seconds": round(time.perf_counter() - start, 3),
            "questions_per_second": round(len(gen.questions) / gen_seconds, 1) if gen_seconds > 0 else None}
