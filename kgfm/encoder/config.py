"""Config model for ``kgfm train --stage graph`` (YAML in configs/graph*.yaml)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Optional

from pydantic import Field, model_validator

from kgfm.config import StoreConfig, StrictModel
from kgfm.training.settings import OptimSettings, RunSettings, reject_legacy_keys


class DataConfig(StrictModel):
    """Which triples are evaluated on.

    With ``valid``/``test`` files (``h<TAB>r<TAB>t`` or ``h|r|t`` lines, optionally gzipped)
    every stored triple is a training edge and the files are mapped through the store
    vocabulary (unknown entities/relations are counted and scored as misses). Without
    them a seeded random fraction of the stored triples is held out (and removed from the
    message-passing graph).
    """

    valid: Optional[Path] = None
    test: Optional[Path] = None
    valid_fraction: float = Field(0.05, ge=0.0, lt=0.5)
    test_fraction: float = Field(0.05, ge=0.0, lt=0.5)
    split_seed: int = 0
    max_valid_triples: Optional[int] = Field(None, ge=1, description="subsample validation per epoch")
    text_init: bool = Field(False, description="initialise entity features from MiniLM name/description vectors")
    text_model: str = "minilm"
    text_cache: Optional[Path] = Field(None, description="cache file for text features (default: run.output_dir)")


class ConvESettings(StrictModel):
    """The ``conve`` decoder's own settings (Dettmers et al. 2018; see :class:`kgfm.encoder.decoders.ConvE`)."""

    width: int = Field(20, ge=1, description="width of the reshaped embedding; must divide model.dim")
    filters: int = Field(32, ge=1)
    kernel: int = Field(3, ge=1)
    feature_dropout: float = Field(0.2, ge=0.0, lt=1.0)
    hidden_dropout: float = Field(0.3, ge=0.0, lt=1.0)


def conve_shape_problem(dim: int, width: int, kernel: int) -> str | None:
    """Why ConvE cannot reshape a ``dim``-wide pair of embeddings into a ``(2*dim/width) x width`` image
    and convolve it with a ``kernel`` square, or None (checked by the config and by the decoder)."""
    if dim % width:
        return f"width {width} does not divide dim {dim}"
    if min(2 * dim // width, width) < kernel:
        return f"a {kernel}x{kernel} kernel does not fit the {2 * dim // width}x{width} image"
    return None


class ModelConfig(StrictModel):
    conv: Literal["compgcn", "rgcn", "none"] = "compgcn"
    num_layers: int = Field(1, ge=0, le=4)
    dim: int = Field(200, ge=2)
    composition: Literal["mult", "sub"] = "mult"
    num_bases: Optional[int] = Field(None, ge=1, description="R-GCN basis decomposition")
    num_blocks: Optional[int] = Field(None, ge=1, description="R-GCN block-diagonal decomposition")
    decoder: Literal["distmult", "complex", "rotate", "conve"] = "complex"
    conve: ConvESettings = ConvESettings()
    residual: bool = Field(True, description="entity output = input features + GNN output")
    input_dropout: float = Field(0.0, ge=0.0, lt=1.0)
    gnn_dropout: float = Field(0.1, ge=0.0, lt=1.0)
    init_scale: float = Field(1e-1, gt=0.0)

    @model_validator(mode="after")
    def _check(self) -> "ModelConfig":
        if self.decoder in ("complex", "rotate") and self.dim % 2:
            raise ValueError(f"dim must be even for the {self.decoder} decoder, got {self.dim}")
        if self.decoder == "conve":
            problem = conve_shape_problem(self.dim, self.conve.width, self.conve.kernel)
            if problem:
                raise ValueError(f"model.conve: {problem} (model.dim, model.conve.width, model.conve.kernel)")
        if self.num_bases is not None and self.num_blocks is not None:
            raise ValueError("num_bases and num_blocks are mutually exclusive")
        return self


class GraphTrainSettings(StrictModel):
    """The encoder's loop (device, threads, seed, time budget are in ``run:``; the optimizer in ``optim:``)."""

    epochs: int = Field(100, ge=1)
    batch_size: int = Field(1024, ge=1)
    label_smoothing: float = Field(0.0, ge=0.0, lt=1.0)
    regularization: float = Field(0.0, ge=0.0, description="N3 weight on the scored factors")
    eval_every: int = Field(1, ge=1)
    patience: int = Field(10, ge=1, description="evaluations without a gain of `monitor` before stopping")
    monitor: Literal["mrr", "hits@1", "hits@3", "hits@10"] = Field("mrr", description="validation metric for early stopping")
    eval_batch_size: int = Field(256, ge=1)
    sampler: Literal["full", "negatives", "khop"] = Field(
        "full", description="full: GNN over the whole graph each step, 1-N scoring against every entity; "
        "negatives: GNN over the whole graph, scored against the batch answers plus num_negatives random "
        "entities (cheaper steps when 1-N scoring dominates); khop: GNN only on the k-hop computation "
        "subgraph of those entities (for graphs too large for a full pass with gradients)")
    num_negatives: int = Field(4096, ge=1, description="random candidate entities per batch (samplers negatives, khop)")


class IndexSettings(StrictModel):
    metric: Literal["auto", "ip", "cosine", "l2"] = Field("auto", description="auto: ip for distmult/complex, l2 for rotate")
    exact_threshold: int = Field(50_000, ge=1)
    hnsw_m: int = Field(32, ge=4)
    ef_construction: int = Field(200, ge=8)
    ef_search: int = Field(128, ge=1)


class GraphRunSettings(RunSettings):
    output_dir: Path = Path("runs/graph")


class GraphOptimSettings(OptimSettings):
    """``lr`` trains the entity/relation embeddings and the decoder; ``gnn_lr`` the message-passing
    layers (their weight matrices and relation inputs). Adagrad's first step moves every entry by
    about ``lr``, which the embeddings take but a 200x200 weight matrix at 0.1 does not: with the
    ``sub`` composition the FB15k-237 loss went from 9.6 to 8,857 in three steps at ``lr`` 0.1,
    and fell to 8.2 in twelve with ``gnn_lr`` 0.01 (the embeddings still at 0.1)."""

    optimizer: Literal["adamw", "adam", "adagrad"] = "adam"
    lr: float = Field(3e-3, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    gnn_lr: Optional[float] = Field(None, gt=0, description="message-passing layers (None: same as lr)")


class GraphTrainConfig(StrictModel):
    store: StoreConfig = StoreConfig()
    data: DataConfig = DataConfig()
    model: ModelConfig = ModelConfig()
    run: GraphRunSettings = GraphRunSettings()
    optim: GraphOptimSettings = GraphOptimSettings()
    train: GraphTrainSettings = GraphTrainSettings()
    index: IndexSettings = IndexSettings()

    @model_validator(mode="before")
    @classmethod
    def _renamed_keys(cls, data: object) -> object:
        return reject_legacy_keys(data)

    def index_metric(self) -> Literal["ip", "cosine", "l2"]:
        if self.index.metric != "auto":
            return self.index.metric
        return "l2" if self.model.decoder == "rotate" else "ip"
