"""The training loop: 1-N cross-entropy over all entities, early stopping on validation MRR.

Shared by ``kgfm train --stage graph`` (:mod:`kgfm.encoder.train`) and the benchmark
(bench/bench_linkpred.py). Each step runs the GNN over the full graph, scores a batch of
``(entity, relation)`` queries against every entity and applies cross-entropy (with optional
label smoothing) plus an optional N3 regulariser.
"""

from __future__ import annotations

import copy
import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Optional

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from kgfm.encoder.config import TrainSettings
from kgfm.encoder.data import LinkPredData
from kgfm.encoder.evaluate import KnownAnswers, ScoreFn, evaluate_triples
from kgfm.encoder.model import KGEncoder


def pick_device(name: str) -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU."""
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("train.device is 'cuda' but torch sees no CUDA device")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def make_optimizer(model: torch.nn.Module, settings: TrainSettings) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    if settings.optimizer == "adagrad":
        return torch.optim.Adagrad(params, lr=settings.lr)
    return torch.optim.Adam(params, lr=settings.lr)


@dataclass
class EpochRecord:
    epoch: int
    loss: float
    seconds: float
    elapsed: float
    val: Optional[dict] = None


@dataclass
class TrainState:
    """What a resume needs besides the weights: epoch count, history, best validation MRR."""

    epoch: int = 0
    best_mrr: float = -1.0
    best_epoch: int = 0
    bad_evals: int = 0
    elapsed: float = 0.0
    history: list[EpochRecord] = field(default_factory=list)
    stopped: str = ""

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainState":
        d = dict(d)
        d["history"] = [EpochRecord(**h) for h in d.get("history", [])]
        return cls(**d)


class Trainer:
    """Fits a :class:`KGEncoder` on :class:`LinkPredData`.

    Args:
        model: The encoder (``set_graph`` is called here).
        data: Splits (moved to ``device``).
        settings: Training settings.
        device: Where to train.
        max_valid_triples: Evaluate on a fixed seeded subset of validation per epoch.
        log: Where per-epoch lines go.
    """

    def __init__(
        self,
        model: KGEncoder,
        data: LinkPredData,
        settings: TrainSettings,
        device: torch.device,
        max_valid_triples: Optional[int] = None,
        log: Callable[[str], None] = tqdm.write,
    ) -> None:
        self.model = model.to(device)
        self.data = data.to(device)
        self.settings = settings
        self.device = device
        self.log = log
        edge_index, edge_type = data.graph()
        self.model.set_graph(edge_index, edge_type)
        self.known = KnownAnswers(data.all_true(), data.num_entities, data.num_relations).to(device)
        self.optimizer = make_optimizer(self.model, settings)
        self.state = TrainState()
        self.valid = data.valid
        self.valid_missing = data.valid_missing
        if max_valid_triples is not None and len(data.valid) > max_valid_triples:
            g = torch.Generator().manual_seed(settings.seed)
            pick = torch.randperm(len(data.valid), generator=g)[:max_valid_triples].to(device)
            self.valid = data.valid[pick]
            self.valid_missing = round(data.valid_missing * max_valid_triples / len(data.valid))
        self.best_weights: Optional[dict] = None

    # ---- steps -------------------------------------------------------------------------
    def train_epoch(self, epoch: int, deadline: Optional[float] = None) -> tuple[float, bool]:
        """One pass over all training queries. Returns (mean loss, finished before the deadline)."""
        self.model.train()
        ent_q, rel_q, ans = self.data.queries(self.data.train)
        g = torch.Generator().manual_seed(self.settings.seed * 100_003 + epoch)
        order = torch.randperm(len(ent_q), generator=g).to(self.device)
        bs = self.settings.batch_size
        total, count, finished = 0.0, 0, True
        bar = tqdm(range(0, len(order), bs), desc=f"epoch {epoch}", leave=False, mininterval=2.0)
        for start in bar:
            if deadline is not None and time.monotonic() > deadline:
                finished = False
                break
            idx = order[start : start + bs]
            e, r, a = ent_q[idx], rel_q[idx], ans[idx]
            if self.settings.sampler == "khop":
                loss = self._sampled_loss(e, r, a)
            else:
                ent = self.model.encode()
                scores = self.model.score_all(ent, e, r)
                loss = F.cross_entropy(scores, a, label_smoothing=self.settings.label_smoothing)
                if self.settings.regularization > 0:
                    loss = loss + self.settings.regularization * self.model.n3(ent, e, r, a)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            total += float(loss.detach()) * len(idx)
            count += len(idx)
            bar.set_postfix(loss=f"{total / count:.4f}", refresh=False)
        bar.close()
        return total / max(count, 1), finished

    def _sampled_loss(self, e: torch.Tensor, r: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        """Cross-entropy against the batch's answers plus random entities, with the GNN run only on
        the k-hop computation subgraph of the entities involved (exact embeddings for them)."""
        s = self.settings
        neg = torch.randint(0, self.data.num_entities, (s.num_negatives,), device=self.device)
        cand = torch.cat([a, neg]).unique()
        seeds = torch.cat([e, cand]).unique()
        ent = self.model.encode(subset=seeds)
        local = lambda x: torch.searchsorted(seeds, x)  # noqa: E731  (seeds is sorted)
        q = self.model.query(ent, local(e), r)
        scores = self.model.score_candidates(q, ent[local(cand)])
        loss = F.cross_entropy(scores, torch.searchsorted(cand, a), label_smoothing=s.label_smoothing)
        if s.regularization > 0:
            loss = loss + s.regularization * self.model.n3(ent, local(e), r, local(a))
        return loss

    @torch.no_grad()
    def score_fn(self) -> ScoreFn:
        self.model.eval()
        ent = self.model.encode()
        return lambda e, r: self.model.score_all(ent, e, r)

    @torch.no_grad()
    def evaluate(self, split: str = "valid") -> dict:
        triples, missing = (self.valid, self.valid_missing) if split == "valid" else (self.data.test, self.data.test_missing)
        if split == "valid_full":
            triples, missing = self.data.valid, self.data.valid_missing
        return evaluate_triples(
            self.score_fn(), triples, self.known, self.data.num_entities, self.data.num_relations,
            missing, self.settings.eval_batch_size,
        )

    # ---- loop --------------------------------------------------------------------------
    def fit(
        self,
        on_best: Optional[Callable[["Trainer"], None]] = None,
        on_epoch: Optional[Callable[["Trainer"], None]] = None,
    ) -> TrainState:
        """Train until ``epochs``, early stopping, or ``max_minutes``; keeps the best weights.

        Args:
            on_best: Called after an evaluation that improved validation MRR (save the best checkpoint).
            on_epoch: Called after every epoch (save the resumable last checkpoint).
        """
        s, st = self.settings, self.state
        budget = None if s.max_minutes is None else s.max_minutes * 60.0
        start_clock = time.monotonic() - st.elapsed
        deadline = None if budget is None else start_clock + budget
        has_valid = len(self.valid) > 0 or self.valid_missing > 0
        while st.epoch < s.epochs and not st.stopped:
            t0 = time.monotonic()
            loss, finished = self.train_epoch(st.epoch + 1, deadline)
            if not finished and st.epoch > 0 and self.best_weights is not None:
                st.stopped = f"time budget of {s.max_minutes} min reached (partial epoch discarded)"
                break
            st.epoch += 1
            record = EpochRecord(st.epoch, loss, time.monotonic() - t0, time.monotonic() - start_clock)
            line = f"epoch {st.epoch:4d}  loss {loss:.4f}  {record.seconds:6.1f}s"
            if has_valid and (st.epoch % s.eval_every == 0 or st.epoch == s.epochs or not finished):
                val = self.evaluate("valid")
                record.val = {k: v for k, v in val.items() if not isinstance(v, dict)}
                line += f"  val MRR {val['mrr']:.4f}  H@10 {val['hits@10']:.4f}"
                if val["mrr"] > st.best_mrr:
                    st.best_mrr, st.best_epoch, st.bad_evals = val["mrr"], st.epoch, 0
                    self.best_weights = copy.deepcopy({k: v.detach().cpu() for k, v in self.model.state_dict().items()})
                    line += "  *best*"
                    if on_best:
                        on_best(self)
                else:
                    st.bad_evals += 1
                    if st.bad_evals >= s.patience:
                        st.stopped = f"early stop: no val MRR gain in {s.patience} evaluations"
            elif not has_valid:
                st.best_epoch = st.epoch
                self.best_weights = copy.deepcopy({k: v.detach().cpu() for k, v in self.model.state_dict().items()})
                if on_best:
                    on_best(self)
            st.elapsed = time.monotonic() - start_clock
            record.elapsed = st.elapsed
            st.history.append(record)
            self.log(line)
            if not finished:
                st.stopped = f"time budget of {s.max_minutes} min reached"
            if on_epoch:
                on_epoch(self)
        if not st.stopped:
            st.stopped = f"{s.epochs} epochs done"
        self.log(f"stopped: {st.stopped}; best val MRR {st.best_mrr:.4f} at epoch {st.best_epoch}")
        return st

    def restore_best(self) -> None:
        if self.best_weights is not None:
            self.model.load_state_dict(self.best_weights)
