"""Entities added to the store after training: embed them with the trained GNN, extend the index.

``kgfm build-graph`` only adds, and an entity it adds gets the next store ``idx``, so a grown
store's entities in idx order begin with the ones the index holds. A GNN computes an entity's
embedding from its facts, so a new entity gets one without retraining: its own input row (never
trained) is zero, plus its text features when the encoder was trained with them, and its
embedding is the exact ``num_layers``-hop pass of the trained encoder over the grown graph (every
stored triple). The known entities keep their rows byte for byte, so a QA or fusion model trained
on the index loads the extended one (it checks that the index begins with the rows it was trained
on, :meth:`~kgfm.index.entity_index.EntityIndex.extends`) and answers over the grown graph.
What that is worth is measured in ``bench/linkpred_inductive.py`` (FB15k-237: +0.043 MRR over a
shallow model's best stand-in for entities added after training) and ``bench/extend_index.py``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch

from kgfm.artifacts import ArtifactError, sha256_file
from kgfm.index.entity_index import EntityIndex

RETRAIN = "train again (`kgfm auto`, or `kgfm train --stage graph` and the stages after it)"


@dataclass
class ExtendResult:
    """What :func:`extend_index` did."""

    index_dir: Path
    before: int  # entities in the index before
    after: int  # entities in it now (the store's)
    facts: int  # stored triples touching an added entity (what the GNN embedded them from)
    seconds: float
    fingerprint: str

    @property
    def added(self) -> int:
        return self.after - self.before


def encoder_checkpoint(index_dir: Path, manifest: dict[str, Any]) -> Path:
    """The graph-encoder checkpoint ``index_dir`` was built from: the path it recorded (as given when it
    was trained: absolute, or relative to the current directory), else ``checkpoint/`` beside the
    index (where ``kgfm train --stage graph`` writes it, so a moved run folder still finds it); the
    first whose manifest has the recorded sha256."""
    enc = manifest.get("encoder") or {}
    recorded, want = enc.get("path"), enc.get("manifest_sha256")
    candidates = ([Path(recorded)] if recorded else []) + [Path(index_dir).parent / "checkpoint"]
    for cand in candidates:
        if (cand / "manifest.json").is_file() and (want is None or sha256_file(cand / "manifest.json") == want):
            return cand
    raise ArtifactError(f"{index_dir}: the graph encoder checkpoint it was built from is neither at {recorded} nor at "
                        f"{candidates[-1]} (manifest sha256 {str(want)[:12]}); pass --checkpoint DIR")


def check_growth(index: EntityIndex, graph: Any, relation_types: list[str], where: str) -> None:
    """The store must be the index's graph with entities appended and no new relation type."""
    n0 = len(index)
    if graph.num_entities < n0 or list(graph.entity_ids[:n0]) != list(index.entity_ids):
        raise ArtifactError(f"{where}: its first {n0:,} entities (idx order) are not the index's: the store was rebuilt "
                            f"(--replace) or is another graph, and only entities added by build-graph can be embedded; {RETRAIN}")
    new_rel = [r for r in graph.relation_types if r not in relation_types]
    if new_rel or list(graph.relation_types[:len(relation_types)]) != relation_types:
        raise ArtifactError(f"{where}: relation types the encoder was not trained with ({', '.join(new_rel[:5]) or 'a new order'}); "
                            f"the GNN has no weights for them; {RETRAIN}")


def _text_rows(ck: Any, graph: Any, rows: torch.Tensor, width: int) -> torch.Tensor:
    """``[N, width]`` text features, filled (MiniLM, as in training) for ``rows`` only; zero elsewhere."""
    from kgfm.encoder.text_features import encode_texts, entity_texts

    data = ck.manifest.get("config", {}).get("data", {})
    sel = rows.tolist()
    texts = entity_texts([graph.entity_ids[i] for i in sel], [graph.entity_names[i] for i in sel],
                         [graph.entity_descriptions[i] for i in sel] if graph.entity_descriptions else None)
    out = torch.zeros(graph.num_entities, width)
    out[rows] = encode_texts(texts, data.get("text_model", "minilm")).float()
    return out


