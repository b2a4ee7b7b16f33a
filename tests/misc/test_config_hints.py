"""A misspelt config key names the nearest valid one (or lists the valid keys)."""

from __future__ import annotations

import pytest

from kgfm.config import ConfigError, StoreConfig, StrictModel, load_config


class Train(StrictModel):
    epochs: int = 1
    batch_size: int = 8


class Stage(StrictModel):
    store: StoreConfig = StoreConfig()
    train: Train = Train()


def test_typo_gets_nearest_key():
    with pytest.raises(ConfigError, match=r"train\.epoch: unknown key; did you mean 'train\.epochs'\?"):
        load_config(Stage, overrides={"train.epoch": 3})
    with pytest.raises(ConfigError, match=r"store\.backnd: unknown key; did you mean 'store\.backend'\?"):
        load_config(Stage, overrides={"store.backnd": "embedded"})


def test_unrelated_key_lists_valid_keys():
    with pytest.raises(ConfigError, match=r"train\.zzz: unknown key; valid keys here: epochs, batch_size"):
        load_config(Stage, overrides={"train.zzz": 1})


def test_type_errors_keep_pydantic_message():
    with pytest.raises(ConfigError, match=r"train\.epochs: Input should be a valid integer"):
        load_config(Stage, overrides={"train.epochs": "many"})
