"""Tokenising texts and mapping character-level mentions to sub-word token spans.

A mention is anything with ``start``/``end`` char offsets and an ``entity_idx`` (a
:class:`~kgfm.fusion.linking.Mention`, or a ``(start, end, entity_idx)`` tuple). Offsets index
the text passed here (for linked text: the clean, bracket-free text).
"""

from __future__ import annotations

from typing import Any, Sequence

import torch


def _triple(mention: Any) -> tuple[int, int, int]:
    if isinstance(mention, (tuple, list)):
        start, end, entity = mention[:3]
        return int(start), int(end), int(entity)
    return int(mention.start), int(mention.end), int(mention.entity_idx)


def char_span_to_tokens(offsets: Sequence[tuple[int, int]], start: int, end: int) -> tuple[int, int]:
    """Token span ``[first, last + 1)`` of the tokens overlapping chars ``[start, end)``.

    Special tokens (offset ``(0, 0)``) never count. ``(-1, -1)`` when no token overlaps
    (e.g. the mention was truncated away).
    """
    first = last = -1
    for t, (s, e) in enumerate(offsets):
        if e <= s:  # special or empty token
            continue
        if s < end and start < e:
            if first < 0:
                first = t
            last = t
    return (first, last + 1) if first >= 0 else (-1, -1)


def encode_batch(
    tokenizer: Any,
    texts: Sequence[str],
    mentions_per_text: Sequence[Sequence[Any]] | None,
    max_length: int = 128,
    pad_to: int | None = None,
) -> dict[str, torch.Tensor]:
    """Tokenise ``texts`` and place each text's mentions on its sub-word tokens.

    Args:
        tokenizer: A *fast* Hugging Face tokenizer (needs ``return_offsets_mapping``).
        texts: ``B`` strings.
        mentions_per_text: ``B`` lists of mentions; slot ``j`` of the output is mention ``j``.
        max_length: Truncation length in tokens.
        pad_to: Pad the sequence dimension to this many tokens (default: longest in batch).

    Returns:
        ``input_ids`` / ``attention_mask`` ``[B, T]``, ``mention_spans`` ``[B, M, 2]`` (token start,
        end exclusive; ``-1`` for padding or truncated mentions) and ``mention_entities``
        ``[B, M]`` (``-1`` for padding, truncated or unknown), ``M >= 1``.
    """
    if not getattr(tokenizer, "is_fast", False):
        raise TypeError("encode_batch needs a fast tokenizer (offset mappings)")
    if mentions_per_text is not None and len(mentions_per_text) != len(texts):
        raise ValueError(f"{len(texts)} texts but {len(mentions_per_text)} mention lists")
    enc = tokenizer(
        list(texts),
        padding="max_length" if pad_to else True,
        truncation=True,
        max_length=pad_to or max_length,
        return_offsets_mapping=True,
        return_tensors="pt",
    )
    offsets = enc.pop("offset_mapping").tolist()
    mentions_per_text = mentions_per_text or [[] for _ in texts]
    m_max = max(1, max(len(ms) for ms in mentions_per_text))
    spans = torch.full((len(texts), m_max, 2), -1, dtype=torch.long)
    entities = torch.full((len(texts), m_max), -1, dtype=torch.long)
    for b, mentions in enumerate(mentions_per_text):
        for j, mention in enumerate(mentions):
            start, end, entity = _triple(mention)
            first, stop = char_span_to_tokens(offsets[b], start, end)
            if first >= 0:
                spans[b, j, 0], spans[b, j, 1] = first, stop
                entities[b, j] = entity
    out = {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}
    out["mention_spans"] = spans
    out["mention_entities"] = entities
    return out
