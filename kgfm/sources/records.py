"""The records every source reader yields.

A reader turns one file into a stream of :class:`Triple`, :class:`EntityInfo` and
:class:`Reject` items. Rejects are yielded, never raised, so the loader can apply the
``--on-error fail|skip`` policy in one place. :class:`SourceError` is raised only for
problems that make the whole file unreadable (missing file, unknown format).

:class:`EntityInfo` is also what the store writes: the loader hands the same objects to
:meth:`kgfm.store.base.GraphStore.insert_entities` (the dense ``idx`` travels beside them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

#: A typed literal (or ``rdf:type`` class) as stored, in JSON-LD value-object style:
#: ``{"@value": lexical}`` plus ``"@language": tag`` or ``"@type": datatype IRI`` (absent for
#: ``xsd:string``), ``{"@id": iri}`` for an ``rdf:type`` class, and ``"graph": name`` when the
#: statement was in a named graph.
ValueObject = dict[str, str]


@dataclass(frozen=True, slots=True)
class Triple:
    """One ``head -relation-> tail`` statement.

    Args:
        head: Entity id of the subject (an IRI, a blank-node id ``_:b…`` or a plain string).
        relation: The predicate exactly as written in the source (IRI or string).
        tail: Entity id of the object.
        source: Path of the file it came from.
        line: 1-based line number in that file (0 where the reader does not track lines).
        graph: Graph name (IRI or blank-node id) for quads; ``""`` for the default graph.
    """

    head: str
    relation: str
    tail: str
    source: str = ""
    line: int = 0
    graph: str = ""


@dataclass(frozen=True, slots=True)
class EntityInfo:
    """Attributes of one entity, merged into the entity node on upsert.

    Args:
        id: Entity id.
        name: Preferred display name, the one entity linking uses (see
            :mod:`kgfm.sources.rdf_terms` for the preference order), or a name file's.
        description: Preferred free-text description.
        types: Type names (local names of ``rdf:type`` classes), first seen first.
        props: Every literal-valued statement (and ``rdf:type`` class) of the entity,
            predicate IRI -> list of :data:`ValueObject` in first-seen order; lossless.
        names: Best name per language tag (``""`` = untagged).
        descriptions: Best description per language tag.
    """

    id: str
    name: str | None = None
    description: str | None = None
    types: tuple[str, ...] = ()
    props: dict[str, list[ValueObject]] = field(default_factory=dict, hash=False, compare=False)
    names: dict[str, str] = field(default_factory=dict, hash=False, compare=False)
    descriptions: dict[str, str] = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True, slots=True)
class Reject:
    """A line (or file region) that could not be turned into records.

    Args:
        source: Path of the file.
        line: 1-based line number (0 when unknown).
        reason: Human-readable reason, e.g. ``"expected 3 fields, got 2"``.
        text: The offending raw text (truncated by the reader to a sane length).
        column: 1-based column (0 when unknown).
    """

    source: str
    line: int
    reason: str
    text: str = ""
    column: int = 0

    def where(self) -> str:
        """``file:line[:col]`` (just ``file`` when the line is unknown)."""
        if not self.line:
            return self.source
        return f"{self.source}:{self.line}" + (f":{self.column}" if self.column else "")

    def message(self) -> str:
        """One line: ``file:line[:col]: reason -- 'text'``."""
        return f"{self.where()}: {self.reason}" + (f" -- {self.text!r}" if self.text else "")


Record = Union[Triple, EntityInfo, Reject]


class SourceError(Exception):
    """A file that cannot be read at all (missing, unknown format, unreadable encoding)."""

    def __init__(self, source: str, message: str, line: int = 0, column: int = 0) -> None:
        self.source = source
        self.line = line
        self.column = column
        where = f"{source}:{line}" + (f":{column}" if column and line else "") if line else source
        super().__init__(f"{where}: {message}")
