"""The encoder's batch, step and evaluation functions: 1-N cross-entropy over all entities.

Shared by ``kgfm train --stage graph`` (:mod:`kgfm.encoder.train`) and the benchmark
(bench/bench_linkpred.py). Each step runs the GNN over the full graph, scores a batch of
``(entity, relation)`` queries against every entity and applies cross-entropy (with optional
label smoothing) plus an optional N3 regulariser. The loop plumbing (optimizer and parameter
groups, time budget, early stopping on ``train.monitor``, progress state) is :mod:`kgfm.training`.
"""

from __future__ import annotations

import copy
import time
from typing import Callable, Optional

import torch
import torch.nn.functional as F
from tqdm.std import tqdm  # tqdm.write only; the bars come from kgfm.progress

from kgfm.encoder.config import GraphTrainConfig
from kgfm.encoder.data import LinkPredData
from kgfm.encoder.evaluate import KnownAnswers, ScoreFn, evaluate_triples
from kgfm.encoder.model import KGEncoder
from kgfm.progress import epoch_progress
from kgfm.training.checkpoint import Progress
from kgfm.training.loop import Budget, EarlyStopping
from kgfm.training.optim import make_optimizer, set_lr


def is_gnn_parameter(name: str) -> bool:
    """The message-passing layers' parameters (trained at ``optim.gnn_lr``)."""
    return name.startswith(("convs.", "conv_relation"))


