"""The store selection shared by the graph-reading commands (--config / --store / --path)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from kgfm.config import StoreConfig


def store_config(config: Optional[Path], store: Optional[str], path: Optional[Path]) -> StoreConfig:
    """The ``store:`` section of ``config`` (a build-graph YAML), with ``--store``/``--path`` applied.

    Raises:
        ConfigError: ``--store`` is not a backend name (e.g. a path, the old ``corpus`` form).
    """
    from kgfm.config import ConfigError, load_config

    if store is not None and store not in ("embedded", "neo4j"):
        raise ConfigError(f"--store takes embedded or neo4j, got {store!r}; for a store location use --path {store}")
    from kgfm.store.build import BuildGraphConfig

    overrides = {"store.backend": store, "store.path": path and str(path)}
    return load_config(BuildGraphConfig, config, overrides).store
