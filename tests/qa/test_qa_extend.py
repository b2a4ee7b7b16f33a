"""A user's graph grows after `kgfm auto`: new films are answerable after `kgfm extend-index`, no retraining.

Real subprocesses in a fresh folder: the bundled sample KB without three films, `kgfm auto`, then
`build-graph` of those films' facts. `kgfm qa` must refuse in one line naming the fix, then answer
the new films' directors after `kgfm extend-index` (the model was never trained on these films).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

KGFM = [sys.executable, "-m", "kgfm.cli.main"]
HELD = ("Kingdom of Kyoto", "The Velvet Garden", "Return to Bruges")


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([*KGFM, *args], capture_output=True, text=True, cwd=cwd, timeout=600)


@pytest.mark.slow
def test_films_added_after_training_are_answered_after_extend_index(tmp_path: Path, graphs_dir: Path):
    lines = (graphs_dir / "movies_kb.txt").read_text(encoding="utf-8").splitlines()
    (tmp_path / "base.txt").write_text("\n".join(x for x in lines if x.split("|")[0] not in HELD) + "\n", encoding="utf-8")
    new = [x for x in lines if x.split("|")[0] in HELD]
    (tmp_path / "new.txt").write_text("\n".join(new) + "\n", encoding="utf-8")
    directors = {x.split("|")[0]: x.split("|")[2] for x in new if x.split("|")[1] == "directed_by"}
    assert set(directors) == set(HELD)
    assert run("build-graph", "base.txt", cwd=tmp_path).returncode == 0
    res = run("auto", "--graph-minutes", "0.3", "--qa-minutes", "1", "--set", "run.threads=1", cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    assert run("build-graph", "new.txt", cwd=tmp_path).returncode == 0
    model = "runs/auto/qa/model"

    refused = run("qa", "--model", model, "who directed [Kingdom of Kyoto]", cwd=tmp_path)
    assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1, refused.stderr
    assert f"`kgfm extend-index --model {model}` embeds them" in refused.stderr

    index = tmp_path / "runs" / "auto" / "graph" / "index" / "embeddings.safetensors"
    trained_bytes = index.read_bytes()
    extended = run("extend-index", "--model", model, cwd=tmp_path)
    assert extended.returncode == 0 and "added, embedded by the trained graph encoder" in extended.stdout, extended.stderr
    assert index.read_bytes() != trained_bytes

    for film, director in directors.items():
        ask = run("qa", "--model", model, "--json", f"who directed [{film}]", cwd=tmp_path)
        assert ask.returncode == 0, ask.stderr[-2000:]
        answer = json.loads(ask.stdout)
        assert answer["topic"]["id"] == film and answer["answers"][0]["id"] == director, answer["answers"][:3]
        assert answer["answers"][0]["paths"], "evidence read from the grown store"
