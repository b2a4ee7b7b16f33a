"""The records every source reader yields.

A reader turns one file into a stream of :class:`Triple`, :class:`EntityInfo` and
:class:`Reject` items. Rejects are yielded, never raised, so the loader can apply the
``--on-error fail|skip`` policy in one place. :class:`SourceError` is raised only for
problems that make the whole file unreadable (missing file, unknown format).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union


@dataclass(frozen=True, slots=True)
class Triple:
    """One ``head -relation-> tail`` statement.

    Args:
        head: Entity id of the subject (an IRI, a blank-node id ``_:b…`` or a plain string).
        relation: The predicate exactly as written in the source (IRI or string).
        tail: Entity id of the object.
        source: Path of the file it came from.
        line: 1-based line number in that file (0 where the format has no lines).
    """

    head: str
    relation: str
    tail: str
    source: str = ""
    line: int = 0


@dataclass(frozen=True, slots=True)
class EntityInfo:
    """Attributes of one entity, merged into the entity node on upsert.

    Args:
        id: Entity id.
        name: Display name (``rdfs:label`` etc., or a name file).
        description: Free-text description.
        types: Type names (``rdf:type`` objects, as compact strings).
        props: Literal-valued properties, predicate -> value (string form).
    """

    id: str
    name: str | None = None
    description: str | None = None
    types: tuple[str, ...] = ()
    props: dict[str, str] = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True, slots=True)
class Reject:
    """A line (or file region) that could not be turned into records.

    Args:
        source: Path of the file.
        line: 1-based line number (0 when unknown).
        reason: Human-readable reason, e.g. ``"expected 3 fields, got 2"``.
        text: The offending raw text (truncated by the reader to a sane length).
    """

    source: str
    line: int
    reason: str
    text: str = ""

    def message(self) -> str:
        where = f"{self.source}:{self.line}" if self.line else self.source
        return f"{where}: {self.reason}" + (f" -- {self.text!r}" if self.text else "")


Record = Union[Triple, EntityInfo, Reject]


class SourceError(Exception):
    """A file that cannot be read at all (missing, unknown format, unreadable encoding)."""

    def __init__(self, source: str, message: str, line: int = 0) -> None:
        self.source = source
        self.line = line
        where = f"{source}:{line}" if line else source
        super().__init__(f"{where}: {message}")
