"""Traced transformer layers for serving: the same arithmetic without the per-call Python.

A one-question forward of MiniLM on CPU is mostly Python, not arithmetic: the ~16-token matrix
products take a few milliseconds, while HF's layer code (keyword plumbing, deprecation and
output-capturing wrappers, ``apply_chunking_to_forward``'s ``inspect.signature``, one
``nn.Module.__call__`` per sub-module) takes more. :func:`trace_layers` records each transformer
block once with ``torch.jit.trace`` and runs the recording afterwards. The block *objects* stay
in place, so forward hooks on them (the fusion layers, :mod:`kgfm.fusion.model`) still run
between blocks, in Python, exactly as before; only the block's own forward is replaced.

When a traced block is used, and when it is not:

* only for inference: no gradients and the block in eval mode (dropout), else the eager forward;
* only for calls whose extra arguments (cross-attention states, caches, position ids …) are all
  ``None``, as a BERT-style encoder calls its blocks; anything else runs eagerly;
* one recording per call signature (no attention mask, as a single unpadded question gets, or a
  mask of a given rank, dtype and broadcast shape, as a padded batch gets), made on the first such
  call; a call without a mask reuses the masked recording where that gives the eager result;
* each recording is checked against the eager block on the call it was made from *and* on a
  second shape (another batch size and length), and dropped for good if they differ, so a
  block with shape-dependent Python (which a trace would freeze) keeps its eager forward.

Recording costs ~0.1 s per block (int8: TorchScript compiles the quantised layers' methods), so
a server would start a second later. With ``deferred=True`` a block's first call of a new
signature runs eagerly and keeps a copy of its inputs; :func:`record_pending` then records one
(block, signature) at a time from those copies, and ``kgfm serve`` calls it while no request is
waiting (:mod:`kgfm.serve.worker`): the server answers from the moment it is loaded, eagerly at
first, and each block switches to its recording once that is made and checked.

``bench/bench_serve.py`` measures the effect (``--variant no-trace=--no-trace``).
"""

from __future__ import annotations

import logging
import warnings
from typing import Any, Callable

import torch
from torch import nn

log = logging.getLogger(__name__)

_ATOL = 1e-4  # float32 arithmetic in a different order; an int8 layer quantises the same activations


