"""A pretraining corpus aligned to the KG: entity descriptions and verbalised triples.

Every record carries the char spans of the entities it mentions and their store ``idx`` (which
is also their entity-index row: the manifest's ``entity_ids_digest`` is checked against the
index, so no id mapping is needed), so pretraining knows which entity each mention is::

    {"text": "Kismet directed by William Dieterle", "kind": "triple", "rel": "directed_by",
     "mentions": [[0, 6, 17], [19, 35, 203]]}
    {"text": "stool: solid excretory product evacuated from the bowels", "kind": "description",
     "mentions": [[0, 5, 4410]]}

Relation words come from an optional map (``relation2text.txt``: ``relation<TAB>words``, keyed by
relationship type or original predicate) and otherwise from the relation name itself
(``directed_by`` -> "directed by", ``/film/film/genre`` -> "film genre", ``_hypernym`` ->
"hypernym"). An entry may also be a template naming both ends, ``{tail} directed {head}``, and a
relation may have several lines: each triple is then worded by one of them, picked by a hash of
the triple (so the corpus is the same on every run), which teaches the model several wordings of
the same relation (``configs/metaqa_relation_templates.tsv``). Records are split into train/valid
by a hash of the subject entity (descriptions) or of the triple, so the split is stable and
held-out descriptions are of entities whose description was never trained on.

Output: a ``fusion-corpus`` artifact directory with ``train.jsonl``, ``valid.jsonl`` and a
manifest (counts, source, settings).
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from kgfm.artifacts import ArtifactError, read_manifest, write_artifact
from kgfm.index.entity_index import entity_ids_digest
from kgfm.sources.records import SourceError
from kgfm.store.base import GraphTensors

KIND = "fusion-corpus"


def _derived_words(rel: str, predicate: str | None = None) -> str:
    """Words derived from a relation's name (or original predicate)."""
    name = predicate or rel
    if "://" in name:
        name = re.split(r"[#/]", name.rstrip("/#"))[-1]
    parts = [p for p in re.split(r"[/._\s]+", name) if p]
    if len(parts) > 2 and name.startswith("/"):  # Freebase paths: keep the last two segments
        parts = parts[-2:]
    words = " ".join(parts)
    words = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", words)  # camelCase -> camel Case
    return words.lower() if words else rel


def relation_alternatives(rel: str, mapping: dict[str, list[str]] | None = None,
                          predicate: str | None = None) -> list[str]:
    """Every wording of a relation: the map's lines for ``rel`` or ``predicate``, else its derived words."""
    for key in (rel, predicate):
        if mapping and key and key in mapping:
            entry = mapping[key]
            return [entry] if isinstance(entry, str) else list(entry)
    return [_derived_words(rel, predicate)]


def relation_words(rel: str, mapping: dict[str, list[str]] | None = None, predicate: str | None = None) -> str:
    """Words for a relation: the (first) map entry for ``rel`` or ``predicate``, else derived from its name."""
    return relation_alternatives(rel, mapping, predicate)[0]


_SLOT = re.compile(r"\{(head|tail)\}")


def _check_template(words: str) -> str | None:
    """Why ``words`` is not a usable wording, or ``None``."""
    slots = _SLOT.findall(words)
    if sorted(slots) not in ([], ["head", "tail"]):
        return "a template names {head} and {tail} once each"
    rest = _SLOT.sub("", words)
    if "{" in rest or "}" in rest:
        return "only {head} and {tail} may stand in braces"
    return None


def verbalise(words: str, head: str, tail: str) -> tuple[str, tuple[int, int], tuple[int, int]]:
    """``(text, head span, tail span)`` of a triple: ``head words tail``, or ``words`` as a template
    with ``{head}`` and ``{tail}`` in either order."""
    if "{head}" not in words:
        text = f"{head} {words} {tail}"
        return text, (0, len(head)), (len(head) + len(words) + 2, len(text))
    parts, spans, pos = [], {}, 0
    last = 0
    for m in _SLOT.finditer(words):
        lit = words[last : m.start()]
        parts.append(lit)
        pos += len(lit)
        name = head if m.group(1) == "head" else tail
        spans[m.group(1)] = (pos, pos + len(name))
        parts.append(name)
        pos += len(name)
        last = m.end()
    parts.append(words[last:])
    return "".join(parts), spans["head"], spans["tail"]


