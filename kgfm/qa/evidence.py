"""Evidence for an answer: KG paths from the topic entity, and a Cypher query to see them.

:func:`rank_paths` orders the store's paths (``GraphStore.paths``) by how much the model's
relation attention supports each one: a path ``r_1 .. r_L`` (each relation read in the path's
direction) gets ``hop[L] * prod_t rel[t, r_t]``. :func:`browser_cypher` writes a Neo4j-dialect
query (values inlined as escaped literals, since it is meant for pasting into Neo4j Browser)
that returns exactly those paths, or -- when none were found -- the shortest paths from the
topic entity to the answers.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch

from kgfm.store.base import PathResult


def cypher_string(value: str) -> str:
    """A Neo4j string literal: double-quoted, with backslashes, quotes and control chars escaped."""
    out = (
        value.replace("\\", "\\\\")
        .replace('"', '\\"')
        .replace("\n", "\\n")
        .replace("\r", "\\r")
        .replace("\t", "\\t")
    )
    return f'"{out}"'


def cypher_name(name: str) -> str:
    """A backtick-quoted relationship type."""
    return "`" + name.replace("`", "``") + "`"


def rank_paths(paths: Sequence[PathResult], rel_attention: torch.Tensor, hop_attention: torch.Tensor,
               rel_index: dict[str, int]) -> list[dict[str, Any]]:
    """Paths as dicts, best supported first.

    Args:
        paths: From ``store.paths(topic, answer)``.
        rel_attention: ``[T, 2R]`` the question's relation attention per step.
        hop_attention: ``[T]`` attention over path lengths.
        rel_index: Relationship type -> relation idx (``GraphTensors.relation_types`` order).
    """
    n_rel = rel_attention.shape[1] // 2
    scored = []
    for path in paths:
        length = len(path)
        support = 0.0
        if 0 < length <= rel_attention.shape[0]:
            support = float(hop_attention[length - 1])
            for step, (rel, direction) in enumerate(zip(path.rels, path.directions)):
                r = rel_index.get(rel)
                if r is None:
                    support = 0.0
                    break
                support *= float(rel_attention[step, r if direction > 0 else r + n_rel])
        scored.append((support, path))
    scored.sort(key=lambda sp: -sp[0])
    return [
        {
            "nodes": list(p.nodes),
            "names": list(p.names),
            "rels": list(p.rels),
            "directions": list(p.directions),
            "support": round(s, 6),
            "text": path_text(p),
        }
        for s, p in scored
    ]


def path_text(path: PathResult) -> str:
    """``Kismet -[directed_by]-> William Dieterle <-[directed_by]- ...``"""
    parts = [path.names[0] or path.nodes[0]]
    for i, (rel, direction) in enumerate(zip(path.rels, path.directions)):
        arrow = f"-[{rel}]->" if direction > 0 else f"<-[{rel}]-"
        parts.append(arrow)
        parts.append(path.names[i + 1] or path.nodes[i + 1])
    return " ".join(parts)


def _pattern(path: dict[str, Any]) -> str:
    nodes, rels, dirs = path["nodes"], path["rels"], path["directions"]
    out = f"(n0:Entity {{id: {cypher_string(nodes[0])}}})"
    for i, (rel, direction) in enumerate(zip(rels, dirs)):
        edge = f"[:{cypher_name(rel)}]"
        out += f"-{edge}->" if direction > 0 else f"<-{edge}-"
        out += f"(n{i + 1}:Entity {{id: {cypher_string(nodes[i + 1])}}})"
    return out


def browser_cypher(topic_id: str, answers: Sequence[Any], max_hops: int) -> str:
    """Neo4j Browser query showing the evidence subgraph of the answers (also runs on the embedded store).

    Args:
        topic_id: The linked topic entity id.
        answers: Items with ``id`` and ``paths`` (dicts from :func:`rank_paths`).
        max_hops: Path length bound for the fallback query.
    """
    evidence = [p for a in answers for p in getattr(a, "paths", [])]
    if evidence:
        seen: list[str] = []
        for p in evidence:
            pattern = _pattern(p)
            if pattern not in seen:
                seen.append(pattern)
        return "\nUNION\n".join(f"MATCH p = {pat} RETURN p" for pat in seen)
    ids = ", ".join(cypher_string(a.id) for a in answers)
    # a plain variable-length pattern: runs on Neo4j and LadybugDB alike (LadybugDB has no allShortestPaths)
    return (
        f"MATCH p = (a:Entity {{id: {cypher_string(topic_id)}}})-[*1..{int(max_hops)}]-(b:Entity) "
        f"WHERE b.id IN [{ids}] RETURN p LIMIT 100"
    )
