"""Char-level mentions -> sub-word token spans via the tokenizer's offset mapping."""

from __future__ import annotations

import torch

from kgfm.fusion.batching import char_span_to_tokens, encode_batch
from kgfm.fusion.linking import EntityLinker


def test_spans_cover_exactly_the_mention_tokens(tok, graph):
    linker = EntityLinker.from_tensors(graph)
    texts = ["Kismet was directed by [William Dieterle]", "Leonardo DiCaprio starred in Inception"]
    linked = [linker.link_text(t) for t in texts]
    batch = encode_batch(tok, [c for c, _ in linked], [m for _, m in linked], max_length=32)
    assert batch["mention_spans"].shape == (2, 2, 2) and batch["mention_entities"].shape == (2, 2)
    for b, (clean, mentions) in enumerate(linked):
        for j, m in enumerate(mentions):
            s, e = batch["mention_spans"][b, j].tolist()
            decoded = tok.decode(batch["input_ids"][b, s:e])
            assert decoded == clean[m.start:m.end].lower()
            assert batch["mention_entities"][b, j] == m.entity_idx
    # first text has one mention: slot 1 padded
    assert batch["mention_spans"][0, 1].tolist() == [-1, -1] and batch["mention_entities"][0, 1] == -1


def test_truncated_mention_is_padded(tok):
    text = "word " * 40 + "Kismet"
    batch = encode_batch(tok, [text], [[(len(text) - 6, len(text), 3)]], max_length=16)
    assert batch["mention_spans"][0, 0].tolist() == [-1, -1]
    assert batch["mention_entities"][0, 0] == -1


def test_no_mentions_gives_one_padded_slot(tok):
    batch = encode_batch(tok, ["plain text", "more"], None, max_length=8)
    assert batch["mention_spans"].shape == (2, 1, 2)
    assert torch.all(batch["mention_spans"] == -1)


def test_char_span_to_tokens_skips_special_tokens():
    offsets = [(0, 0), (0, 3), (4, 9), (9, 12), (0, 0)]
    assert char_span_to_tokens(offsets, 4, 12) == (2, 4)
    assert char_span_to_tokens(offsets, 20, 25) == (-1, -1)
