"""Knowledge fusion: entity linking, the fusion transformer, and knowledge pretraining.

Modules: :mod:`~kgfm.fusion.linking` (alias index, mention detection), :mod:`~kgfm.fusion.batching`
(mentions -> sub-word spans), :mod:`~kgfm.fusion.layer` / :mod:`~kgfm.fusion.model` (fusion layers
and the wrapped encoder), :mod:`~kgfm.fusion.corpus` (KG-aligned text), :mod:`~kgfm.fusion.pretrain`
(MLM + masked-entity prediction). Nothing heavy is imported here.
"""
