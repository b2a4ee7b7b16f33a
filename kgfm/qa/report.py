"""Human-readable printing of :class:`kgfm.qa.answer.QAResult` (``kgfm qa`` without ``--json``)."""

from __future__ import annotations

import sys
from typing import Sequence, TextIO


def print_results(results: Sequence["object"], out: TextIO | None = None) -> None:
    """Print each question's topic, ranked answers with their best evidence paths, and the Cypher."""
    out = out or sys.stdout
    for n, r in enumerate(results):
        if n:
            print("", file=out)
        print(f"Q: {r.question}", file=out)
        if r.error:
            print(f"   {r.error}", file=out)
            continue
        t = r.topic
        label = t["name"] or t["id"]
        extra = f" (id {t['id']})" if t["name"] and t["name"] != t["id"] else ""
        print(f"   topic entity: {label}{extra}  [linked from {t['surface']!r}, score {t['link_score']:.2f}]", file=out)
        if r.answers:
            print("   rank  share (cumulative)  answer   [share: of the model's probability over the candidates]", file=out)
        for rank, a in enumerate(r.answers, start=1):
            print(f"{rank:6d}. {a.score:7.4f} ({getattr(a, 'cumulative', 0.0):6.4f})  {a.name or a.id}", file=out)
            for p in a.paths:
                print(f"          via {p['text']}", file=out)
        if r.cypher:
            print("   evidence in Neo4j Browser:", file=out)
            for line in r.cypher.splitlines():
                print(f"     {line}", file=out)
