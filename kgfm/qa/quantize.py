"""int8 export for CPU inference: PyTorch dynamic quantisation of the encoder's linear layers.

``torch.ao.quantization.quantize_dynamic`` replaces every ``nn.Linear`` of the question encoder
(backbone and fusion layers) with an int8-weight, dynamically-quantised-activation linear layer.
The export is a ``kgfm-qa-model-int8`` artifact holding *int8* weights in safetensors (the
packed parameters are unpacked to ``int_repr`` + scale/zero point, never pickled), the float
remainder (embeddings, LayerNorms), the fp32 scorer, the configs and the tokenizer. Loading
rebuilds the architecture from the configs, quantises it, and writes the saved int8 weights
back, so the loaded model computes exactly what the exporting process computed.
"""

from __future__ import annotations

import json
import tempfile
import warnings
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file
from torch import nn

from kgfm.artifacts import ArtifactError, read_manifest, write_artifact
from kgfm.qa.checkpoint import KIND, _copy_writer, assemble_model, check_compatible
from kgfm.store.base import GraphTensors
from kgfm.training.checkpoint import WEIGHTS, load_safetensors

INT8_KIND = "kgfm-qa-model-int8"
_WEIGHT_FILES = ("model.safetensors",)


def _quantize_dynamic(module: nn.Module) -> nn.Module:
    floats = [m for m in module.modules() if type(m) is nn.Linear]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from torch.ao.quantization import quantize_dynamic

        out = quantize_dynamic(module, {nn.Linear}, dtype=torch.qint8, inplace=True)
    # The swapped-out float layers sit in reference cycles that torch's module swap leaves, so
    # their weights would wait for the cyclic collector (which a loading server pauses,
    # kgfm.runtime.paused_gc); the int8 layers hold their own copies, so drop them now.
    kept = {id(m) for m in out.modules()}
    for m in floats:
        if id(m) not in kept:
            m._parameters.clear()
    return out


def _dynamic_linears(module: nn.Module) -> dict[str, nn.Module]:
    from torch.ao.nn.quantized.dynamic import Linear as DynamicLinear

    return {name: m for name, m in module.named_modules() if isinstance(m, DynamicLinear)}


def quantize_encoder(model: Any) -> Any:
    """Quantise ``model.encoder.backbone`` in place (int8 weights for every ``nn.Linear``)."""
    _quantize_dynamic(model.encoder.backbone)
    model.eval()
    return model


def int8_state(backbone: nn.Module) -> dict[str, torch.Tensor]:
    """Plain tensors describing a dynamically quantised module (safetensors-compatible)."""
    qlinears = _dynamic_linears(backbone)
    out: dict[str, torch.Tensor] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, m in qlinears.items():
            w, b = m._weight_bias()
            out[f"{name}.qweight"] = w.int_repr().contiguous()
            if w.qscheme() in (torch.per_channel_affine, torch.per_channel_symmetric):
                out[f"{name}.qscales"] = w.q_per_channel_scales().to(torch.float64).contiguous()
                out[f"{name}.qzero_points"] = w.q_per_channel_zero_points().to(torch.int64).contiguous()
                out[f"{name}.qaxis"] = torch.tensor([w.q_per_channel_axis()])
            else:
                out[f"{name}.qscale"] = torch.tensor([w.q_scale()], dtype=torch.float64)
                out[f"{name}.qzero_point"] = torch.tensor([w.q_zero_point()], dtype=torch.int64)
            if b is not None:
                out[f"{name}.bias"] = b.detach().contiguous()
    prefixes = tuple(f"{n}." for n in qlinears)
    for key, value in backbone.state_dict().items():
        if torch.is_tensor(value) and not value.is_quantized and not key.startswith(prefixes):
            out[key] = value.detach().contiguous()
    return out


def load_int8_state(backbone: nn.Module, state: dict[str, torch.Tensor], src: Path) -> None:
    """Write :func:`int8_state` tensors into an already quantised skeleton."""
    qlinears = _dynamic_linears(backbone)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, m in qlinears.items():
            if f"{name}.qweight" not in state:
                raise ArtifactError(f"{src}: int8 weights for {name} missing")
            raw = state[f"{name}.qweight"]
            if f"{name}.qscales" in state:
                w = torch._make_per_channel_quantized_tensor(
                    raw, state[f"{name}.qscales"], state[f"{name}.qzero_points"], int(state[f"{name}.qaxis"][0]))
            else:
                w = torch._make_per_tensor_quantized_tensor(
                    raw, float(state[f"{name}.qscale"][0]), int(state[f"{name}.qzero_point"][0]))
            m.set_weight_bias(w, state.get(f"{name}.bias"))
    prefixes = tuple(f"{n}." for n in qlinears)
    floats = {k: v for k, v in state.items() if not k.startswith(prefixes)}
    targets = {**dict(backbone.named_parameters()), **dict(backbone.named_buffers())}
    expected = {k for k, v in backbone.state_dict().items()
                if torch.is_tensor(v) and not v.is_quantized and not k.startswith(prefixes)}
    missing = sorted(expected - floats.keys())
    unexpected = sorted(k for k in floats if k not in targets)
    if missing or unexpected:
        raise ArtifactError(f"{src}: int8 weights do not fit (missing {missing[:3]}, unexpected {unexpected[:3]})")
    with torch.no_grad():
        for key, value in floats.items():
            targets[key].copy_(value)


