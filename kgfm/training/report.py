"""What a stage leaves behind: atomic metrics JSON, the curve plot, TensorBoard scalars, a summary."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

from kgfm.artifacts import write_json_atomic  # noqa: F401 - re-exported: the stages' metrics files


def plot_curves(history: Sequence[dict[str, Any]], x: str, left: Sequence[str], right: Sequence[str],
                path: Path, evals: Sequence[dict[str, Any]] | None = None) -> Path | None:
    """Training curves as a PNG (matplotlib Agg), written atomically.

    Args:
        history: Per step/epoch records.
        x: Key of the x axis (``"epoch"``, ``"step"``).
        left: Keys plotted on the left axis (losses) from ``history``.
        right: Keys plotted on the right axis (validation metrics), from ``evals`` (or ``history``).
        path: PNG to write.
        evals: Evaluation records when they are kept apart from ``history``.
    """
    if not history:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for key in left:
        pts = [(h[x], h[key]) for h in history if h.get(key) is not None]
        if pts:
            ax.plot(*zip(*pts), label=key)
    ax.set_xlabel(x)
    ax.set_ylabel("loss")
    source = evals if evals is not None else history
    ax2 = ax.twinx()
    for key, style in zip(right, ("o-", "s--", "^:", "d-.")):
        pts = [(h[x], h[key]) for h in source if h.get(key) is not None]
        if pts:
            ax2.plot(*zip(*pts), style, markersize=3, label=key)
    ax2.set_ylabel("validation")
    fig.legend(loc="lower center", ncol=4, fontsize=8)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    os.replace(tmp, path)
    return path


class ScalarLog:
    """Optional TensorBoard scalars (``torch.utils.tensorboard``, only when ``tensorboard`` is installed).

    Args:
        log_dir: Event file folder.
        enabled: ``run.tensorboard``.
    """

    def __init__(self, log_dir: Path, enabled: bool) -> None:
        self.writer = None
        self.note = "off"
        if not enabled:
            return
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            self.note = "run.tensorboard is on but the tensorboard package is not installed; not logging"
            print(self.note)
            return
        self.writer = SummaryWriter(str(log_dir))
        self.note = str(log_dir)

    def log(self, step: int, scalars: dict[str, Any], prefix: str = "") -> None:
        if self.writer is None:
            return
        for key, value in scalars.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                self.writer.add_scalar(f"{prefix}{key}", float(value), step)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def summary(stage: str, fields: dict[str, Any]) -> str:
    """The end-of-stage summary line every stage prints (and returns)."""
    parts = []
    for key, value in fields.items():
        parts.append(f"{key} {value:.4f}" if isinstance(value, float) else f"{key} {value}")
    line = f"[{stage}] " + "  ".join(parts)
    print(line)
    return line


# (label, path into the stage's returned document, format) of the key metrics of each stage
_STAGE_METRICS: dict[str, list[tuple[str, tuple[str, ...], str]]] = {
    "graph": [("epochs", ("epochs",), "d"), ("stopped", ("stopped",), "s"),
              ("test MRR", ("test", "mrr"), ".4f"), ("test Hits@1", ("test", "hits@1"), ".4f"),
              ("test Hits@10", ("test", "hits@10"), ".4f"), ("valid MRR", ("valid", "mrr"), ".4f"),
              ("index type", ("index", "type"), "s"), ("index fingerprint", ("index", "fingerprint"), "s")],
    "pretrain": [("steps", ("steps",), "d"), ("stopped", ("stopped",), "s"), ("steps/s", ("steps_per_s",), ".2f"),
                 ("entity MRR", ("final_eval", "entity_mrr"), ".4f"),
                 ("entity Hits@1", ("final_eval", "entity_hits1"), ".4f"),
                 ("MLM accuracy", ("final_eval", "mlm_accuracy"), ".4f")],
    "finetune": [("epochs", ("epochs_run",), "d"), ("stopped", ("stopped_by",), "s"),
                 ("best epoch", ("best_epoch",), "d"), ("best valid Hits@1", ("best_valid_hits1",), ".4f"),
                 ("train questions", ("train_questions",), "d"), ("valid questions", ("valid_questions",), "d")],
}
_STAGE_PATHS = {"graph": [("checkpoint", "checkpoint"), ("index", "index")],
                "pretrain": [("model", "model")], "finetune": [("model", "model")]}


def _lookup(doc: dict[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        if not isinstance(doc, dict) or doc.get(key) is None:
            return None
        doc = doc[key]
    return doc


def stage_summary(stage: str, output_dir: Path, doc: dict[str, Any], wall_s: float) -> list[tuple[str, str]]:
    """The rows of the end-of-stage table: the paths written (those that exist), key metrics, wall time.

    Args:
        stage: ``graph``, ``pretrain`` or ``finetune``.
        output_dir: The stage's ``run.output_dir``.
        doc: What the stage returned (its metrics document).
        wall_s: Seconds the whole stage took.
    """
    rows: list[tuple[str, str]] = []
    out = Path(output_dir)
    for label, name in [*_STAGE_PATHS.get(stage, []), ("metrics", "metrics.json"), ("curve", "curve.png")]:
        if (out / name).exists():
            rows.append((label, str(out / name)))
    for label, keys, fmt in _STAGE_METRICS.get(stage, []):
        value = _lookup(doc, keys)
        if value is None or value is False:
            continue
        rows.append((label, format(value, fmt) if fmt != "s" and isinstance(value, (int, float)) else str(value)))
    rows.append(("wall time", f"{wall_s:.1f} s"))
    return rows
