"""kgfm: knowledge-graph-augmented models.

Stages, in data-flow order (a later stage may import an earlier one, never the reverse):
``sources`` -> ``store`` -> ``questions`` -> ``encoder`` -> ``index`` -> ``fusion`` -> ``qa`` -> ``serve``.

The Python API (:mod:`kgfm.api`) is reachable from here and imported lazily, so ``import kgfm``
loads neither torch nor transformers::

    import kgfm
    kgfm.build_graph("sample:movies_kb.txt")
    model = kgfm.QAModel.from_pretrained("runs/qa/sample/model")
    model.answer("who directed [Orchard of Havana]")
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_API = {
    "build_graph": "kgfm.api", "open_store": "kgfm.api", "train_graph": "kgfm.api", "pretrain": "kgfm.api",
    "finetune": "kgfm.api", "generate_questions": "kgfm.api", "QAModel": "kgfm.api", "write_samples": "kgfm.api",
    "evaluate": "kgfm.api", "auto": "kgfm.api", "start_server": "kgfm.api", "extend_index": "kgfm.api", "EntityIndex": "kgfm.index.entity_index",
    "StoreConfig": "kgfm.config",
    "load_config": "kgfm.config",
}
__all__ = ["__version__", *_API]


def __getattr__(name: str) -> Any:
    if name in _API:
        import importlib

        value = getattr(importlib.import_module(_API[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'kgfm' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
