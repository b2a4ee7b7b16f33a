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
