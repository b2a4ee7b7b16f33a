"""What a load did (:class:`LoadReport`) and why it stopped (:class:`LoadAborted`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from kgfm.sources import Reject
from kgfm.store.base import StoreError


class LoadAborted(StoreError):
    """``on_error="fail"`` met a bad record: found by the check before any write (``checked_first``), or by a
    :class:`~kgfm.store.loader.GraphLoader` used directly, which writes nothing of the record's batch."""

    def __init__(self, reject: Reject, report: "LoadReport", checked_first: bool = False) -> None:
        self.reject = reject
        self.report = report
        done = ("nothing was written (--on-error fail checks every file before the first write)" if checked_first
                else f"stopped before writing this batch (--on-error fail; written before it: "
                f"{report.entities_new} entities, {report.triples_new} triples)")
        super().__init__(
            f"{reject.message()} -- {done}; fix the line, or use "
            "--on-error skip (in Python: on_error=\"skip\") to load the good rows and list the rejects"
        )


@dataclass
class LoadReport:
    """What a load did; printed as the summary and saved as JSON."""

    files: list[str] = field(default_factory=list)
    records_read: int = 0
    entities_new: int = 0
    entities_updated: int = 0
    relations_new: int = 0
    triples_read: int = 0
    triples_new: int = 0
    triples_existing: int = 0
    rejected: int = 0
    rejects_path: str | None = None
    names_matched: int = 0
    names_unmatched: int = 0
    seconds: float = 0.0
    entities_total: int = 0
    relations_total: int = 0
    triples_total: int = 0
    warnings: list[str] = field(default_factory=list)

    @property
    def triples_per_second(self) -> float:
        return self.triples_read / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict:
        out = asdict(self)
        out["triples_per_second"] = round(self.triples_per_second, 1)
        return out
