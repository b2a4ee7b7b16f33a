"""The store selection shared by the graph-reading commands (--config / --store / --path)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from kgfm.config import StoreConfig


def store_config(config: Optional[Path], store: Optional[str], path: Optional[Path]) -> StoreConfig:
    """The ``store:`` section of ``config`` (a build-graph YAML), with ``--store``/``--path`` applied."""
    from kgfm.config import load_config
    from kgfm.store.build import BuildGraphConfig

    overrides = {"store.backend": store, "store.path": path and str(path)}
    return load_config(BuildGraphConfig, config, overrides).store
