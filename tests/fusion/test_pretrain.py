"""Knowledge pretraining: objectives, loss going down, checkpoints/resume, DDP with 2 CPU ranks."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from kgfm.config import ConfigError
from kgfm.fusion.objectives import PretrainCollator
from kgfm.fusion.pretrain import main

REPO = Path(__file__).resolve().parents[2]


def test_collator_masks_one_entity_and_hides_it(tok):
    collator = PretrainCollator(tok, max_length=24, mlm_probability=0.3, entity_token_mask=1.0)
    recs = [{"text": "Kismet directed by William Dieterle", "mentions": [(0, 6, 0), (19, 35, 1)]},
            {"text": "plain words without entities here", "mentions": []}]
    batch = collator(recs, torch.Generator().manual_seed(0))
    tgt = batch["entity_targets"][0]
    j = int((tgt >= 0).nonzero()[0])
    assert int(tgt[j]) == [0, 1][j] and (tgt >= 0).sum() == 1
    assert batch["mention_entities"][0, j] == -1 and batch["mention_entities"][0, 1 - j] == [0, 1][1 - j]
    s, e = batch["mention_spans"][0, j].tolist()
    assert (batch["input_ids"][0, s:e] == tok.mask_token_id).all()
    assert (batch["mlm_labels"][0, s:e] == -100).all()  # MLM never targets the entity tokens
    assert (batch["entity_targets"][1] == -1).all()
    assert not torch.isin(batch["mlm_labels"], torch.tensor(tok.all_special_ids)).any()


def test_loss_decreases_and_outputs(toy_setup):
    cfg = toy_setup(steps=30, extra_train={"eval_every": 30, "save_every": 30})
    metrics = main(cfg, {}, False)
    hist = metrics["history"]
    first = sum(h["loss"] for h in hist[:5]) / 5
    last = sum(h["loss"] for h in hist[-5:]) / 5
    assert last < first - 0.5, (first, last)
    out = cfg.parent / "out"
    for name in ("metrics.json", "curve.png", "config.yaml", "model/manifest.json", "checkpoint/manifest.json"):
        assert (out / name).is_file(), name
    assert metrics["final_eval"]["entity_examples"] > 0


def test_resume_repeats_the_same_steps(toy_setup, tmp_path):
    cfg = toy_setup(steps=6, extra_train={"save_every": 3, "eval_every": 100})
    main(cfg, {}, False)
    straight = load_file(str(cfg.parent / "out" / "checkpoint" / "weights.safetensors"))
    main(cfg, {"train.stop_after": 3, "run.output_dir": str(tmp_path / "resumed")}, False)
    metrics = main(cfg, {"run.output_dir": str(tmp_path / "resumed")}, True)
    assert metrics["steps"] == 6 and [h["step"] for h in metrics["history"]] == list(range(1, 7))
    resumed = load_file(str(tmp_path / "resumed" / "checkpoint" / "weights.safetensors"))
    for key, value in straight.items():
        torch.testing.assert_close(resumed[key], value, rtol=1e-5, atol=1e-6, msg=key)


def test_resume_without_checkpoint_and_missing_index(toy_setup, tmp_path):
    cfg = toy_setup(steps=2)
    with pytest.raises(ConfigError, match="no checkpoint"):
        main(cfg, {}, True)
    with pytest.raises(ConfigError, match="index"):
        main(cfg, {"index": str(tmp_path / "nope")}, False)
    with pytest.raises(ConfigError, match="train.steps"):
        main(cfg, {"train.steps": 0}, False)


def test_baseline_without_fusion_trains_too(toy_setup):
    metrics = main(toy_setup(steps=3, fusion=False), {}, False)
    assert metrics["fusion"] is False and metrics["steps"] == 3


def test_ddp_two_cpu_processes(toy_setup):
    cfg = toy_setup(steps=4)
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         "-m", "kgfm.fusion.pretrain", "--config", str(cfg)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO, start_new_session=True,
    )
    try:
        _, stderr = proc.communicate(timeout=240)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the launcher and both ranks
        proc.communicate()
        pytest.fail("torchrun with 2 CPU ranks did not finish in 240 s")
    assert proc.returncode == 0, stderr[-3000:]
    metrics = json.loads((cfg.parent / "out" / "metrics.json").read_text())
    assert metrics["world_size"] == 2 and metrics["steps"] == 4
    assert len(metrics["ddp_param_digests"]) == 2 and metrics["ddp_identical"]


def test_full_softmax_entity_loss_matches_cross_entropy(index, tok):
    from kgfm.fusion.model import FusionConfig, KnowledgeFusionModel
    from kgfm.fusion.objectives import PretrainModule

    torch.manual_seed(0)
    backbone = dict(model_type="bert", hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                    intermediate_size=64, vocab_size=30522, max_position_embeddings=128)
    module = PretrainModule(KnowledgeFusionModel(FusionConfig(backbone_config=backbone, fusion_layers=[1]), index),
                            negatives=-1).eval()
    collator = PretrainCollator(tok, max_length=24, mlm_probability=0.0)
    recs = [{"text": "Kismet directed by William Dieterle", "mentions": [(0, 6, 0), (19, 35, 1)]},
            {"text": "Heat starred Al Pacino", "mentions": [(0, 4, 12), (13, 22, 14)]}]
    batch = collator(recs, torch.Generator().manual_seed(1))
    losses = module(batch)
    out = module.model(batch["input_ids"], batch["attention_mask"], batch["mention_spans"], batch["mention_entities"])
    sel = batch["entity_targets"] >= 0
    logits = out.entity_queries[sel] @ module.model.entity_table.T
    expected = torch.nn.functional.cross_entropy(logits, batch["entity_targets"][sel])
    torch.testing.assert_close(losses["entity"], expected.detach())
    assert float(losses["mlm"]) == 0.0  # no MLM positions chosen
