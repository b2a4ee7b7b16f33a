"""The fine-tuning / QA config (``configs/metaqa*.yaml``, ``configs/finetune_sample.yaml``).

Every section is a :class:`~kgfm.config.StrictModel`, so a misspelt key is an error naming
the field. Relative paths are resolved against the current directory (the repository root
when the commands are run as documented); ``data.root`` defaults to ``$KGFM_DATA_ROOT/MetaQA``
when that variable is set, else ``../shared/data/MetaQA``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Optional

from pydantic import Field, model_validator

from kgfm.config import StoreConfig, StrictModel
from kgfm.fusion.model import LoraSettings
from kgfm.training.settings import OptimSettings, RunSettings, reject_legacy_keys

DATA_ROOT_ENV = "KGFM_DATA_ROOT"


def default_metaqa_root() -> Path:
    """``$KGFM_DATA_ROOT/MetaQA`` when the variable is set, else ``../shared/data/MetaQA`` from the current directory."""
    import os

    env = os.environ.get(DATA_ROOT_ENV)
    return Path(env) / "MetaQA" if env else Path("..") / "shared" / "data" / "MetaQA"


DEFAULT_METAQA = default_metaqa_root()  # as resolved at import (benchmarks); configs use the factory


class QADataConfig(StrictModel):
    """Which questions to train and validate on.

    ``dataset: metaqa`` reads ``{root}/{hops}-hop/vanilla/qa_dev.txt`` (+ its ``qa_dev_qtype.txt``)
    and splits it into train / valid (``valid_fraction``, ``split_seed``). ``dataset: files``
    reads ``train`` (and ``valid`` when given, else the same split is applied to ``train``).
    """

    dataset: Literal["metaqa", "files"] = "metaqa"
    root: Path = Field(default_factory=default_metaqa_root,
                       description="MetaQA folder (default $KGFM_DATA_ROOT/MetaQA, else ../shared/data/MetaQA)")
    hops: int = Field(1, ge=1, le=3, description="MetaQA hop setting (also the candidate radius)")
    train: Optional[Path] = None
    valid: Optional[Path] = None
    test: Optional[Path] = None
    valid_fraction: float = Field(0.1, gt=0.0, lt=0.9)
    split_seed: int = 13
    limit_train: Optional[int] = Field(None, ge=1, description="train on a seeded random sample of N questions (seed: split_seed)")

    @model_validator(mode="after")
    def _files_need_train(self) -> "QADataConfig":
        if self.dataset == "files" and self.train is None:
            raise ValueError("data.train is required when data.dataset is 'files'")
        return self


class QAEncoderConfig(StrictModel):
    """The question encoder.

    ``kind: fusion`` uses :class:`kgfm.fusion.model.KnowledgeFusionModel`: ``init: pretrained``
    loads ``checkpoint`` (a ``kgfm train --stage pretrain`` output), ``init: base`` puts fresh
    fusion layers on ``base_model``. ``kind: plain`` is the base encoder alone (no KG inside the
    encoder; the scorer still uses the graph).
    """

    kind: Literal["fusion", "plain"] = "fusion"
    init: Literal["pretrained", "base"] = "base"
    checkpoint: Optional[Path] = None
    base_model: str = "minilm"
    max_length: int = Field(48, ge=8, le=512)
    freeze: bool = Field(False, description="freeze the encoder and cache question encodings")
    train_layers: Optional[int] = Field(
        None, ge=0, description="train only the top N transformer layers (+ fusion layers); embeddings and the "
        "layers below stay frozen, so backward stops early (None: train everything)")
    fusion_layers: Optional[list[int]] = Field(None, description="fusion layer positions for init: base")
    relation_views: bool = Field(False, description="init: base: the fusion layers also attend over the topic "
                                 "entity's relation views (model.relation_views of the fusion model)")
    backbone_config: Optional[dict[str, Any]] = Field(
        None, description="randomly initialised backbone (AutoConfig.for_model kwargs) instead of base_model's weights;"
        " the tokenizer still comes from base_model (tests, ablations)")
    lora: LoraSettings = Field(
        default_factory=LoraSettings, description="LoRA adapters on the backbone (kind: fusion; the [lora] extra): "
        "the backbone's weights stay frozen, adapters + fusion layers + scorer train")

    @model_validator(mode="after")
    def _pretrained_needs_checkpoint(self) -> "QAEncoderConfig":
        if self.kind == "fusion" and self.init == "pretrained" and self.checkpoint is None:
            raise ValueError("encoder.checkpoint is required for kind: fusion with init: pretrained")
        if self.lora.enabled and (self.kind != "fusion" or self.freeze):
            raise ValueError("encoder.lora needs kind: fusion and freeze: false")
        if self.relation_views and (self.kind != "fusion" or self.init != "base"):
            raise ValueError("encoder.relation_views needs kind: fusion and init: base (a pretrained checkpoint "
                             "keeps the setting it was pretrained with: model.relation_views)")
        return self


PathScore = Literal["mass", "log"]  # the scorer's relation-following term (kgfm.qa.model.PATH_SCORES)


class QAScorerConfig(StrictModel):
    """The answer scorer on top of the question vector (see :mod:`kgfm.qa.model`)."""

    max_hops: int = Field(3, ge=1, le=3, description="relation-following steps")
    proj_dim: int = Field(128, ge=8, description="projection size of the embedding term")
    path_score: PathScore = Field(
        "log", description="relation-following term: alpha * log(p + 1e-4) (log) or alpha * p (mass, the "
        "scorer before 2026-12-06: its 2-hop relation attention for questions about a person stays spread, "
        "bench/qa_path_probe.py)")
    use_entity_embeddings: bool = True
    dropout: float = Field(0.1, ge=0.0, lt=1.0)


class QATrainConfig(StrictModel):
    """The fine-tuning loop (device, threads, seed, time budget: ``run:``; learning rates: ``optim:``)."""

    epochs: int = Field(8, ge=1)
    batch_size: int = Field(32, ge=1)
    eval_batch_size: int = Field(64, ge=1)
    patience: int = Field(2, ge=1, description="epochs without a `monitor` gain before stopping")
    monitor: Literal["valid_hits1"] = "valid_hits1"
    eval_fusion_off: bool = Field(False, description="also report valid Hits@1 with fusion switched off, every epoch")


class QARunSettings(RunSettings):
    output_dir: Path = Path("runs/qa/metaqa")


class QAOptimSettings(OptimSettings):
    lr: float = Field(3e-5, gt=0, description="the question encoder")
    head_lr: float | None = Field(1e-3, gt=0, description="the answer scorer")
    fusion_at_head_lr: bool = Field(False, description="train the fusion layers at head_lr with the scorer "
                                    "(default: at lr, with the encoder they sit in)")
    schedule: Literal["constant", "linear", "cosine"] = "cosine"
    warmup: float = Field(0.05, ge=0)
    min_lr_ratio: float = Field(0.05, ge=0, le=1)
    grad_clip: float | None = Field(1.0, gt=0)


class QAConfig(StrictModel):
    store: StoreConfig = Field(default_factory=StoreConfig)
    index: Optional[Path] = Field(None, description="entity index dir (kgfm train --stage graph)")
    data: QADataConfig = Field(default_factory=QADataConfig)
    encoder: QAEncoderConfig = Field(default_factory=QAEncoderConfig)
    scorer: QAScorerConfig = Field(default_factory=QAScorerConfig)
    run: QARunSettings = Field(default_factory=QARunSettings)
    optim: QAOptimSettings = Field(default_factory=QAOptimSettings)
    train: QATrainConfig = Field(default_factory=QATrainConfig)

    @model_validator(mode="before")
    @classmethod
    def _renamed_keys(cls, data: object) -> object:
        return reject_legacy_keys(data)

    @model_validator(mode="after")
    def _fusion_needs_index(self) -> "QAConfig":
        if self.encoder.kind == "fusion" and self.index is None:
            raise ValueError("index is required for encoder.kind: fusion (the fusion layers retrieve from it)")
        return self
