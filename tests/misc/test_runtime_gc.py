"""kgfm.runtime.paused_gc (no cyclic collection during a load, then freeze) and the int8
quantisation releasing the float weights it replaces without waiting for the collector."""

from __future__ import annotations

import gc
import weakref

import pytest
import torch
from torch import nn

from kgfm.runtime import paused_gc


class _Cycle:
    def __init__(self) -> None:
        self.me = self


@pytest.fixture
def gc_state():
    enabled = gc.isenabled()
    yield
    gc.unfreeze()
    (gc.enable if enabled else gc.disable)()


def test_no_collection_inside_then_frozen_and_enabled_again(gc_state):
    gc.enable()
    frozen = gc.get_freeze_count()
    with paused_gc():
        assert not gc.isenabled()
        made = [_Cycle() for _ in range(5000)]
        ref = weakref.ref(made[-1])
        del made
        assert ref() is not None  # garbage, but nobody collected it
    assert gc.isenabled() and gc.get_freeze_count() >= frozen + 5000
    gc.collect()
    assert ref() is not None  # frozen: kept for good (the documented cost)


def test_an_error_still_restores_the_collector_and_a_disabled_one_stays_off(gc_state):
    gc.enable()
    with pytest.raises(RuntimeError), paused_gc(freeze=False):
        raise RuntimeError("load failed")
    assert gc.isenabled()
    gc.disable()
    with paused_gc(freeze=False):
        pass
    assert not gc.isenabled()


def test_int8_quantisation_frees_the_float_weights_without_the_collector(gc_state):
    from kgfm.qa.quantize import _quantize_dynamic

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4)).eval()
    x = torch.randn(3, 8)
    with torch.no_grad():
        want = model(x)
    weights = [weakref.ref(m.weight) for m in model if isinstance(m, nn.Linear)]
    gc.disable()
    _quantize_dynamic(model)
    assert all(w() is None for w in weights)  # refcounting freed them: no collection ran
    with torch.no_grad():
        torch.testing.assert_close(model(x), want, atol=0.05, rtol=0.05)  # the int8 layers still answer
