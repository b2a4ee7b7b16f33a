"""Relationship-type names: from a predicate (IRI or string) to a valid, unique identifier.

Both backends use the same names, so the same read Cypher works on both. LadybugDB treats
table names case-insensitively and Neo4j does not, so uniqueness is checked casefolded.
The original predicate is always kept on every relationship as ``r.predicate``.
"""

from __future__ import annotations

import hashlib
import re

_NON_IDENT = re.compile(r"[^0-9A-Za-z_]+")
_MAX_LEN = 96
RESERVED = {"entity", "relationtype"}


def _local_part(predicate: str) -> str:
    """The last segment of an IRI (after ``#`` or ``/``); strings without ``://`` are kept whole."""
    if "://" in predicate or predicate.startswith("urn:"):
        for sep in ("#", "/", ":"):
            head, _, tail = predicate.rstrip("/#").rpartition(sep)
            if head and tail:
                return tail
    return predicate


def base_name(predicate: str) -> str:
    """A valid identifier for ``predicate`` (may collide with another predicate's)."""
    name = _NON_IDENT.sub("_", _local_part(predicate)).strip("_")
    name = re.sub(r"_+", "_", name)
    if not name:
        name = "rel"
    if name[0].isdigit():
        name = "r_" + name
    if name.casefold() in RESERVED:
        name = name + "_rel"
    if len(name) > _MAX_LEN:
        digest = hashlib.sha1(predicate.encode("utf-8")).hexdigest()[:8]
        name = f"{name[: _MAX_LEN - 9]}_{digest}"
    return name


def rel_type_name(predicate: str, taken: dict[str, str]) -> str:
    """Pick the relationship type for ``predicate``.

    Args:
        predicate: The original predicate string.
        taken: Casefolded type name -> predicate already using it (updated in place).

    Returns:
        ``base_name(predicate)``, or that name with ``_2``, ``_3``… when another predicate
        already holds it (compared casefolded).
    """
    name = base_name(predicate)
    candidate, n = name, 1
    while candidate.casefold() in taken and taken[candidate.casefold()] != predicate:
        n += 1
        candidate = f"{name}_{n}"
    taken[candidate.casefold()] = predicate
    return candidate


def quote_identifier(name: str) -> str:
    """Backtick-quote a label/type name for Cypher (both dialects)."""
    return "`" + name.replace("`", "``") + "`"
