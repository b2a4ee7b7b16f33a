"""Readers for entity name / description files that sit beside a triple file.

Kinds:

* ``"name"`` (what ``"auto"`` means for text files): ``id<TAB>name`` per line, e.g.
  FB15k-237 ``entity2text.txt`` (``/m/06rf7<TAB>Schleswig-Holstein``);
* ``"description"``: ``id<TAB>description`` per line;
* ``"name-gloss"``: WN18RR ``entity2text.txt``, ``synset<TAB>lemma, gloss`` -> name = lemma,
  description = gloss (split at the first ``", "``). Must be asked for explicitly: a
  name containing a comma would be mis-split by guessing;
* ``"wikidata-json"`` (what ``"auto"`` means for ``.json``): FB15k-237
  ``entity2wikidata.json``, ``{id: {"label": ..., "description": ...}}`` -> name = label,
  description = description.

They yield :class:`EntityInfo` for every row, including ids the graph does not contain
(the loader only updates entities that exist), and :class:`Reject` for bad rows.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

from kgfm.sources.formats import READ_ERRORS, bad_utf8, base_suffix, clip, open_text, read_error, read_whole_text
from kgfm.sources.records import EntityInfo, Reject, SourceError

ENTITY_TEXT_KINDS: tuple[str, ...] = ("auto", "name", "description", "name-gloss", "wikidata-json")


def resolve_kind(path: Path, kind: str = "auto") -> str:
    """The concrete kind for ``path``: ``kind`` itself, or for ``"auto"`` ``"wikidata-json"``
    on ``.json`` files and ``"name"`` otherwise.

    Raises:
        SourceError: unknown kind.
    """
    if kind not in ENTITY_TEXT_KINDS:
        raise SourceError(str(path), f"unknown entity text kind {kind!r}; valid: {', '.join(ENTITY_TEXT_KINDS)}")
    if kind != "auto":
        return kind
    return "wikidata-json" if base_suffix(Path(path)) == ".json" else "name"


def read_entity_text(path: Path, kind: str = "auto") -> Iterator[EntityInfo | Reject]:
    """Stream :class:`EntityInfo` (and :class:`Reject`) records from an entity text file.

    Args:
        path: The file (plain or ``.gz``).
        kind: One of :data:`ENTITY_TEXT_KINDS` (see the module docstring).

    Raises:
        SourceError: missing/unreadable file, unknown kind, or a JSON file that is not an
            object of objects.
    """
    path = Path(path)
    concrete = resolve_kind(path, kind)
    if concrete == "wikidata-json":
        return _read_wikidata_json(path)
    return _read_tab_text(path, concrete)


def _read_tab_text(path: Path, kind: str) -> Iterator[EntityInfo | Reject]:
    source = str(path)
    lineno = 0
    with open_text(path) as handle:
        try:
            for lineno, raw in enumerate(handle, 1):
                line = raw.rstrip("\r\n")
                if not line.strip():
                    continue
                if not raw.isascii() and bad_utf8(raw):
                    yield Reject(source, lineno, "invalid UTF-8 bytes", clip(raw))
                    continue
                entity_id, tab, text = line.partition("\t")
                entity_id, text = entity_id.strip(), text.strip()
                if not tab:
                    yield Reject(source, lineno, "expected id<TAB>text, found no TAB", clip(line))
                    continue
                if not entity_id or not text:
                    which = "id" if not entity_id else "text"
                    yield Reject(source, lineno, f"empty {which}", clip(line))
                    continue
                if kind == "name":
                    yield EntityInfo(entity_id, name=text)
                elif kind == "description":
                    yield EntityInfo(entity_id, description=text)
                else:  # name-gloss
                    name, sep, gloss = text.partition(", ")
                    yield EntityInfo(entity_id, name=name.strip(), description=gloss.strip() if sep else None)
        except READ_ERRORS as exc:
            raise read_error(path, exc, lineno + 1) from None


def _read_wikidata_json(path: Path) -> Iterator[EntityInfo | Reject]:
    source = str(path)
    text, bad_line = read_whole_text(path)
    if bad_line:
        raise SourceError(source, "invalid UTF-8 bytes", bad_line)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SourceError(source, f"invalid JSON: {exc.msg} (column {exc.colno})", exc.lineno) from None
    if not isinstance(data, dict):
        raise SourceError(source, f"expected a JSON object {{id: {{label, description}}}}, got {type(data).__name__}")
    for entity_id, entry in data.items():
        if not isinstance(entry, dict):
            yield Reject(source, 0, f"entry {entity_id!r} is not an object", clip(repr(entry)))
            continue
        name = entry.get("label")
        description = entry.get("description")
        name = name.strip() if isinstance(name, str) and name.strip() else None
        description = description.strip() if isinstance(description, str) and description.strip() else None
        wikidata_id = entry.get("wikidata_id")
        props = {"wikidata_id": [{"@value": wikidata_id}]} if isinstance(wikidata_id, str) and wikidata_id else {}
        if name is None and description is None and not props:
            continue
        yield EntityInfo(str(entity_id), name=name, description=description, props=props)


__all__ = ["ENTITY_TEXT_KINDS", "read_entity_text", "resolve_kind"]