def _resized(x: torch.Tensor, batch: int, length: int, new_batch: int, new_length: int) -> torch.Tensor:
    """``x`` with its batch dimension set to ``new_batch`` and every dimension of size ``length``
    (after the batch one) set to ``new_length``, filled by repeating ``x`` (a valid mask stays valid)."""
    out = x
    if out.shape[0] == batch:
        out = out.repeat_interleave(-(-new_batch // batch), dim=0)[:new_batch]
    for dim in range(1, out.dim()):
        if out.shape[dim] == length and new_length != length:
            idx = torch.arange(new_length, device=x.device) % length
            out = out.index_select(dim, idx)
    return out.contiguous()


class TracedLayer:
    """Replaces one block's ``forward`` (see the module docstring); callable like it.

    Args:
        layer: The transformer block (an ``nn.Module`` inside the encoder's layer stack).
        deferred: Record later, in :meth:`record_next`, from a copy of the first call's inputs
            (that call runs eagerly), instead of during that call.
    """

    def __init__(self, layer: nn.Module, deferred: bool = False) -> None:
        self.layer = layer
        self.eager: Callable[..., Any] = layer.forward
        self.deferred = deferred
        self.recordings: dict[tuple, Any] = {}  # signature -> traced module, or None (eager for good)
        self.pending: dict[tuple, tuple] = {}  # signature -> (hidden, mask, args, kwargs) to record from

    def _eager_only(self, args: tuple, kwargs: dict) -> bool:
        return (torch.is_grad_enabled() or self.layer.training or any(a is not None for a in args)
                or any(v is not None for v in kwargs.values()))

    def __call__(self, hidden_states: torch.Tensor, attention_mask: torch.Tensor | None = None,
                 *args: Any, **kwargs: Any) -> Any:
        if self._eager_only(args, kwargs) or not isinstance(hidden_states, torch.Tensor) or (
                attention_mask is not None and not isinstance(attention_mask, torch.Tensor)):
            return self.eager(hidden_states, attention_mask, *args, **kwargs)
        key = (hidden_states.dtype, None if attention_mask is None else  # rank, dtype, broadcast dims
               (attention_mask.dim(), attention_mask.dtype, tuple(n == 1 for n in attention_mask.shape)))
        if key not in self.recordings:
            if self.deferred:
                if key not in self.pending:
                    self.pending[key] = (hidden_states.clone(), None if attention_mask is None
                                         else attention_mask.clone(), args, kwargs)
                return self.eager(hidden_states, attention_mask, *args, **kwargs)
            self.recordings[key] = self._make(hidden_states, attention_mask, args, kwargs)
        traced = self.recordings[key]
        if traced is None:
            return self.eager(hidden_states, attention_mask, *args, **kwargs)
        return traced(hidden_states) if attention_mask is None else traced(hidden_states, attention_mask)

    def _make(self, hidden: torch.Tensor, mask: torch.Tensor | None, args: tuple, kwargs: dict) -> Any:
        via = self._via_mask(hidden, args, kwargs) if mask is None else None
        return via or self._record(hidden, mask, args, kwargs)

    def record_next(self) -> bool:
        """Record one pending signature (masked ones first: an unmasked call may reuse theirs);
        ``False`` when none was pending."""
        if not self.pending:
            return False
        key = min(self.pending, key=lambda k: k[1] is None)
        hidden, mask, args, kwargs = self.pending.pop(key)
        with torch.inference_mode():  # as the QA engine's calls run
            self.recordings[key] = self._make(hidden, mask, args, kwargs)
        return True

    def _via_mask(self, hidden: torch.Tensor, args: tuple, kwargs: dict) -> "_ViaMask | None":
        """A no-mask call served by this dtype's masked recording, when it gives the eager answer."""
        for (dtype, sig), traced in self.recordings.items():
            if dtype != hidden.dtype or sig is None or not isinstance(traced, _Recorded):
                continue
            via = _ViaMask(traced)
            b, t = hidden.shape[0], hidden.shape[1]
            probes = (hidden, _resized(hidden, b, t, b + 1, t + 3))
            try:
                if all(_same(self.eager(h, None, *args, **kwargs), via(h)) for h in probes):
                    return via
            except Exception:  # a layout the attend-everywhere mask does not fit
                pass
        return None

    def _record(self, hidden: torch.Tensor, mask: torch.Tensor | None, args: tuple, kwargs: dict) -> Any:
        inputs = (hidden,) if mask is None else (hidden, mask)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # TracerWarnings and TorchScript's deprecation notice
                traced = torch.jit.trace(_Call(self.layer, self.eager, len(inputs)), inputs, check_trace=False)
            b, t = hidden.shape[0], hidden.shape[1]
            for probe in (inputs, tuple(_resized(x, b, t, b + 1, t + 3) for x in inputs)):
                want = self.eager(probe[0], probe[1] if mask is not None else None, *args, **kwargs)
                if not _same(want, traced(*probe)):
                    log.info("%s: its trace differs from the eager block on shapes %s; keeping the eager forward",
                             type(self.layer).__name__, [tuple(x.shape) for x in probe])
                    return None
        except Exception as exc:  # an architecture torch.jit.trace cannot record: eager, as before
            log.info("%s: cannot be traced (%s); keeping the eager forward", type(self.layer).__name__,
                     str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            return None
        return traced if mask is None else _Recorded(traced, mask, hidden.shape[0], hidden.shape[1])


class _Recorded:
    """A masked recording, with the layout of the mask it was recorded with (for :class:`_ViaMask`)."""

    def __init__(self, traced: Any, mask: torch.Tensor, batch: int, length: int) -> None:
        self.traced = traced
        self.dtype = mask.dtype
        self.layout = ["b" if i == 0 and n == batch else "t" if i > 0 and n == length else int(n)
                       for i, n in enumerate(mask.shape)]

    def __call__(self, hidden: torch.Tensor, mask: torch.Tensor) -> Any:
        return self.traced(hidden, mask)


class _ViaMask:
    """A call without a mask (an unpadded question) run through the masked recording with a mask
    that lets every token attend everywhere: ``True`` for a boolean mask, ``0`` for an additive
    float one. One recording per block then serves both signatures (recording costs ~0.1 s per
    block); used only where it reproduces the eager block (:meth:`TracedLayer._via_mask`)."""

    def __init__(self, recorded: _Recorded) -> None:
        self.recorded = recorded
        dtype = recorded.dtype
        self.fill = True if dtype == torch.bool else (0.0 if dtype.is_floating_point else 1)

    def mask(self, hidden: torch.Tensor) -> torch.Tensor:
        shape = [hidden.shape[0] if d == "b" else hidden.shape[1] if d == "t" else d for d in self.recorded.layout]
        return torch.full(shape, self.fill, dtype=self.recorded.dtype, device=hidden.device)

    def __call__(self, hidden: torch.Tensor) -> Any:
        return self.recorded(hidden, self.mask(hidden))


class _Call(nn.Module):
    """``eager(hidden[, mask])`` as a module for ``torch.jit.trace``; the block is a submodule, so
    its weights are recorded as the block's parameters (shared), not copied into constants."""

    def __init__(self, layer: nn.Module, eager: Callable[..., Any], n: int) -> None:
        super().__init__()
        self.block = layer
        self.eager = eager
        self.n = n

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor | None = None) -> Any:
        return self.eager(hidden) if self.n == 1 else self.eager(hidden, mask)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        return a.shape == b.shape and a.dtype == b.dtype and torch.allclose(a, b, atol=_ATOL, rtol=1e-4)
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a is None and b is None


def trace_layers(backbone: nn.Module, deferred: bool = False) -> list[TracedLayer]:
    """Install a :class:`TracedLayer` on every block of ``backbone``'s layer stack (in place).

    Recording happens lazily, on each block's first inference call of a given signature (or,
    ``deferred``, in :func:`record_pending` afterwards), so call this after any quantisation
    and before the warm-up question. :func:`untrace_layers` restores the eager forwards.

    Args:
        backbone: A HF encoder (or a peft wrapper of one), see :func:`kgfm.hf.encoder_layers`.
        deferred: See :class:`TracedLayer`.

    Returns:
        The installed tracers, one per block.
    """
    from kgfm.hf import encoder_layers

    tracers = []
    for layer in encoder_layers(backbone):
        if isinstance(layer.__dict__.get("forward"), TracedLayer):
            tracers.append(layer.__dict__["forward"])
            continue
        tracer = TracedLayer(layer, deferred=deferred)
        layer.forward = tracer  # an instance attribute: nn.Module.__call__ (and its hooks) call it
        tracers.append(tracer)
    return tracers


def untrace_layers(backbone: nn.Module) -> None:
    """Remove what :func:`trace_layers` installed."""
    from kgfm.hf import encoder_layers

    for layer in encoder_layers(backbone):
        if isinstance(layer.__dict__.get("forward"), TracedLayer):
            del layer.forward


def traced_count(tracers: list[TracedLayer]) -> int:
    """How many blocks run a recording (for at least one call signature). Safe to call from
    another thread while :func:`record_pending` runs (``/version`` does): each block's
    recordings are copied in one step before they are looked at."""
    return sum(any(v is not None for v in list(t.recordings.values())) for t in tracers)


def record_pending(tracers: list[TracedLayer]) -> bool:
    """Record one pending (block, signature) of deferred tracers, block by block in order
    (~0.1 s of work); ``True`` while more are pending."""
    for tracer in tracers:
        if tracer.record_next():
            break
    return any(t.pending for t in tracers)


def trace_encoder(encoder: Any, deferred: bool = False) -> list[TracedLayer]:
    """:func:`trace_layers` on a question encoder's transformer (plain or fusion)."""
    return trace_layers(encoder.hf_model, deferred=deferred)
