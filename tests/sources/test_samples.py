"""The bundled sample graphs in graphs/: current, parseable, and QA answers true to the KB."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

from kgfm.sources import read_source
from kgfm.sources.records import EntityInfo, Reject, Triple

# the relation path of each question type, as (relation, +1 forward / -1 backward) hops
QTYPE_PATHS = {
    "movie_to_director": [("directed_by", 1)],
    "director_to_movie": [("directed_by", -1)],
    "movie_to_writer": [("written_by", 1)],
    "writer_to_movie": [("written_by", -1)],
    "movie_to_actor": [("starred_actors", 1)],
    "actor_to_movie": [("starred_actors", -1)],
    "movie_to_year": [("release_year", 1)],
    "movie_to_language": [("in_language", 1)],
    "movie_to_genre": [("has_genre", 1)],
    "movie_to_tags": [("has_tags", 1)],
    "tag_to_movie": [("has_tags", -1)],
    "actor_to_movie_to_director": [("starred_actors", -1), ("directed_by", 1)],
    "director_to_movie_to_actor": [("directed_by", -1), ("starred_actors", 1)],
    "actor_to_movie_to_writer": [("starred_actors", -1), ("written_by", 1)],
    "writer_to_movie_to_director": [("written_by", -1), ("directed_by", 1)],
    "actor_to_movie_to_year": [("starred_actors", -1), ("release_year", 1)],
    "director_to_movie_to_genre": [("directed_by", -1), ("has_genre", 1)],
    "actor_to_movie_to_language": [("starred_actors", -1), ("in_language", 1)],
    "movie_to_director_to_movie": [("directed_by", 1), ("directed_by", -1)],
    "movie_to_actor_to_movie": [("starred_actors", 1), ("starred_actors", -1)],
}


def test_committed_samples_are_current(graphs_dir: Path) -> None:
    result = subprocess.run([sys.executable, str(graphs_dir / "make_samples.py"), "--check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def _kb(graphs_dir: Path) -> list[Triple]:
    records = list(read_source(graphs_dir / "movies_kb.txt"))
    assert not [r for r in records if not isinstance(r, Triple)]
    return records


def test_movies_kb_shape(graphs_dir: Path) -> None:
    triples = _kb(graphs_dir)
    movies = {t.head for t in triples}
    people = {t.tail for t in triples if t.relation in ("directed_by", "written_by", "starred_actors")}
    assert len(movies) == 60 and len(people) >= 110
    assert len({(t.head, t.relation, t.tail) for t in triples}) == len(triples)
    assert {t.relation for t in triples} == {
        "directed_by", "written_by", "starred_actors", "release_year", "in_language", "has_genre", "has_tags"}
    assert all(sum(1 for t in triples if t.head == m and t.relation == "release_year") == 1 for m in movies)


def _read_qa(path: Path) -> list[tuple[str, str, list[str]]]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        question, answers = line.split("\t")
        topic = re.search(r"\[(.+?)\]", question).group(1)
        out.append((question, topic, answers.split("|")))
    return out


def test_qa_answers_match_kb_and_splits_are_disjoint(graphs_dir: Path) -> None:
    index: dict = defaultdict(lambda: defaultdict(set))
    for t in _kb(graphs_dir):
        index[(t.relation, 1)][t.head].add(t.tail)
        index[(t.relation, -1)][t.tail].add(t.head)
    seen = {}
    for split in ("train", "test"):
        qa = _read_qa(graphs_dir / f"movies_qa_{split}.txt")
        qtypes = (graphs_dir / f"movies_qa_{split}_qtype.txt").read_text().split()
        assert len(qa) == len(qtypes) and len(qa) >= (800 if split == "train" else 100)
        for (question, topic, answers), qtype in zip(qa, qtypes):
            frontier = {topic}
            for hop in QTYPE_PATHS[qtype]:
                frontier = {y for x in frontier for y in index[hop][x]}
            frontier.discard(topic)
            assert sorted(frontier) == answers, question
        seen[split] = {(qtype, topic) for (_, topic, _), qtype in zip(qa, qtypes)}, {q for q, _, _ in qa}
    assert not seen["train"][0] & seen["test"][0]
    assert not seen["train"][1] & seen["test"][1]
    assert len({q for q in seen["test"][0]}) >= 18  # most question types appear in test


def test_movies_ttl_agrees_with_kb(graphs_dir: Path) -> None:
    records = list(read_source(graphs_dir / "movies.ttl"))
    assert not [r for r in records if isinstance(r, Reject)]
    infos = {r.id: r for r in records if isinstance(r, EntityInfo)}
    triples = [r for r in records if isinstance(r, Triple)]
    entities = {x for t in triples for x in (t.head, t.tail)}
    assert 40 <= len(entities) <= 80
    kb_directors = {(t.head, t.tail) for t in _kb(graphs_dir) if t.relation == "directed_by"}
    ttl_directors = {
        (infos[t.head].name, infos[t.tail].name) for t in triples if t.relation == "http://schema.org/director"
    }
    assert len(ttl_directors) == 8 and ttl_directors <= kb_directors
    bnodes = [i for i in infos.values() if i.id.startswith("_:b")]
    assert len(bnodes) == 2 and all(i.types == ("AggregateRating",) for i in bnodes)
    english = infos["http://example.org/movies/lang_English"]
    assert english.name == "English"  # the @en label beats the @de one


def test_bad_files_reject_documented_lines(graphs_dir: Path) -> None:
    def outcome(name: str) -> tuple[list[int], int]:
        records = list(read_source(graphs_dir / "bad" / name))
        return [r.line for r in records if isinstance(r, Reject)], sum(isinstance(r, Triple) for r in records)

    assert outcome("bad_fields.tsv") == ([3, 5], 3)
    assert outcome("syntax_error.ttl") == ([6], 1)  # the statement before the error is kept
    assert outcome("one_bad_line.nt") == ([3], 1)
