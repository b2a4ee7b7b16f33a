"""Stage 3: the GNN entity encoder (CompGCN / R-GCN + DistMult/ComplEx/RotatE) trained by link prediction.

Entry point: :func:`kgfm.encoder.train.main` (``kgfm train --stage graph``). Modules: ``config``
(pydantic config), ``data`` (splits, inverse relations), ``layers`` (CompGCN conv), ``model``
(encoder + decoders), ``loop`` (training), ``evaluate`` (filtered MRR/Hits@k), ``checkpoint``
(safetensors artifacts), ``text_features`` (MiniLM-initialised features). Nothing heavy is
imported here.
"""
