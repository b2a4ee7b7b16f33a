"""``kgfm train --stage graph|pretrain|finetune [--config FILE]``."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from kgfm.cli.errors import friendly_errors


class Stage(str, Enum):
    graph = "graph"
    pretrain = "pretrain"
    finetune = "finetune"


SAMPLE_CONFIG = {Stage.graph: "graph", Stage.pretrain: "pretrain", Stage.finetune: "finetune_sample"}


def train(
    stage: Stage = typer.Option(..., help="graph: GNN encoder + FAISS index; pretrain: fusion LM; finetune: QA"),
    config: Optional[Path] = typer.Option(
        None, "--config", "-c",
        help="YAML config (configs/*.yaml, or sample:NAME for a bundled one); without it the stage's built-in "
             "defaults (what kgfm auto uses) plus --set"),
    set_: Optional[list[str]] = typer.Option(None, "--set", help="override a config value: key.sub=value"),
    resume: bool = typer.Option(False, "--resume", help="continue from the last checkpoint"),
) -> None:
    """Train one stage from a YAML config; the resolved config is saved beside the outputs."""
    with friendly_errors():
        import time

        from kgfm.cli.summary import print_stage_summary
        from kgfm.config import ConfigError, load_config, parse_overrides
        from kgfm.training.report import stage_summary

        overrides = parse_overrides(set_)
        started = time.perf_counter()
        if stage is Stage.graph:
            from kgfm.encoder.config import GraphTrainConfig as Config
            from kgfm.index.build import main as run  # trains the encoder, then builds the index
        elif stage is Stage.pretrain:
            from kgfm.fusion.pretrain import PretrainConfig as Config
            from kgfm.fusion.pretrain import main as run
        else:
            from kgfm.qa.config import QAConfig as Config
            from kgfm.qa.finetune import main as run
        try:
            doc = run(config, overrides, resume)
        except ConfigError as exc:
            if config is None and "required" in str(exc):  # a missing field, not a typo in --set
                raise ConfigError(f"{exc} (no --config given: pass one, e.g. --config sample:{SAMPLE_CONFIG[stage]}, "
                                  "or give each field with --set)") from None
            raise
        if doc:  # {} on the non-zero ranks of a distributed run
            out = load_config(Config, config, overrides).run.output_dir
            print_stage_summary(stage.value, stage_summary(stage.value, out, doc, time.perf_counter() - started))
