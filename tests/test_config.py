from pathlib import Path

import pytest

from kgfm.config import ConfigError, StoreConfig, load_config, parse_overrides, save_config
from kgfm.store.build import BuildGraphConfig


def test_yaml_overrides_and_saved_config(tmp_path: Path):
    cfg_file = tmp_path / "c.yaml"
    cfg_file.write_text("store:\n  path: a/g.lbug\non_error: skip\n", encoding="utf-8")
    cfg = load_config(BuildGraphConfig, cfg_file, {"store.batch_size": 5, "on_error": None, **parse_overrides(["batch_size=7"])})
    assert cfg.store.path == Path("a/g.lbug") and cfg.store.batch_size == 5 and cfg.on_error == "skip"
    assert cfg.batch_size == 7
    saved = save_config(cfg, tmp_path / "out" / "resolved.yaml")
    assert load_config(BuildGraphConfig, saved) == cfg


def test_unknown_field_is_named(tmp_path: Path):
    cfg_file = tmp_path / "c.yaml"
    cfg_file.write_text("store:\n  pth: x\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"c.yaml: store.pth: unknown key; did you mean .store.path.\?"):
        load_config(BuildGraphConfig, cfg_file)


def test_bad_values_and_files():
    with pytest.raises(ConfigError, match="on_error"):
        load_config(BuildGraphConfig, None, {"on_error": "ignore"})
    with pytest.raises(ConfigError, match="not found"):
        load_config(StoreConfig, Path("/nonexistent.yaml"))
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        parse_overrides(["novalue"])


@pytest.mark.parametrize("stage, old, new", [
    ("graph", {"output_dir": "x"}, "output_dir: renamed to run.output_dir"),
    ("graph", {"train.num_threads": 2}, "train.num_threads: renamed to run.threads"),
    ("graph", {"train.lr": 0.1}, "train.lr: renamed to optim.lr"),
    ("pretrain", {"out": "x"}, "out: renamed to run.output_dir"),
    ("pretrain", {"train.head_lr": 0.1}, "train.head_lr: renamed to optim.head_lr"),
    ("pretrain", {"train.warmup_steps": 3}, "train.warmup_steps: renamed to optim.warmup"),
    ("finetune", {"output": "x"}, "output: renamed to run.output_dir"),
    ("finetune", {"train.lr_encoder": 0.1}, "train.lr_encoder: renamed to optim.lr"),
    ("finetune", {"train.threads": 2}, "train.threads: renamed to run.threads"),
    ("finetune", {"scorer.entity_dim": 64}, "scorer.entity_dim: renamed to scorer.proj_dim"),
])
def test_old_key_names_name_the_new_key(stage: str, old: dict, new: str):
    from kgfm.encoder.config import GraphTrainConfig
    from kgfm.fusion.pretrain import PretrainConfig
    from kgfm.qa.config import QAConfig

    model, base = {"graph": (GraphTrainConfig, {}), "pretrain": (PretrainConfig, {"corpus": "c", "index": "i"}),
                   "finetune": (QAConfig, {"encoder.kind": "plain"})}[stage]
    with pytest.raises(ConfigError, match=new.replace(".", r"\.")):
        load_config(model, None, {**base, **old})


def test_every_config_file_uses_the_shared_vocabulary():
    from kgfm.encoder.config import GraphTrainConfig
    from kgfm.fusion.pretrain import PretrainConfig
    from kgfm.qa.config import QAConfig

    configs = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.yaml"))
    assert configs
    for path in configs:
        name = path.name
        model = GraphTrainConfig if name.startswith("graph") else PretrainConfig if name.startswith("pretrain") else QAConfig
        cfg = load_config(model, path)
        assert cfg.run.output_dir.parts[0] == "runs" and cfg.optim.lr > 0, name