def _skeleton(model_dir: Path, kind: str, index: Any | None) -> nn.Module:
    """The encoder architecture from its saved configs, with untrained weights (:func:`build_backbone`)."""
    from kgfm.hf import build_backbone

    if kind == "plain":
        return build_backbone("", json.loads((model_dir / "config.json").read_text(encoding="utf-8")), pooler=True)
    from kgfm.fusion.model import FusionConfig, KnowledgeFusionModel

    config = FusionConfig.model_validate_json((model_dir / "fusion_config.json").read_text(encoding="utf-8"))
    bcfg = json.loads((model_dir / "backbone_config.json").read_text(encoding="utf-8"))
    return KnowledgeFusionModel(config, index, backbone=build_backbone(config.base_model, bcfg))


def export_int8(src: Path, dest: Path, graph: GraphTensors, index: Any | None) -> dict[str, Any]:
    """Quantise the fine-tuned model at ``src`` and write the int8 artifact ``dest``.

    Returns:
        The manifest written (with fp32 / int8 weight sizes).
    """
    from kgfm.qa.checkpoint import load_qa_model

    src, dest = Path(src), Path(dest)
    model, manifest = load_qa_model(src, graph, index)
    quantize_encoder(model)
    state = int8_state(model.encoder.backbone)
    fp32_bytes = sum((src / "encoder" / "model" / f).stat().st_size for f in _WEIGHT_FILES
                     if (src / "encoder" / "model" / f).is_file())
    with tempfile.TemporaryDirectory(prefix="kgfm-int8-") as tmp:
        weights = Path(tmp) / "int8.safetensors"
        save_file(state, str(weights))
        writers = {"encoder/int8.safetensors": _copy_writer(weights),
                   WEIGHTS: _copy_writer(src / WEIGHTS)}
        for f in sorted((src / "encoder").rglob("*")):
            rel = f.relative_to(src)
            if f.is_file() and f.name not in _WEIGHT_FILES and f.name != "manifest.json":
                writers[str(rel)] = _copy_writer(f)
        keep = {k: v for k, v in manifest.items() if k not in ("files", "kind", "format", "created", "optimizer")}
        from kgfm.qa.locate import rebase_refs

        keep["refs"] = rebase_refs(manifest, src, dest)
        keep.update({"quantized_from": str(src), "fp32_encoder_bytes": fp32_bytes,
                     "int8_encoder_bytes": weights.stat().st_size, "quantization": "dynamic int8, nn.Linear"})
        return write_artifact(dest, INT8_KIND, writers, keep)


def load_quantized(src: Path, graph: GraphTensors, index: Any | None,
                   manifest: dict[str, Any] | None = None, extend_cmd: str | None = None) -> tuple[Any, dict[str, Any]]:
    """Load an int8 export (eval mode); ``manifest``: already read and verified by the caller;
    ``extend_cmd``: see :func:`kgfm.qa.checkpoint.check_compatible`."""
    from kgfm.qa.encoding import QuestionEncoder, _tokenizer

    src = Path(src)
    manifest = manifest if manifest is not None else read_manifest(src, INT8_KIND, required=(WEIGHTS,))
    check_compatible(manifest, src, graph, index, extend_cmd)
    kind = manifest["encoder_kind"]
    backbone = _quantize_dynamic(_skeleton(src / "encoder" / "model", kind, index))
    load_int8_state(backbone, load_safetensors(src / "encoder" / "int8.safetensors"), src)
    encoder = QuestionEncoder(backbone, _tokenizer(str(src / "encoder" / "tokenizer")), kind, manifest["max_length"])
    return assemble_model(src, manifest, encoder, graph, index), manifest


__all__ = ["INT8_KIND", "KIND", "export_int8", "load_quantized", "quantize_encoder", "int8_state"]
