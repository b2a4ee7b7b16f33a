"""bench/para_halves.py: the fixed split of the paraphrase set and the paired comparison, hand-checked."""

from __future__ import annotations

from pathlib import Path

import pytest


LINES = [f"who directed [Film {i}]\tPerson {i}" for i in range(40)]
TYPES = ["movie_to_director" if i % 3 else "movie_to_year" for i in range(40)]


@pytest.fixture(scope="module")
def halves(load_bench):
    return load_bench("para_halves")


def write(tmp_path: Path, lines: list[str], types: list[str]) -> tuple[Path, Path]:
    qa, qt = tmp_path / "qa_dev.txt", tmp_path / "qa_dev_qtype.txt"
    qa.write_text("".join(x + "\n" for x in lines))
    qt.write_text("".join(x + "\n" for x in types))
    return qa, qt


def read_half(out: Path, half: str) -> list[tuple[str, str]]:
    return list(zip((out / f"{half}.txt").read_text().splitlines(), (out / f"{half}_qtype.txt").read_text().splitlines()))


def test_halves_partition_the_file_and_keep_types_aligned(halves, tmp_path):
    info = halves.split_halves(*write(tmp_path, LINES, TYPES), tmp_path / "out")
    a, b = read_half(tmp_path / "out", "A"), read_half(tmp_path / "out", "B")
    assert info["A"]["questions"] == len(a) and info["B"]["questions"] == len(b)
    assert 0 < len(a) < 40 and len(a) + len(b) == 40
    assert sorted(a + b) == sorted(zip(LINES, TYPES))  # every line once, with its own type


def test_a_line_keeps_its_half_whatever_else_the_file_holds(halves, tmp_path):
    (tmp_path / "1").mkdir()
    (tmp_path / "2").mkdir()
    first = halves.split_halves(*write(tmp_path / "1", LINES, TYPES), tmp_path / "o1")
    order = list(range(39, -1, -1))[:30]  # reversed, and ten lines dropped
    halves.split_halves(*write(tmp_path / "2", [LINES[i] for i in order], [TYPES[i] for i in order]), tmp_path / "o2")
    a1 = {line for line, _ in read_half(tmp_path / "o1", "A")}
    a2 = {line for line, _ in read_half(tmp_path / "o2", "A")}
    assert a2 == a1 & {LINES[i] for i in order}
    again = halves.split_halves(*write(tmp_path / "1", LINES, TYPES), tmp_path / "o1")
    assert again == first  # same bytes, same checksums


def test_misaligned_type_file_is_a_one_line_error(halves, tmp_path):
    with pytest.raises(SystemExit, match="qa_dev_qtype.txt: 39 lines, but .*qa_dev.txt has 40"):
        halves.split_halves(*write(tmp_path, LINES, TYPES[:39]), tmp_path / "out")


def test_pair_is_a_minus_b_on_common_seeds(halves):
    def runs(hits):
        return {s: {"hits@1": h, "per_qtype": {"t": h / 2}} for s, h in hits.items()}

    doc = halves.pair(runs({0: 0.90, 1: 0.80, 2: 0.70, 5: 0.1}), runs({0: 0.85, 1: 0.82, 2: 0.66}))
    assert doc["seeds"] == [0, 1, 2] and doc["per_seed_diff_points"] == [5.0, -2.0, 4.0] and doc["wins"] == 2
    # d = (5, -2, 4): mean 7/3, sd sqrt(43/3), t = mean / (sd / sqrt 3)
    assert doc["mean_diff_points"] == pytest.approx(7 / 3)
    assert doc["t"] == pytest.approx((7 / 3) / ((43 / 3) ** 0.5 / 3 ** 0.5))
    assert doc["per_qtype_diff_points"] == {"t": pytest.approx(7 / 6, abs=0.01)}
    assert halves.pair(runs({0: 0.9}), runs({0: 0.8})) is None  # one seed: no test


def test_trained_runs_go_tag_by_tag_and_name_a_missing_model(halves, tmp_path):
    for name in ("1hop-a-s0", "1hop-a-s1", "1hop-b-s0"):
        (tmp_path / name / "model").mkdir(parents=True)
        (tmp_path / name / "model" / "manifest.json").write_text("{}")
    assert [(t, s) for t, s, _ in halves.trained_runs(tmp_path, ["a", "b"], [0])] == [("a", 0), ("b", 0)]
    runs = halves.trained_runs(tmp_path, ["a", "b"], [0, 1])
    assert [next(runs)[2].name for _ in range(3)] == ["1hop-a-s0", "1hop-a-s1", "1hop-b-s0"]
    with pytest.raises(SystemExit, match="1hop-b-s1: no trained model"):
        next(runs)
