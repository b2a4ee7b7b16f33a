"""Traced transformer blocks (kgfm.qa.tracing): same outputs as the eager blocks, hooks still run,
eager whenever a recording would be wrong (training, gradients, unusual arguments, a block whose
Python depends on the input's shape)."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from transformers import BertConfig, BertModel

from kgfm.qa.tracing import TracedLayer, record_pending, trace_layers, traced_count, untrace_layers


def _bert(seed: int = 0) -> BertModel:
    torch.manual_seed(seed)
    cfg = BertConfig(hidden_size=32, num_hidden_layers=3, num_attention_heads=2, intermediate_size=64,
                     vocab_size=100, max_position_embeddings=64, attn_implementation="sdpa")
    return BertModel(cfg, add_pooling_layer=False).eval()


def _batch(lengths: list[int], seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    t = max(lengths)
    ids = torch.randint(5, 100, (len(lengths), t), generator=g)
    mask = torch.zeros(len(lengths), t, dtype=torch.long)
    for i, n in enumerate(lengths):
        mask[i, :n] = 1
    return ids * mask, mask


def _run(model: BertModel, lengths: list[int]) -> torch.Tensor:
    ids, mask = _batch(lengths)
    with torch.inference_mode():
        return model(input_ids=ids, attention_mask=mask).last_hidden_state


@pytest.mark.parametrize("int8", [False, True])
def test_traced_blocks_match_eager_for_single_and_padded_batches(int8):
    model = _bert()
    if int8:
        from kgfm.qa.quantize import _quantize_dynamic

        _quantize_dynamic(model)
    shapes = [[7], [5, 9, 3], [12], [4, 4]]  # unpadded (no mask), padded, other lengths and sizes
    want = [_run(model, s) for s in shapes]
    tracers = trace_layers(model)
    assert len(tracers) == 3 and traced_count(tracers) == 0  # recorded lazily
    got = [_run(model, s) for s in shapes]
    assert traced_count(tracers) == 3
    # one recording per call signature: no mask (one unpadded question), and the padded batch's mask
    assert all(len(t.recordings) == 2 and all(v is not None for v in t.recordings.values()) for t in tracers)
    for w, g in zip(want, got):
        torch.testing.assert_close(g, w, atol=1e-5, rtol=1e-5)
    assert trace_layers(model) == tracers  # idempotent: the installed tracers are kept
    untrace_layers(model)
    assert all("forward" not in layer.__dict__ for layer in model.encoder.layer)


def test_a_padded_batch_first_serves_later_unpadded_calls_from_the_same_recording():
    """Recorded on a padded batch, the block answers an unpadded call (no mask) through the same
    recording with an attend-everywhere mask: one recording per block, same outputs as eager."""
    from kgfm.qa.tracing import _Recorded, _ViaMask

    model = _bert()
    want = [_run(model, s) for s in ([5, 9, 3], [7], [11, 11])]
    tracers = trace_layers(model)
    got = [_run(model, s) for s in ([5, 9, 3], [7], [11, 11])]
    for t in tracers:
        (mask_sig, masked), (none_sig, unmasked) = t.recordings.items()
        assert mask_sig[1] is not None and isinstance(masked, _Recorded) and masked.dtype == torch.bool
        assert none_sig == (torch.float32, None) and isinstance(unmasked, _ViaMask) and unmasked.recorded is masked
        assert unmasked.mask(torch.zeros(2, 6, 32)).shape[0] == 2 and bool(unmasked.mask(torch.zeros(1, 4, 32)).all())
    for w, g in zip(want, got):
        torch.testing.assert_close(g, w, atol=1e-5, rtol=1e-5)


def test_deferred_blocks_answer_eagerly_then_record_one_step_at_a_time():
    """``deferred=True``: the first calls run eagerly and leave copies of their inputs; each
    :func:`record_pending` records one (block, signature), masked before unmasked, and the
    blocks then answer from the recordings, with the eager outputs throughout."""
    from kgfm.qa.tracing import _Recorded, _ViaMask

    model = _bert()
    shapes = ([5, 9, 3], [7], [11, 11], [4])
    want = [_run(model, s) for s in shapes]
    tracers = trace_layers(model, deferred=True)
    got = [_run(model, s) for s in shapes[:2]]  # a padded batch, a lone question: two signatures pending
    assert traced_count(tracers) == 0 and all(len(t.pending) == 2 and not t.recordings for t in tracers)
    steps = 0
    while record_pending(tracers):
        steps += 1
        done = [bool(t.recordings) for t in tracers]
        assert done == sorted(done, reverse=True)  # block by block, in order
    assert steps + 1 == 6 and traced_count(tracers) == 3 and not any(t.pending for t in tracers)
    for t in tracers:
        masked, unmasked = t.recordings.values()
        assert isinstance(masked, _Recorded) and isinstance(unmasked, _ViaMask) and unmasked.recorded is masked
    got += [_run(model, s) for s in shapes[2:]]  # from the recordings
    assert not any(t.pending for t in tracers)
    for w, g in zip(want, got):
        torch.testing.assert_close(g, w, atol=1e-5, rtol=1e-5)
    assert record_pending(tracers) is False  # nothing left: a no-op


def test_hooks_still_run_between_traced_blocks():
    model = _bert()
    seen = []

    def hook(module, args, output):
        seen.append(output.shape)
        return output * 2.0  # a hook that changes the output, as the fusion layers do

    model.encoder.layer[1].register_forward_hook(hook)
    want = _run(model, [6, 4])
    trace_layers(model)
    got = _run(model, [6, 4])
    assert len(seen) == 2 and seen[0] == seen[1] == torch.Size([2, 6, 32])
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)


def test_training_and_gradients_use_the_eager_blocks():
    model = _bert()
    tracers = trace_layers(model)
    ids, mask = _batch([5, 3])
    model.train()
    out = model(input_ids=ids, attention_mask=mask).last_hidden_state
    out.sum().backward()  # gradients flow: the eager blocks ran
    assert model.encoder.layer[0].attention.self.query.weight.grad is not None
    model.eval()
    with torch.no_grad():
        model(input_ids=ids, attention_mask=mask)
    assert traced_count(tracers) == 3  # inference records


class _ShapeDependent(nn.Module):
    """A block whose Python branches on the length: a trace would freeze the branch it saw."""

    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(4, 4)

    def forward(self, hidden, attention_mask=None):
        return self.lin(hidden) * (2.0 if hidden.shape[1] > 5 else 1.0)


class _Stack(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.layers = nn.ModuleList([_ShapeDependent()])

    def forward(self, x, **kwargs):
        for layer in self.layers:
            x = layer(x, None, **kwargs)
        return x


def test_a_block_whose_trace_differs_on_another_shape_stays_eager():
    stack = _Stack().eval()
    (tracer,) = trace_layers(stack)
    x = torch.randn(1, 3, 4)
    with torch.no_grad():
        short = stack(x)
        long = stack(torch.randn(2, 8, 4))
    assert tracer.recordings == {(torch.float32, None): None}  # recorded, checked on [2, 6, 4], dropped
    assert traced_count([tracer]) == 0
    with torch.no_grad():
        torch.testing.assert_close(short, stack.layers[0].lin(x))
        assert long.shape == (2, 8, 4)


def test_calls_with_other_arguments_run_eagerly():
    stack = _Stack().eval()
    (tracer,) = trace_layers(stack)
    assert isinstance(stack.layers[0].forward, TracedLayer)
    with torch.no_grad():
        with pytest.raises(TypeError):  # passed through to the eager forward, which has no such argument
            stack(torch.randn(1, 3, 4), position_ids=torch.arange(3))
    assert tracer.recordings == {}


@pytest.mark.parametrize("model_type,traced", [("roberta", 2), ("distilbert", 2), ("deberta-v2", 0)])
def test_other_encoders_trace_or_fall_back_with_the_same_outputs(model_type, traced):
    """RoBERTa and DistilBERT blocks are recorded; DeBERTa's take relative-position arguments, so they
    run eagerly. Either way the outputs are the eager ones (padded batch, lone question, new shapes)."""
    from transformers import AutoConfig, AutoModel

    kw = dict(vocab_size=100, max_position_embeddings=64)
    if model_type == "distilbert":
        kw.update(dim=32, n_layers=2, n_heads=2, hidden_dim=64)
    else:
        kw.update(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64)
    if model_type == "roberta":
        kw.update(pad_token_id=1)
    torch.manual_seed(0)
    model = AutoModel.from_config(AutoConfig.for_model(model_type, **kw)).eval()
    batches = [_batch([9, 6, 4]), _batch([7]), _batch([8, 5], seed=2)]

    def run():
        with torch.inference_mode():
            return [model(input_ids=i, attention_mask=m).last_hidden_state for i, m in batches]

    want = run()
    tracers = trace_layers(model)
    got = run()
    assert traced_count(tracers) == traced == (len(tracers) if traced else 0)
    for w, g in zip(want, got):
        torch.testing.assert_close(g, w, atol=1e-5, rtol=1e-5)
