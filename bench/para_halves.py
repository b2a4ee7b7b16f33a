"""Score trained 1-hop runs on one fixed half of MetaQA's paraphrased dev set (issue 13, item 3).

Changing the pretraining corpus after looking at the paraphrases would fit the evaluation set. This
splits the 9,992 paraphrased questions of ``1-hop/ntm/qa_dev.txt`` into two fixed halves, by the
parity of the SHA-256 of each line (question and answers), so the split depends on nothing but the
file: half **A** may be read and tuned on, half **B** is only scored. It writes the halves (with
their aligned question types) under ``--halves-dir``, re-scores each run named by ``--tags`` and
``--seeds`` (folders ``{work}/1hop-{tag}-s{seed}`` as ``bench_qa_seeds.py`` writes them) on the chosen
half with ``kgfm eval``, and reports Hits@1 per tag (mean +- sd over seeds, fusion switched off, per
question type) and, for every pair of tags, the paired difference and t-test on the seeds both have.
Nothing is retrained; an evaluation already written for the same half (its checksum is in the file name) is
reused.

    python bench/para_halves.py --half B --work runs/qa-seeds-1hop-alltrain --seeds 0 1 2 \
        --tags plain-logpath fusion-pretrained3k-templates-logpath --out bench/results/para_half_B.json
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import sys
import time
from pathlib import Path

import numpy as np
from _emit import emit
from compare_qa_seeds import paired

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
METAQA = REPO.parent / "shared" / "data" / "MetaQA"


def split_halves(qa_file: Path, qtype_file: Path, out_dir: Path) -> dict[str, dict]:
    """Write ``A.txt``/``A_qtype.txt`` and ``B.txt``/``B_qtype.txt``; return each half's size and checksum."""
    lines = qa_file.read_text(encoding="utf-8").splitlines()
    types = qtype_file.read_text(encoding="utf-8").splitlines()
    if len(lines) != len(types):
        raise SystemExit(f"{qtype_file}: {len(types)} lines, but {qa_file} has {len(lines)}")
    halves: dict[str, list[int]] = {"A": [], "B": []}
    for i, line in enumerate(lines):
        halves["AB"[int(hashlib.sha256(line.encode("utf-8")).hexdigest(), 16) % 2]].append(i)
    out_dir.mkdir(parents=True, exist_ok=True)
    info = {}
    for half, rows in halves.items():
        text = "".join(lines[i] + "\n" for i in rows)
        for name, body in ((f"{half}.txt", text), (f"{half}_qtype.txt", "".join(types[i] + "\n" for i in rows))):
            path = out_dir / name
            if not path.is_file() or path.read_text(encoding="utf-8") != body:
                tmp = path.with_suffix(".tmp")
                tmp.write_text(body, encoding="utf-8")
                tmp.replace(path)
        info[half] = {"questions": len(rows), "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
                      "file": str(out_dir / f"{half}.txt")}
    return info


def score_run(run: Path, half: str, half_info: dict, halves_dir: Path) -> dict:
    """Hits@1 (and per type, and fusion switched off) of one trained run on the half."""
    from kgfm.qa.evaluate import run_eval

    out = run / f"eval-ntm-dev-half{half}-{half_info['sha256'][:12]}.json"  # the split's checksum in the name
    if out.is_file():
        result = json.loads(out.read_text())
    else:
        result = run_eval(run / "model", file=halves_dir / f"{half}.txt",
                          qtype_file=halves_dir / f"{half}_qtype.txt", out_path=out)
    main = result["plain_encoder" if result["encoder_kind"] == "plain" else "with_fusion"]
    entry = {"hits@1": main["hits@1"], "per_qtype": {t: v["hits@1"] for t, v in main.get("per_qtype", {}).items()},
             "questions": result["questions"]}
    if "without_fusion" in result:
        entry["fusion_off_hits@1"] = result["without_fusion"]["hits@1"]
    return entry


def trained_runs(work: Path, tags: list[str], seeds: list[int]):  # noqa: ANN201  (an iterator)
    """``(tag, seed, run folder)`` for each tag and seed, in order; a missing model stops with its folder named."""
    for tag in tags:
        for seed in seeds:
            run = work / f"1hop-{tag}-s{seed}"
            if not (run / "model" / "manifest.json").is_file():
                raise SystemExit(f"{run}: no trained model (train it with bench_qa_seeds.py first)")
            yield tag, seed, run


def describe(values: list[float]) -> dict:
    v = np.array(values)
    return {"mean": float(v.mean()), "sd": float(v.std(ddof=1)) if len(v) > 1 else None, "n": len(v)}


def pair(a: dict[int, dict], b: dict[int, dict]) -> dict | None:
    """``compare_qa_seeds.paired`` on the seeds both tags have; None below two (no test)."""
    out = paired(a, b)
    return out if out is not None and len(out["seeds"]) >= 2 else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--half", choices=("A", "B"), required=True, help="A: the half tuned on; B: the held-out half")
    ap.add_argument("--work", type=Path, required=True, help="folder of bench_qa_seeds.py runs")
    ap.add_argument("--tags", nargs="+", required=True,
                    help="run tags, e.g. plain-logpath (folders {work}/1hop-{tag}-s{seed}); pairs are A minus B "
                         "in the order given")
    ap.add_argument("--seeds", nargs="+", type=int, required=True)
    ap.add_argument("--halves-dir", type=Path, default=REPO / "runs" / "para-halves")
    ap.add_argument("--paraphrases", type=Path, default=METAQA / "1-hop" / "ntm" / "qa_dev.txt")
    ap.add_argument("--qtype", type=Path, default=METAQA / "1-hop" / "qa_dev_qtype.txt")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()

    t0 = time.perf_counter()
    info = split_halves(args.paraphrases, args.qtype, args.halves_dir)
    runs: dict[str, dict[int, dict]] = {tag: {} for tag in args.tags}
    for tag, seed, run in trained_runs(args.work, args.tags, args.seeds):
        runs[tag][seed] = score_run(run, args.half, info[args.half], args.halves_dir)
        print(f"{tag} seed {seed}: {runs[tag][seed]['hits@1']:.4f}", file=sys.stderr)
    summary = {}
    for tag, by_seed in runs.items():
        summary[tag] = describe([r["hits@1"] for r in by_seed.values()])
        off = [r["fusion_off_hits@1"] for r in by_seed.values() if "fusion_off_hits@1" in r]
        if off:
            summary[tag]["fusion_switched_off"] = describe(off)
        summary[tag]["per_qtype"] = {q: float(np.mean([r["per_qtype"][q] for r in by_seed.values()]))
                                     for q in sorted(set.intersection(*(set(r["per_qtype"]) for r in by_seed.values())))}
    pairs = {f"{a} - {b}": pair(runs[a], runs[b]) for a, b in itertools.combinations(args.tags, 2)}
    emit({"half": args.half, "halves": info, "split": "sha256(line) even -> A, odd -> B",
          "work": str(args.work), "seeds": args.seeds, "summary": summary, "pairs": pairs,
          "runs": {tag: {str(s): r for s, r in by_seed.items()} for tag, by_seed in runs.items()},
          "command": "python " + " ".join(sys.argv), "wall_s": round(time.perf_counter() - t0, 1)}, args.out)


if __name__ == "__main__":
    main()
