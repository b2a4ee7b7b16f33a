"""The training toolkit: parameter groups, LR schedule, early stopping, checkpoints, atomic artifacts."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch
from torch import nn

from kgfm.artifacts import ArtifactError, read_manifest, write_artifact
from kgfm.training.checkpoint import Progress, load_checkpoint, save_checkpoint
from kgfm.training.loop import Budget, EarlyStopping, select_device
from kgfm.training.optim import lr_factor, make_optimizer, param_groups
from kgfm.training.report import plot_curves, write_json_atomic
from kgfm.training.settings import OptimSettings


class Tiny(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(5, 3)
        self.lin = nn.Linear(3, 4)
        self.norm = nn.LayerNorm(4)
        self.head = nn.Linear(4, 2)


def test_param_groups_decay_only_matrices_that_are_not_embeddings():
    groups = param_groups(Tiny(), OptimSettings(lr=0.1, head_lr=1.0, weight_decay=0.5),
                          is_head=lambda n: n.startswith("head."))
    by_name = {g["name"]: g for g in groups}
    assert set(by_name) == {"base/decay", "base/no_decay", "head/decay", "head/no_decay"}
    assert [p.shape for p in by_name["base/decay"]["params"]] == [torch.Size([4, 3])]  # lin.weight only
    assert len(by_name["base/no_decay"]["params"]) == 4  # emb.weight, lin.bias, norm.weight, norm.bias
    assert by_name["base/no_decay"]["weight_decay"] == 0.0 and by_name["base/decay"]["weight_decay"] == 0.5
    assert by_name["head/decay"]["lr"] == 1.0 and by_name["base/decay"]["lr"] == 0.1


def test_lr_schedules_hand_computed():
    lin = OptimSettings(schedule="linear", warmup=4)
    assert [round(lr_factor(s, 14, lin), 4) for s in (0, 3, 4, 9, 14)] == [0.2, 0.8, 1.0, 0.5, 0.0]
    cos = OptimSettings(schedule="cosine", warmup=0.1, min_lr_ratio=0.05)  # warm-up: 10% of 20 = 2 steps
    assert lr_factor(0, 20, cos) == pytest.approx(1 / 3) and lr_factor(2, 20, cos) == pytest.approx(1.0)
    assert lr_factor(11, 20, cos) == pytest.approx(0.5) and lr_factor(20, 20, cos) == pytest.approx(0.05)
    assert lr_factor(7, 10, OptimSettings()) == 1.0


def test_early_stopping_on_a_named_metric():
    progress, stop = Progress(), EarlyStopping("acc", patience=2)
    assert stop.update(progress, {"acc": 0.5}, 1) and not stop.update(progress, {"acc": 0.4}, 2)
    assert not progress.stopped and stop.update(progress, {"acc": 0.6}, 3) and progress.best_step == 3
    stop.update(progress, {"acc": 0.6}, 4)
    stop.update(progress, {"acc": 0.1}, 5)
    assert progress.stopped.startswith("early stop") and progress.best == 0.6
    with pytest.raises(KeyError, match="mrr"):
        EarlyStopping("mrr", 1).update(Progress(), {"acc": 1.0}, 1)


def test_budget_and_device():
    assert not Budget(None).expired() and Budget(1.0, spent_s=61.0).expired()
    assert select_device("cpu").type == "cpu"
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="no CUDA device"):
            select_device("cuda")


def test_checkpoint_round_trip_resumes_optimizer(tmp_path):
    model = Tiny()
    opt = make_optimizer(model, OptimSettings(lr=0.01))
    for _ in range(2):
        model.head(model.norm(model.lin(model.emb(torch.tensor([1, 2]))))).sum().backward()
        opt.step()
    save_checkpoint(tmp_path / "ck", "test-ck", model.state_dict(), opt, Progress(step=2, history=[{"step": 2}]))
    ck = load_checkpoint(tmp_path / "ck", "test-ck")
    fresh = Tiny()
    fresh_opt = make_optimizer(fresh, OptimSettings(lr=0.5))
    ck.restore(fresh, fresh_opt)
    assert ck.progress.step == 2 and fresh_opt.param_groups[0]["base_lr"] == 0.01
    for a, b in zip(model.parameters(), fresh.parameters()):
        torch.testing.assert_close(a, b)
    assert int(fresh_opt.state_dict()["state"][0]["step"]) == 2


def test_write_artifact_crash_between_renames_keeps_the_old_artifact(tmp_path, monkeypatch):
    import kgfm.artifacts as artifacts

    dest = tmp_path / "a"
    write_artifact(dest, "k", {"x.txt": lambda p: p.write_text("old")})
    monkeypatch.setattr(artifacts, "_exchange", lambda a, b: False)  # the portable two-rename path
    real = os.replace
    calls = {"n": 0}

    def flaky(src, dst):
        calls["n"] += 1
        if calls["n"] == 2:  # the second rename (tmp -> dest) dies
            raise OSError("disk gone")
        return real(src, dst)

    monkeypatch.setattr(artifacts.os, "replace", flaky)
    with pytest.raises(OSError, match="disk gone"):
        write_artifact(dest, "k", {"x.txt": lambda p: p.write_text("new")})
    monkeypatch.setattr(artifacts.os, "replace", real)
    assert (dest / "x.txt").read_text() == "old" and read_manifest(dest, "k")
    assert not list(tmp_path.glob("a.old-*")) and not list(tmp_path.glob("a.tmp-*"))


def test_interrupted_write_is_recovered_and_stale_folders_cleaned(tmp_path):
    dest = tmp_path / "a"
    write_artifact(dest, "k", {"x.txt": lambda p: p.write_text("old")})
    os.replace(dest, tmp_path / "a.old-99999")  # killed right after moving the old copy aside
    (tmp_path / "a.old-11111").mkdir()  # an even older, incomplete leftover
    write_artifact(dest, "k", {"x.txt": lambda p: p.write_text("new")})
    assert (dest / "x.txt").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a"]


def test_exchange_swaps_in_place(tmp_path):
    dest = tmp_path / "a"
    write_artifact(dest, "k", {"x.txt": lambda p: p.write_text("one")})
    write_artifact(dest, "k", {"x.txt": lambda p: p.write_text("two")})
    assert (dest / "x.txt").read_text() == "two" and sorted(p.name for p in tmp_path.iterdir()) == ["a"]


def test_unlisted_file_and_empty_file_list_are_refused(tmp_path):
    dest = tmp_path / "a"
    write_artifact(dest, "k", {"x.txt": lambda p: p.write_text("one")})
    manifest = json.loads((dest / "manifest.json").read_text())
    manifest["files"] = {}
    (dest / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="x.txt: not covered by the manifest"):
        read_manifest(dest, "k")
    with pytest.raises(ArtifactError, match="does not list x.txt"):
        read_manifest(dest, "k", verify=False, required=("x.txt",))


def test_metrics_json_and_curve_are_atomic(tmp_path):
    write_json_atomic(tmp_path / "m.json", {"a": 1})
    assert json.loads((tmp_path / "m.json").read_text()) == {"a": 1}
    plot_curves([{"epoch": 1, "loss": 2.0, "val": 0.1}, {"epoch": 2, "loss": 1.0, "val": 0.3}], "epoch", ["loss"],
                ["val"], tmp_path / "c.png")
    assert (tmp_path / "c.png").stat().st_size > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.png", "m.json"]  # no temporary files left


def test_atomic_writes_leave_the_old_file_or_the_new_one_and_no_temporary(tmp_path: Path):
    import datetime

    from kgfm.artifacts import write_json_atomic, write_text_atomic

    target = tmp_path / "r.json"
    write_json_atomic(target, {"when": datetime.date(2026, 12, 7), "name": "Café"}, ensure_ascii=False)
    assert target.read_text(encoding="utf-8") == '{\n  "when": "2026-12-07",\n  "name": "Café"\n}'
    write_json_atomic(target, {"name": "Café"})
    assert target.read_text(encoding="utf-8") == '{\n  "name": "Caf\\u00e9"\n}'
    with pytest.raises(TypeError):  # fails before anything is written
        write_text_atomic(target, None)  # type: ignore[arg-type]
    blocked = tmp_path / "dir"
    (blocked / "inside").mkdir(parents=True)
    with pytest.raises(OSError):  # the rename onto a directory fails: the temporary file is removed
        write_text_atomic(blocked, "text")
    assert (blocked / "inside").is_dir() and json.loads(target.read_text(encoding="utf-8")) == {"name": "Café"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir", "r.json"]