def read_relation_text(path: Path) -> dict[str, list[str]]:
    """``relation<TAB>words`` per line (WN18RR/FB15k-237 ``relation2text.txt``); a relation may have
    several lines (alternative wordings, kept in file order) and a line may be a template with
    ``{head}`` and ``{tail}``; lines starting with ``#`` are comments.

    Raises:
        SourceError: naming the file and line of a row without a tab, with empty words or a bad template.
    """
    out: dict[str, list[str]] = {}
    with open(path, encoding="utf-8") as handle:
        for lineno, line in enumerate(handle, 1):
            line = line.rstrip("\r\n")
            if not line.strip() or line.startswith("#"):
                continue
            if "\t" not in line:
                raise SourceError(str(path), f"line {lineno}: expected 'relation<TAB>words'")
            key, words = (part.strip() for part in line.split("\t", 1))
            problem = "no words" if not words else _check_template(words)
            if problem:
                raise SourceError(str(path), f"line {lineno}: {problem}")
            if words not in out.setdefault(key, []):
                out[key].append(words)
    return out


def _bucket(key: str) -> float:
    return int.from_bytes(hashlib.sha1(key.encode("utf-8")).digest()[:8], "big") / 2**64


def _name(graph: GraphTensors, i: int) -> str:
    return graph.entity_names[i] or graph.entity_ids[i]


