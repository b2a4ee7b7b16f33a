"""QA fixtures: a hand-made movie KB (as GraphTensors and as a real LadybugDB store) and questions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kgfm.store.base import GraphTensors

KB = """\
Kismet|directed_by|William Dieterle
Kismet|starred_actors|Marlene Dietrich
Kismet|starred_actors|Ronald Colman
Kismet|release_year|1944
Kismet|in_language|English
The Blue Angel|starred_actors|Marlene Dietrich
The Blue Angel|directed_by|Josef von Sternberg
The Blue Angel|release_year|1930
The Blue Angel|in_language|German
Morocco|directed_by|Josef von Sternberg
Morocco|starred_actors|Marlene Dietrich
Morocco|starred_actors|Gary Cooper
Morocco|release_year|1930
Morocco|in_language|English
Juarez|directed_by|William Dieterle
Juarez|starred_actors|Bette Davis
Juarez|release_year|1939
Juarez|in_language|English
Jezebel|starred_actors|Bette Davis
Jezebel|directed_by|William Wyler
Jezebel|release_year|1938
Jezebel|in_language|English
The Letter|starred_actors|Bette Davis
The Letter|directed_by|William Wyler
The Letter|release_year|1940
The Letter|in_language|English
Desire|starred_actors|Marlene Dietrich
Desire|starred_actors|Gary Cooper
Desire|directed_by|Frank Borzage
Desire|release_year|1936
Desire|in_language|English
"""

QUESTIONS = """\
who directed [Kismet]\tWilliam Dieterle
who directed [Juarez]\tWilliam Dieterle
who directed [Jezebel]\tWilliam Wyler
who directed [The Letter]\tWilliam Wyler
who directed [Morocco]\tJosef von Sternberg
who directed [Desire]\tFrank Borzage
which movies did [Marlene Dietrich] act in\tKismet|The Blue Angel|Morocco|Desire
which movies did [Bette Davis] act in\tJuarez|Jezebel|The Letter
which movies did [Gary Cooper] act in\tMorocco|Desire
which movies did [Ronald Colman] act in\tKismet
when was [Kismet] released\t1944
when was [Morocco] released\t1930
when was [Jezebel] released\t1938
when was [The Letter] released\t1940
when was [Desire] released\t1936
which movies did [William Wyler] direct\tJezebel|The Letter
which movies did [Josef von Sternberg] direct\tThe Blue Angel|Morocco
which movies did [William Dieterle] direct\tKismet|Juarez
which movies did [Frank Borzage] direct\tDesire
when was [Juarez] released\t1939
"""


def _graph(kb: str) -> GraphTensors:
    ents: dict[str, int] = {}
    rels: dict[str, int] = {}
    h, r, t = [], [], []
    for line in kb.strip().splitlines():
        a, rel, b = line.split("|")
        for e in (a, b):
            ents.setdefault(e, len(ents))
        rels.setdefault(rel, len(rels))
        h.append(ents[a])
        r.append(rels[rel])
        t.append(ents[b])
    ids = list(ents)
    return GraphTensors(ids, list(ids), list(rels), list(rels), np.array(h), np.array(r), np.array(t))


@pytest.fixture
def tiny_graph() -> GraphTensors:
    return _graph(KB)


@pytest.fixture
def kb_file(tmp_path: Path) -> Path:
    path = tmp_path / "kb.txt"
    path.write_text(KB, encoding="utf-8")
    return path


@pytest.fixture
def qa_file(tmp_path: Path) -> Path:
    path = tmp_path / "qa.txt"
    path.write_text(QUESTIONS, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def qa_inputs(tmp_path_factory) -> tuple[Path, Path]:
    """``(kb file, questions file)`` in a module-scoped temporary folder."""
    root = tmp_path_factory.mktemp("qa-inputs")
    kb = root / "kb.txt"
    kb.write_text(KB, encoding="utf-8")
    qa = root / "qa.txt"
    qa.write_text(QUESTIONS, encoding="utf-8")
    return kb, qa
