"""Saving and loading a fine-tuned QA model as one atomic, checksummed artifact.

Layout (the toolkit's checkpoint format, :mod:`kgfm.training.checkpoint`, plus the encoder)::

    manifest.json                  kind "kgfm-qa-model": config, scorer shape, graph relation
                                   vocabulary, index fingerprint, metrics
    weights.safetensors            the answer scorer
    state.json                     training progress (epoch, best valid Hits@1, history) + optimizer groups
    optimizer.safetensors          (resume checkpoints only) AdamW moments, flattened
    encoder/model/...              the backbone (its own save_pretrained, safetensors)
    encoder/tokenizer/...          the tokenizer files

``refs`` names the store and the index by content fingerprint and by a path relative to the
artifact (and absolute), see :mod:`kgfm.qa.locate`. Loading checks the checksums (once), that the graph has the relation vocabulary the scorer was
trained on, that the entity index is the one the model was trained against, and that its
rows are the store's entities in idx order (so index embeddings are used as they are).
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from kgfm.artifacts import ArtifactError, read_manifest, write_artifact
from kgfm.qa.locate import check_graph, graph_fingerprint, model_refs
from kgfm.qa.model import AnswerScorer, KGQAModel, ScorerShape
from kgfm.store.base import GraphTensors
from kgfm.training.checkpoint import STATE, WEIGHTS, Progress, checkpoint_writers, load_safetensors

KIND = "kgfm-qa-model"
REQUIRED = (WEIGHTS, STATE, "encoder/tokenizer/tokenizer.json")


def graph_signature(graph: GraphTensors) -> dict[str, Any]:
    return {
        "num_entities": graph.num_entities,
        "num_triples": graph.num_triples,
        "relation_types": list(graph.relation_types),
        "fingerprint": graph_fingerprint(list(graph.relation_types), list(graph.entity_ids)),
    }


def _copy_writer(src: Path) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, path)

    return write


def save_qa_model(
    dest: Path,
    model: KGQAModel,
    config: dict[str, Any],
    graph: GraphTensors,
    index_fingerprint: str | None,
    extra: dict[str, Any] | None = None,
    optimizer: torch.optim.Optimizer | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Write ``dest`` atomically (see the module docstring).

    Args:
        dest: Artifact directory (replaced).
        model: The model to save.
        config: The resolved :class:`~kgfm.qa.config.QAConfig` as a JSON-able dict.
        graph: The graph the model was trained on (its relation vocabulary is recorded).
        index_fingerprint: Fingerprint of the entity index (``None`` when no index was used).
        extra: More manifest fields (metrics, epoch, split sizes...).
        optimizer: Also save the optimizer moments (resume checkpoints).
        progress: Training progress for ``state.json`` (resume checkpoints).
    """
    from kgfm.qa.encoding import save_encoder

    with tempfile.TemporaryDirectory(prefix="kgfm-qa-") as tmp:
        stage = Path(tmp)
        save_encoder(model.encoder, stage / "encoder")
        signature = graph_signature(graph)
        manifest: dict[str, Any] = {
            "config": config,
            "refs": model_refs(config, Path(dest), signature["fingerprint"], index_fingerprint),
            "encoder_kind": model.encoder.kind,
            "max_length": model.encoder.max_length,
            "scorer_shape": dataclasses.asdict(model.scorer.shape),
            "graph": signature,
            "index_fingerprint": index_fingerprint,
            **(extra or {}),
        }
        writers = {
            str(p.relative_to(stage)): _copy_writer(p) for p in sorted(stage.rglob("*")) if p.is_file()
        }
        writers.update(checkpoint_writers(model.scorer.state_dict(), optimizer, progress or Progress()))
        return write_artifact(Path(dest), KIND, writers, manifest)


def check_compatible(manifest: dict[str, Any], src: Path, graph: GraphTensors, index: Any | None,
                     extend_cmd: str | None = None) -> None:
    """Fail clearly when the graph or the index differs from the ones the model was trained with;
    ``extend_cmd`` is the command named for a store that gained entities (default: ``kgfm
    extend-index --model SRC``; the caller adds the store and index it overrides)."""
    trained = manifest["graph"]["relation_types"]
    if list(graph.relation_types) != trained:
        raise ArtifactError(
            f"{src}: trained on a graph with relations {trained}, the store has {list(graph.relation_types)} "
            "(load the same KB, or fine-tune again)"
        )
    check_graph(src, manifest, graph.relation_types, graph.entity_ids, "given")
    if index is not None:
        index.check_rows(graph.entity_ids, str(src), extend_cmd or f"kgfm extend-index --model {src}")
    want = manifest.get("index_fingerprint")
    if want is not None:
        if index is None:
            raise ArtifactError(f"{src}: trained with entity index {want[:12]}…; pass that index")
        if not index.extends(want, manifest["graph"].get("num_entities")):
            raise ArtifactError(
                f"{src}: trained with entity index {want[:12]}…, got {index.fingerprint[:12]}… (a different index, "
                "not that one extended by `kgfm extend-index`)"
            )


def load_qa_model(src: Path, graph: GraphTensors, index: Any | None,
                  manifest: dict[str, Any] | None = None, extend_cmd: str | None = None) -> tuple[KGQAModel, dict[str, Any]]:
    """Load a model written by :func:`save_qa_model`, attached to ``graph`` (eval mode).

    Args:
        src: The artifact.
        graph: The store's exported graph.
        index: The entity index the model was trained with (``None`` without one).
        manifest: The artifact's manifest when the caller already read (and verified) it.
        extend_cmd: See :func:`check_compatible`.

    Raises:
        ArtifactError: missing/tampered files, or a graph / index the model was not trained with.
    """
    from kgfm.qa.encoding import load_encoder

    src = Path(src)
    manifest = manifest if manifest is not None else read_manifest(src, KIND, required=REQUIRED)
    check_compatible(manifest, src, graph, index, extend_cmd)
    encoder = load_encoder(src / "encoder", manifest["encoder_kind"], manifest["max_length"], index)
    return assemble_model(src, manifest, encoder, graph, index), manifest


def assemble_model(src: Path, manifest: dict[str, Any], encoder: Any, graph: GraphTensors, index: Any | None) -> KGQAModel:
    """The saved scorer of ``src`` attached to ``graph`` (and the index's embeddings), behind ``encoder``; eval mode."""
    from kgfm.qa.candidates import RelationAdjacency

    scorer = AnswerScorer(ScorerShape(**manifest["scorer_shape"]))
    scorer.load_state_dict(load_safetensors(Path(src) / WEIGHTS))
    embeddings = torch.from_numpy(np.asarray(index.embeddings, dtype=np.float32)) if scorer.shape.entity_dim else None
    scorer.attach_graph(RelationAdjacency.from_graph(graph), embeddings)
    model = KGQAModel(encoder, scorer)
    model.eval()
    return model