def iter_records(
    graph: GraphTensors,
    relation_text: dict[str, list[str]] | None = None,
    descriptions: bool = True,
    triples: bool = True,
    max_triples: int | None = None,
    seed: int = 0,
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield ``(split_key, record)`` for every description and (a sample of) the triples."""
    if descriptions and graph.entity_descriptions is not None:
        for i, desc in enumerate(graph.entity_descriptions):
            if not desc or not desc.strip():
                continue
            name = _name(graph, i)
            desc = desc.strip()
            if desc.casefold().startswith(name.casefold()):
                text = desc  # already starts with the name
            else:
                text = f"{name}: {desc}"
            yield f"d:{graph.entity_ids[i]}", {
                "text": text, "kind": "description", "mentions": [[0, len(name), i]],
            }
    if triples and graph.num_triples:
        order = np.arange(graph.num_triples)
        if max_triples is not None and max_triples < graph.num_triples:
            order = np.sort(np.random.default_rng(seed).choice(graph.num_triples, max_triples, replace=False))
        rel_cache = [
            relation_alternatives(r, relation_text,
                                  graph.relation_predicates[k] if graph.relation_predicates else None)
            for k, r in enumerate(graph.relation_types)
        ]
        for t in order:
            h, r, tl = int(graph.head_index[t]), int(graph.rel_type[t]), int(graph.tail_index[t])
            head, tail, choices = _name(graph, h), _name(graph, tl), rel_cache[r]
            key = f"t:{graph.entity_ids[h]}|{graph.relation_types[r]}|{graph.entity_ids[tl]}"
            words = choices[0] if len(choices) == 1 else choices[int(_bucket("w" + key) * len(choices))]
            text, (hs, he), (ts, te) = verbalise(words, head, tail)
            yield key, {
                "text": text, "kind": "triple", "rel": graph.relation_types[r],
                "mentions": [[hs, he, h], [ts, te, tl]],  # subject first, wherever the template puts it
            }


def count_records(graph: GraphTensors, descriptions: bool = True, triples: bool = True,
                  max_triples: int | None = None) -> int:
    """Exactly how many records :func:`iter_records` yields (the progress total).

    Args:
        graph: Exported graph.
        descriptions: Descriptions included (only non-blank ones are records).
        triples: Triples included.
        max_triples: The triple sample size (``None``: all).
    """
    n = 0
    if descriptions and graph.entity_descriptions is not None:
        n += sum(1 for desc in graph.entity_descriptions if desc and desc.strip())
    if triples and graph.num_triples:
        n += graph.num_triples if max_triples is None else min(graph.num_triples, max_triples)
    return n


def build_corpus(
    graph: GraphTensors,
    out: Path,
    relation_text: dict[str, list[str]] | None = None,
    valid_fraction: float = 0.02,
    descriptions: bool = True,
    triples: bool = True,
    max_triples: int | None = None,
    seed: int = 0,
    source: str = "",
    relation_text_file: Path | None = None,
) -> dict[str, Any]:
    """Write the corpus artifact; returns its manifest.

    Args:
        graph: Exported graph (``with_text=True`` for descriptions).
        out: Artifact directory (replaced atomically).
        relation_text: Optional relation -> wordings map (:func:`read_relation_text`).
        valid_fraction: Share of records held out (hash split, see module docstring).
        descriptions: Include entity descriptions.
        triples: Include verbalised triples.
        max_triples: Sample at most this many triples (``None``: all).
        seed: Sampling seed.
        source: Where the graph came from (recorded in the manifest).
        relation_text_file: The file ``relation_text`` was read from (its path and sha256 go in the
            manifest, so the wording a corpus was built with is known).
    """
    from kgfm.progress import progress

    if not 0.0 <= valid_fraction < 1.0:
        raise ValueError(f"valid_fraction must be in [0, 1), got {valid_fraction}")
    lines: dict[str, list[str]] = {"train": [], "valid": []}
    counts: dict[str, int] = {}
    total = count_records(graph, descriptions, triples, max_triples)
    for key, record in progress(iter_records(graph, relation_text, descriptions, triples, max_triples, seed),
                                total=total, desc="corpus", unit="rec", mininterval=1.0):
        split = "valid" if _bucket(key) < valid_fraction else "train"
        lines[split].append(json.dumps(record, ensure_ascii=False))
        counts[f"{split}_{record['kind']}"] = counts.get(f"{split}_{record['kind']}", 0) + 1
    if not lines["train"]:
        raise SourceError(source or "graph", "no corpus records: the graph has no descriptions and no triples")

    def writer(split: str):
        return lambda p: p.write_text("\n".join(lines[split]) + ("\n" if lines[split] else ""), encoding="utf-8")

    settings = {"valid_fraction": valid_fraction, "descriptions": descriptions, "triples": triples,
                "max_triples": max_triples, "seed": seed}
    if relation_text_file is not None:
        from kgfm.artifacts import sha256_file

        settings["relation_text"] = {"file": str(relation_text_file), "sha256": sha256_file(Path(relation_text_file))}
    return write_artifact(Path(out), KIND, {"train.jsonl": writer("train"), "valid.jsonl": writer("valid")},
                          {"config": settings, "counts": counts, "source": source,
                           "entities": graph.num_entities, "entity_ids_digest": entity_ids_digest(graph.entity_ids)})


def corpus_digest(src: Path) -> str:
    """The :func:`~kgfm.index.entity_index.entity_ids_digest` of the graph the corpus was built from.

    Raises:
        ArtifactError: a corpus written before mentions carried store idx (rebuild it).
    """
    manifest = read_manifest(Path(src), KIND, verify=False)
    if "entity_ids_digest" not in manifest:
        raise ArtifactError(f"{src}: corpus predates store-idx mentions; rebuild it with `kgfm corpus`")
    return str(manifest["entity_ids_digest"])


def read_corpus(src: Path, split: str = "train") -> list[dict[str, Any]]:
    """Records of one split of a corpus artifact (checksums verified); mentions are ``[start, end, store idx]``.

    Raises:
        ArtifactError: not a corpus artifact, or a tampered file.
        SourceError: a malformed line (file and line named).
    """
    src = Path(src)
    num_entities = int(read_manifest(src, KIND).get("entities", 0))
    path = src / f"{split}.jsonl"
    out = []
    with open(path, encoding="utf-8") as handle:
        for lineno, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                text, mentions = rec["text"], rec["mentions"]
                if not all(0 <= int(s) < int(e) <= len(text) for s, e, _ in mentions):
                    raise ValueError("mention span outside the text")
                if not all(isinstance(i, int) and 0 <= i < num_entities for _, _, i in mentions):
                    raise ValueError(f"mention entity must be a store idx in [0, {num_entities})")
            except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                raise SourceError(str(path), f"line {lineno}: bad corpus record ({exc})") from None
            out.append(rec)
    return out


def main(
    store: Any,
    out: Path,
    relation_text: Path | None = None,
    valid_fraction: float = 0.02,
    descriptions: bool = True,
    triples: bool = True,
    max_triples: int | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """``kgfm corpus``: export the graph from the store and write the corpus artifact.

    Args:
        store: A :class:`~kgfm.config.StoreConfig`.
    """
    from kgfm.store.factory import open_store

    with open_store(store, read_only=True) as graph_store:
        graph = graph_store.export_tensors(with_text=True)
    mapping = read_relation_text(Path(relation_text)) if relation_text else None
    manifest = build_corpus(graph, out, mapping, valid_fraction, descriptions, triples, max_triples, seed,
                            source=f"{store.backend}:{store.path}",
                            relation_text_file=Path(relation_text) if relation_text else None)
    return manifest