@torch.no_grad()
def embed_new_entities(ck: Any, graph: Any, first_new: int) -> torch.Tensor:
    """Embeddings ``[N - first_new, d]`` of entities ``first_new..N-1`` by the trained encoder of ``ck``
    over every triple of ``graph``; the input rows of entities it did not train on are zero (eval mode,
    exact subgraph pass)."""
    from torch_geometric.utils import k_hop_subgraph

    from kgfm.encoder.config import ModelConfig
    from kgfm.encoder.data import message_edges
    from kgfm.encoder.model import KGEncoder

    state = ck.weights
    mcfg = ModelConfig.model_validate(ck.manifest["config"]["model"])
    n, r = graph.num_entities, len(ck.vocab["relation_types"])
    entity = state["entity.weight"]
    state["entity.weight"] = torch.cat([entity, entity.new_zeros(n - entity.shape[0], entity.shape[1])])
    edge_index, edge_type = message_edges(*(torch.from_numpy(np.asarray(a, dtype=np.int64))
                                            for a in (graph.head_index, graph.rel_type, graph.tail_index)), r)
    new = torch.arange(first_new, n)
    text = None
    if "text_proj.weight" in state:
        reach = k_hop_subgraph(new, max(mcfg.num_layers, 0), edge_index, num_nodes=n, directed=True)[0]
        text = _text_rows(ck, graph, reach, state["text_proj.weight"].shape[1])
    model = KGEncoder(n, r, mcfg, text)
    model.load_state_dict(state, strict=True)
    model.eval()
    model.set_graph(edge_index, edge_type)
    return model.encode(subset=new).float()


def extend_index(index_dir: Path, store: Any, checkpoint: Optional[Path] = None, dest: Optional[Path] = None) -> ExtendResult:
    """Add the store's entities that ``index_dir`` lacks, embedded by the encoder it was built from.

    Args:
        index_dir: An ``entity-index`` artifact (``kgfm train --stage graph`` writes ``OUT/index``).
        store: The open store (read only) that ``build-graph`` grew.
        checkpoint: The encoder checkpoint (default: found from the index manifest, checksum-checked).
        dest: Where to write the extended index (default: replace ``index_dir`` atomically).

    Raises:
        ArtifactError: the store is not the index's graph with entities added, a relation type is new,
            or the checkpoint is missing or does not match the index.
    """
    from kgfm.encoder.checkpoint import load_checkpoint

    start = time.perf_counter()
    index_dir = Path(index_dir)
    index = EntityIndex.load(index_dir, use_gpu=False)
    ck = load_checkpoint(Path(checkpoint) if checkpoint else encoder_checkpoint(index_dir, index.manifest))
    trained = list(ck.vocab["entity_ids"])
    if trained != list(index.entity_ids[:len(trained)]):  # an index extended before holds more rows
        raise ArtifactError(f"{ck.path}: this encoder checkpoint was trained on other entities than {index_dir} holds")
    relation_types = list(ck.vocab["relation_types"])
    graph = store.export_tensors(with_text=bool(ck.manifest.get("config", {}).get("data", {}).get("text_init")))
    check_growth(index, graph, relation_types, f"store {getattr(store, 'path', '')}")
    n0, n = len(index), graph.num_entities
    out_dir = Path(dest) if dest is not None else index_dir
    keep = {k: v for k, v in index.manifest.items() if k in ("encoder", "store", "test_metrics", "extended")}
    if n == n0:
        if out_dir != index_dir:
            index.save(out_dir, keep)
        return ExtendResult(out_dir, n0, n, 0, time.perf_counter() - start, index.fingerprint)
    emb = embed_new_entities(ck, graph, n0).numpy()
    cfg = index.config
    grown = EntityIndex.build(
        np.concatenate([index.embeddings, emb]), graph.entity_ids, graph.entity_names, metric=index.metric,
        exact_threshold=cfg.get("exact_threshold", 50_000), hnsw_m=cfg.get("hnsw_m", 32),
        ef_construction=cfg.get("ef_construction", 200), ef_search=cfg.get("ef_search", 128), use_gpu=False,
        relation_types=index.relation_types, relation_embeddings=index.relation_embeddings)
    facts = int(((np.asarray(graph.head_index) >= n0) | (np.asarray(graph.tail_index) >= n0)).sum())
    base = (keep.pop("extended", None) or {}).get("base") or {"fingerprint": index.fingerprint, "entities": n0}
    grown.save(out_dir, {**keep, "extended": {"base": base, "from": {"fingerprint": index.fingerprint, "entities": n0},
                                              "added": n - n0, "facts": facts}})
    return ExtendResult(out_dir, n0, n, facts, time.perf_counter() - start, grown.fingerprint)