class Trainer:
    """Fits a :class:`KGEncoder` on :class:`LinkPredData`.

    Args:
        model: The encoder (``set_graph`` is called here).
        data: Splits (moved to ``device``).
        cfg: The stage config (``train``, ``optim``, ``run`` sections are used).
        device: Where to train.
        max_valid_triples: Evaluate on a fixed seeded subset of validation per epoch.
        log: Where per-epoch lines go.
    """

    def __init__(
        self,
        model: KGEncoder,
        data: LinkPredData,
        cfg: GraphTrainConfig,
        device: torch.device,
        max_valid_triples: Optional[int] = None,
        log: Callable[[str], None] = tqdm.write,
    ) -> None:
        self.model = model.to(device)
        self.data = data.to(device)
        self.cfg = cfg
        self.settings = cfg.train
        self.device = device
        self.log = log
        edge_index, edge_type = data.graph()
        self.model.set_graph(edge_index, edge_type)
        self.known = KnownAnswers(data.all_true(), data.num_entities, data.num_relations).to(device)
        self.optimizer = make_optimizer(self.model, cfg.optim.model_copy(update={"head_lr": cfg.optim.gnn_lr}),
                                        is_head=is_gnn_parameter)
        self.state = Progress()
        self.stopper = EarlyStopping(cfg.train.monitor, cfg.train.patience)
        self.valid = data.valid
        self.valid_missing = data.valid_missing
        if max_valid_triples is not None and len(data.valid) > max_valid_triples:
            g = torch.Generator().manual_seed(cfg.run.seed)
            pick = torch.randperm(len(data.valid), generator=g)[:max_valid_triples].to(device)
            self.valid = data.valid[pick]
            self.valid_missing = round(data.valid_missing * max_valid_triples / len(data.valid))
        self.best_weights: Optional[dict] = None
        self._steps_per_epoch = max(1, -(-len(data.train) * 2 // cfg.train.batch_size))

    # ---- steps -------------------------------------------------------------------------
    def loss(self, e: torch.Tensor, r: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        """The training loss of one batch of queries ``(e, r) -> a``."""
        s = self.settings
        if s.sampler != "full":
            return self._sampled_loss(e, r, a, subgraph=s.sampler == "khop")
        ent = self.model.encode()
        loss = F.cross_entropy(self.model.score_all(ent, e, r), a, label_smoothing=s.label_smoothing)
        if s.regularization > 0:
            loss = loss + s.regularization * self.model.n3(ent, e, r, a)
        return loss

    def train_epoch(self, epoch: int, budget: Optional[Budget] = None) -> tuple[float, bool]:
        """One pass over all training queries. Returns (mean loss, finished within the budget)."""
        self.model.train()
        ent_q, rel_q, ans = self.data.queries(self.data.train)
        g = torch.Generator().manual_seed(self.cfg.run.seed * 100_003 + epoch)
        order = torch.randperm(len(ent_q), generator=g).to(self.device)
        bs = self.settings.batch_size
        total_steps = self._steps_per_epoch * self.settings.epochs
        total, count, finished = 0.0, 0, True
        bar = epoch_progress(range(0, len(order), bs), desc=f"epoch {epoch}", leave=False, mininterval=2.0)
        for start in bar:
            if budget is not None and budget.expired():
                finished = False
                break
            idx = order[start : start + bs]
            set_lr(self.optimizer, self.state.step, total_steps, self.cfg.optim)
            loss = self.loss(ent_q[idx], rel_q[idx], ans[idx])
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if self.cfg.optim.grad_clip is not None:
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.optim.grad_clip)
            self.optimizer.step()
            self.state.step += 1
            total += float(loss.detach()) * len(idx)
            count += len(idx)
            bar.set_postfix(loss=f"{total / count:.4f}", refresh=False)
        bar.close()
        return total / max(count, 1), finished

    def _sampled_loss(self, e: torch.Tensor, r: torch.Tensor, a: torch.Tensor, subgraph: bool) -> torch.Tensor:
        """Cross-entropy against the batch's answers plus random entities (shared by the batch).

        Args:
            subgraph: Run the GNN only on the k-hop computation subgraph of the entities involved
                (exact embeddings for them), else over the whole graph.
        """
        s = self.settings
        neg = torch.randint(0, self.data.num_entities, (s.num_negatives,), device=self.device)
        cand = torch.cat([a, neg]).unique()
        if subgraph:
            seeds = torch.cat([e, cand]).unique()
            ent = self.model.encode(subset=seeds)
            local = lambda x: torch.searchsorted(seeds, x)  # noqa: E731  (seeds is sorted)
        else:
            ent = self.model.encode()
            local = lambda x: x  # noqa: E731
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
    def _keep_best(self, on_best: Optional[Callable[["Trainer"], None]]) -> None:
        self.best_weights = copy.deepcopy({k: v.detach().cpu() for k, v in self.model.state_dict().items()})
        if on_best:
            on_best(self)

    def _validate(self, record: dict, finished: bool) -> str:
        """Evaluate when due; updates early stopping. Returns the log suffix."""
        s, st = self.settings, self.state
        if not (st.epoch % s.eval_every == 0 or st.epoch == s.epochs or not finished):
            return ""
        val = self.evaluate("valid")
        record["val"] = {k: v for k, v in val.items() if not isinstance(v, dict)}
        record["val_" + s.monitor] = val[s.monitor]
        line = f"  val MRR {val['mrr']:.4f}  H@10 {val['hits@10']:.4f}"
        if self.stopper.update(st, val, st.epoch):
            record["best"] = True
            line += "  *best*"
        return line

    def fit(
        self,
        on_best: Optional[Callable[["Trainer"], None]] = None,
        on_epoch: Optional[Callable[["Trainer"], None]] = None,
    ) -> Progress:
        """Train until ``epochs``, early stopping, or ``run.max_minutes``; keeps the best weights.

        Args:
            on_best: Called after an evaluation that improved ``train.monitor`` (save the best checkpoint).
            on_epoch: Called after every epoch (save the resumable last checkpoint).
        """
        s, st = self.settings, self.state
        budget = Budget(self.cfg.run.max_minutes, st.elapsed_s)
        has_valid = len(self.valid) > 0 or self.valid_missing > 0
        while st.epoch < s.epochs and not st.stopped:
            t0 = time.monotonic()
            steps_before = st.step
            loss, finished = self.train_epoch(st.epoch + 1, budget)
            if not finished and st.step == steps_before:  # the budget was spent before this epoch began
                st.stopped = f"time budget of {self.cfg.run.max_minutes} min reached"
                break
            st.epoch += 1
            record = {"epoch": st.epoch, "loss": loss, "seconds": time.monotonic() - t0}
            if not finished:  # the budget ran out inside it: validated and kept if best, as in the other stages
                record["partial"] = True
            line = f"epoch {st.epoch:4d}  loss {loss:.4f}  {record['seconds']:6.1f}s"
            if has_valid:
                line += self._validate(record, finished)
            else:
                st.best_step = st.epoch
            if record.pop("best", False) or not has_valid:
                self._keep_best(on_best)
            st.elapsed_s = record["elapsed"] = budget.elapsed
            st.history.append(record)
            self.log(line)
            if not finished:
                st.stopped = f"time budget of {self.cfg.run.max_minutes} min reached"
            if on_epoch:
                on_epoch(self)
        if not st.stopped:
            st.stopped = f"{s.epochs} epochs done"
        self.log(f"stopped: {st.stopped}; best val {s.monitor} {st.best if st.best is not None else float('nan'):.4f} "
                 f"at epoch {st.best_step}")
        return st

    def restore_best(self) -> None:
        if self.best_weights is not None:
            self.model.load_state_dict(self.best_weights)
