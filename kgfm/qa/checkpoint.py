"""Saving and loading a fine-tuned QA model as one atomic, checksummed artifact.

Layout (written through :func:`kgfm.artifacts.write_artifact`)::

    manifest.json                  kind "kgfm-qa-model": config, scorer shape, graph relation
                                   vocabulary, index fingerprint, metrics
    scorer.safetensors             the answer scorer
    encoder/model/...              the backbone (its own save_pretrained, safetensors)
    encoder/tokenizer/...          the tokenizer files
    optimizer.safetensors          (resume checkpoints only) AdamW moments, flattened

Loading checks the checksums, that the graph has the relation vocabulary the scorer was
trained on, and that the entity index is the one the model was trained against.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable

import torch
from safetensors.torch import load_file, save_file

from kgfm.artifacts import ArtifactError, read_manifest, write_artifact
from kgfm.qa.model import AnswerScorer, KGQAModel, ScorerShape
from kgfm.store.base import GraphTensors

KIND = "kgfm-qa-model"


def graph_signature(graph: GraphTensors) -> dict[str, Any]:
    return {
        "num_entities": graph.num_entities,
        "num_triples": graph.num_triples,
        "relation_types": list(graph.relation_types),
    }


def _copy_writer(src: Path) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, path)

    return write


def _optimizer_tensors(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    state = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    for pid, slots in state["state"].items():
        for name, value in slots.items():
            t = value if torch.is_tensor(value) else torch.tensor(value)
            tensors[f"{pid}.{name}"] = t.detach().contiguous().clone()
    return tensors, {"param_groups": state["param_groups"]}


def restore_optimizer(optimizer: torch.optim.Optimizer, src: Path, manifest: dict[str, Any]) -> None:
    """Load the AdamW state written by :func:`save_qa_model` (``optimizer=...``)."""
    tensors = load_file(str(src / "optimizer.safetensors"))
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        pid, name = key.split(".", 1)
        state.setdefault(int(pid), {})[name] = value
    optimizer.load_state_dict({"state": state, "param_groups": manifest["optimizer"]["param_groups"]})


def save_qa_model(
    dest: Path,
    model: KGQAModel,
    config: dict[str, Any],
    graph: GraphTensors,
    index_fingerprint: str | None,
    extra: dict[str, Any] | None = None,
    optimizer: torch.optim.Optimizer | None = None,
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
    """
    from kgfm.qa.encoding import save_encoder

    with tempfile.TemporaryDirectory(prefix="kgfm-qa-") as tmp:
        stage = Path(tmp)
        save_encoder(model.encoder, stage / "encoder")
        scorer_state = {k: v.detach().contiguous() for k, v in model.scorer.state_dict().items()}
        save_file(scorer_state, str(stage / "scorer.safetensors"))
        manifest: dict[str, Any] = {
            "config": config,
            "encoder_kind": model.encoder.kind,
            "max_length": model.encoder.max_length,
            "scorer_shape": dataclasses.asdict(model.scorer.shape),
            "graph": graph_signature(graph),
            "index_fingerprint": index_fingerprint,
            **(extra or {}),
        }
        if optimizer is not None:
            tensors, meta = _optimizer_tensors(optimizer)
            save_file(tensors, str(stage / "optimizer.safetensors"))
            manifest["optimizer"] = meta
        writers = {
            str(p.relative_to(stage)): _copy_writer(p) for p in sorted(stage.rglob("*")) if p.is_file()
        }
        return write_artifact(Path(dest), KIND, writers, manifest)


def check_compatible(manifest: dict[str, Any], src: Path, graph: GraphTensors, index: Any | None) -> None:
    """Fail clearly when the graph or the index differs from the ones the model was trained with."""
    trained = manifest["graph"]["relation_types"]
    if list(graph.relation_types) != trained:
        raise ArtifactError(
            f"{src}: trained on a graph with relations {trained}, the store has {list(graph.relation_types)} "
            "(load the same KB, or fine-tune again)"
        )
    want = manifest.get("index_fingerprint")
    if want is not None:
        if index is None:
            raise ArtifactError(f"{src}: trained with entity index {want[:12]}…; pass that index")
        if index.fingerprint != want:
            raise ArtifactError(
                f"{src}: trained with entity index {want[:12]}…, got {index.fingerprint[:12]}… (a different index)"
            )


def load_qa_model(src: Path, graph: GraphTensors, index: Any | None) -> tuple[KGQAModel, dict[str, Any]]:
    """Load a model written by :func:`save_qa_model`, attached to ``graph`` (eval mode).

    Raises:
        ArtifactError: missing/tampered files, or a graph / index the model was not trained with.
    """
    from kgfm.qa.encoding import load_encoder

    src = Path(src)
    manifest = read_manifest(src, KIND)
    check_compatible(manifest, src, graph, index)
    encoder = load_encoder(src / "encoder", manifest["encoder_kind"], manifest["max_length"], index)
    return assemble_model(src, manifest, encoder, graph, index), manifest


def assemble_model(src: Path, manifest: dict[str, Any], encoder: Any, graph: GraphTensors, index: Any | None) -> KGQAModel:
    """The saved scorer of ``src`` attached to ``graph`` (and the index's embeddings), behind ``encoder``; eval mode."""
    from kgfm.qa.candidates import RelationAdjacency
    from kgfm.qa.data import EntityAlignment

    scorer = AnswerScorer(ScorerShape(**manifest["scorer_shape"]))
    scorer.load_state_dict(load_file(str(Path(src) / "scorer.safetensors")))
    alignment = EntityAlignment(graph, index)
    scorer.attach_graph(RelationAdjacency.from_graph(graph), alignment.embeddings() if scorer.shape.entity_dim else None)
    model = KGQAModel(encoder, scorer)
    model.eval()
    return model
