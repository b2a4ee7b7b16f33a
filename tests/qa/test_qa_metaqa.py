"""MetaQA reader, question types, the seeded split and the answerable ceiling."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kgfm.qa.metaqa import (
    EntityLookup,
    QADataError,
    answerable_ceiling,
    metaqa_files,
    read_qa_file,
    resolve,
    split_train_valid,
)


def test_reads_questions_topics_answers(qa_file: Path):
    examples = read_qa_file(qa_file)
    assert len(examples) == 20
    first = examples[6]
    assert first.topic == "Marlene Dietrich"
    assert first.answers == ("Kismet", "The Blue Angel", "Morocco", "Desire")
    assert first.plain_text == "which movies did Marlene Dietrich act in"
    assert first.line == 7


@pytest.mark.parametrize(
    "line, reason",
    [
        ("who directed [Kismet] William Dieterle", "no TAB"),
        ("who directed Kismet\tWilliam Dieterle", "no [bracketed] topic"),
        ("who directed [Kismet]\t | ", "no answers"),
    ],
)
def test_bad_line_names_file_and_line(tmp_path: Path, line: str, reason: str):
    path = tmp_path / "bad.txt"
    path.write_text("who directed [Morocco]\tJosef von Sternberg\n\n" + line + "\n", encoding="utf-8")
    with pytest.raises(QADataError) as err:
        read_qa_file(path)
    assert f"{path}:3:" in str(err.value)
    assert reason in str(err.value)


def test_missing_file_and_short_qtype_file(tmp_path: Path, qa_file: Path):
    with pytest.raises(QADataError, match="not found"):
        read_qa_file(tmp_path / "nope.txt")
    qtype = tmp_path / "qtype.txt"
    qtype.write_text("movie_to_director\n" * 5, encoding="utf-8")
    with pytest.raises(QADataError, match="has 5 lines, the QA file has 20"):
        read_qa_file(qa_file, qtype)


def test_qtypes_align_line_by_line(tmp_path: Path, qa_file: Path):
    qtype = tmp_path / "qtype.txt"
    qtype.write_text("".join(f"type{i % 3}\n" for i in range(20)), encoding="utf-8")
    examples = read_qa_file(qa_file, qtype)
    assert [e.qtype for e in examples[:4]] == ["type0", "type1", "type2", "type0"]


def test_3hop_test_is_refused_with_a_hint(tmp_path: Path):
    (tmp_path / "3-hop" / "vanilla").mkdir(parents=True)
    with pytest.raises(QADataError, match="withheld on purpose"):
        metaqa_files(tmp_path, 3, "test")


def test_split_is_deterministic_disjoint_and_stratified(tmp_path: Path, qa_file: Path):
    qtype = tmp_path / "qtype.txt"
    qtype.write_text("".join(f"type{i % 2}\n" for i in range(20)), encoding="utf-8")
    examples = read_qa_file(qa_file, qtype)
    train_a, valid_a = split_train_valid(examples, 0.2, seed=7)
    train_b, valid_b = split_train_valid(examples, 0.2, seed=7)
    _, valid_c = split_train_valid(examples, 0.2, seed=8)
    assert valid_a == valid_b and train_a == train_b
    assert {e.line for e in valid_a} != {e.line for e in valid_c}
    assert len(valid_a) == 4 and len(train_a) == 16
    assert not {e.line for e in valid_a} & {e.line for e in train_a}
    assert sorted(e.qtype for e in valid_a) == ["type0", "type0", "type1", "type1"]


def test_ceiling_counts_reachable_gold_within_hops_ignoring_direction(tiny_graph, tmp_path: Path):
    path = tmp_path / "q.txt"
    path.write_text(
        "who directed [Kismet]\tWilliam Dieterle\n"  # 1 hop, forward
        "what did [William Dieterle] direct\tJuarez\n"  # 1 hop, against the edge direction
        "who acted with [Ronald Colman]\tMarlene Dietrich\n"  # 2 hops
        "who directed films with [Gary Cooper]\tJosef von Sternberg|Nobody Known\n"  # 2 hops, one gold missing
        "what is [Kismet]\tKismet\n"  # the topic itself never counts
        "who is [Nobody Known]\tKismet\n",  # unknown topic
        encoding="utf-8",
    )
    resolved = resolve(read_qa_file(path), EntityLookup(tiny_graph))
    assert resolved.missing_answers == 1
    assert resolved.topic_idx[-1] == -1
    np.testing.assert_array_equal(answerable_ceiling(tiny_graph, resolved, 1), [1, 1, 0, 0, 0, 0])
    np.testing.assert_array_equal(answerable_ceiling(tiny_graph, resolved, 2), [1, 1, 1, 1, 0, 0])


def test_lookup_exact_then_casefolded(tiny_graph):
    lookup = EntityLookup(tiny_graph)
    assert lookup.get("Kismet") == tiny_graph.entity_ids.index("Kismet")
    assert lookup.get("the blue angel") == tiny_graph.entity_ids.index("The Blue Angel")
    assert lookup.get("Casablanca") == -1


def test_sample_indices_is_the_eval_sample():
    from kgfm.qa.metaqa import sample_indices

    # every question when there is no limit or it is not smaller than the set
    assert sample_indices(5, None).tolist() == [0, 1, 2, 3, 4]
    assert sample_indices(5, 0).tolist() == [0, 1, 2, 3, 4]
    assert sample_indices(5, 9).tolist() == [0, 1, 2, 3, 4]
    # the seeded draw the published figures were scored on (seed 0, sorted, no repeats)
    got = sample_indices(1000, 7)
    assert got.tolist() == sorted(np.random.default_rng(0).choice(1000, size=7, replace=False).tolist())
    assert len(set(got.tolist())) == 7 and got.tolist() == sample_indices(1000, 7).tolist()
