"""Where a QA model's store and entity index are: portable, self-describing references.

A model folder records, in its manifest's ``refs``, the store and the index it was trained with:
each by a path relative to the model folder *and* its absolute path at training time, and the graph
by a content fingerprint (relation vocabulary + entity ids in idx order, :func:`graph_fingerprint`).
Loading resolves a reference from the artifact (never from the current directory): the relative
path first (so a copied ``runs/`` tree beside a copied store works anywhere), then the absolute one.
An explicit override (``--path`` / ``--index``) always wins; a rebuilt identical store is accepted
because the check is on content, not on the path.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from kgfm.artifacts import ArtifactError

QA_KINDS = ("kgfm-qa-model", "kgfm-qa-model-int8")
EXPECTED = "expected a fine-tuned QA model folder (the model/ of `kgfm train --stage finetune`)"


def graph_fingerprint(relation_types: list[str] | tuple[str, ...], entity_ids: list[str] | tuple[str, ...]) -> str:
    """Short sha256 of the relation vocabulary and the entity ids in idx order (the graph's content key)."""
    digest = hashlib.sha256()
    digest.update("\n".join(relation_types).encode("utf-8"))
    digest.update(b"\x00")
    digest.update("\n".join(entity_ids).encode("utf-8"))
    return digest.hexdigest()[:16]


def path_ref(target: Path | str | None, artifact: Path) -> dict[str, str] | None:
    """``{"absolute", "relative"}`` for ``target`` (resolved against the current directory now),
    the relative path taken from the artifact folder ``artifact``; ``None`` without a target."""
    if target is None:
        return None
    absolute = Path(target).resolve()
    return {"absolute": str(absolute), "relative": os.path.relpath(absolute, Path(artifact).resolve())}


def model_refs(config: dict[str, Any], artifact: Path, graph_fp: str, index_fp: str | None) -> dict[str, Any]:
    """The manifest ``refs`` of a model trained with ``config`` (a dumped :class:`QAConfig`) written to ``artifact``."""
    store = config.get("store") or {}
    embedded = store.get("backend", "embedded") == "embedded"
    return {
        "store": {"backend": store.get("backend", "embedded"), "graph_fingerprint": graph_fp,
                  **(path_ref(store.get("path"), artifact) or {} if embedded else {})},
        "index": None if config.get("index") is None else {"fingerprint": index_fp, **path_ref(config["index"], artifact)},
    }


def rebase_refs(manifest: dict[str, Any], src: Path, dest: Path) -> dict[str, Any] | None:
    """``refs`` of ``src``'s manifest re-expressed for an artifact written to ``dest`` (e.g. an int8 export)."""
    refs = manifest.get("refs")
    if not refs:
        return refs
    out: dict[str, Any] = {}
    for key, ref in refs.items():
        if ref and "relative" in ref:
            found = resolve_ref(src, ref)
            ref = {**ref, **path_ref(found or Path(ref["absolute"]), dest)}
        out[key] = ref
    return out


def resolve_ref(model_dir: Path, ref: dict[str, Any] | None) -> Path | None:
    """The existing path a reference names: relative to the model folder first, then absolute."""
    if not ref or "relative" not in ref:
        return None
    for candidate in (Path(model_dir) / ref["relative"], Path(ref["absolute"])):
        if candidate.exists():
            return candidate.resolve()
    return None


def check_model_dir(model_dir: Path) -> dict[str, Any]:
    """Read (and verify) the manifest of ``model_dir``; a clear one-line error when it is no QA model."""
    from kgfm.artifacts import read_manifest

    model_dir = Path(model_dir)
    if not model_dir.exists():
        raise ArtifactError(f"{model_dir}: no such directory; {EXPECTED}, or pass --model")
    if not model_dir.is_dir():
        raise ArtifactError(f"{model_dir}: is a file, not a directory; {EXPECTED}")
    if not (model_dir / "manifest.json").is_file():
        hint = " (it holds model/: pass that)" if (model_dir / "model" / "manifest.json").is_file() else ""
        raise ArtifactError(f"{model_dir}: no manifest.json, not a kgfm model{hint}; {EXPECTED}")
    kind = read_manifest(model_dir, verify=False).get("kind")
    if kind not in QA_KINDS:
        raise ArtifactError(f"{model_dir}: is a {kind!r} artifact, not a QA model; {EXPECTED}")
    return read_manifest(model_dir)


def locate_store(model_dir: Path, manifest: dict[str, Any], cfg_store: Any, store_path: Path | None) -> Any:
    """The :class:`StoreConfig` to open: ``store_path`` if given, else the store the model references."""
    if store_path is not None:
        return cfg_store.model_copy(update={"path": Path(store_path)})
    ref = (manifest.get("refs") or {}).get("store")
    if cfg_store.backend != "embedded" or not ref or "relative" not in ref:
        return cfg_store  # neo4j, or a model written before refs: the config's own path
    found = resolve_ref(model_dir, ref)
    if found is None:
        raise ArtifactError(f"{model_dir}: its store is not at {ref['relative']} (from the model) nor at "
                            f"{ref['absolute']}; copy it there or pass --path STORE")
    return cfg_store.model_copy(update={"path": found})


def locate_index(model_dir: Path, manifest: dict[str, Any], cfg_index: Path | None, index_path: Path | None) -> Path | None:
    """The entity index folder: ``index_path`` if given, else the one the model references."""
    if index_path is not None:
        return Path(index_path)
    ref = (manifest.get("refs") or {}).get("index")
    if not ref:
        return cfg_index
    found = resolve_ref(model_dir, ref)
    if found is None:
        raise ArtifactError(f"{model_dir}: its entity index is not at {ref['relative']} (from the model) nor at "
                            f"{ref['absolute']}; copy it there or pass --index DIR")
    return found


def check_graph(model_dir: Path, manifest: dict[str, Any], relation_types: Any, entity_ids: Any, where: str) -> None:
    """The store's graph must have the content the model was trained on (fingerprint, not path), or that
    content with entities appended by ``build-graph`` (the model then needs an index extended to them)."""
    graph = manifest.get("graph") or {}
    want, trained = graph.get("fingerprint"), graph.get("num_entities")
    if want is None:
        return
    ids = list(entity_ids)
    got = graph_fingerprint(list(relation_types), ids)
    if got == want or (trained is not None and len(ids) > trained
                       and graph_fingerprint(list(relation_types), ids[:trained]) == want):
        return
    raise ArtifactError(f"{model_dir}: trained on graph {want}, the store {where} holds graph {got} "
                        "(different entities or relations; use the store it was trained on, or fine-tune again)")


def extend_model_index(model_dir: Path | None, store_config: Any = None, store_path: Path | None = None,
                       index_path: Path | None = None, checkpoint: Path | None = None, dest: Path | None = None) -> Any:
    """Extend the entity index that QA model ``model_dir`` references (or ``index_path``, read with
    ``store_config`` when no model is given) to the entities its store gained since training
    (:func:`kgfm.index.extend.extend_index`); returns its :class:`~kgfm.index.extend.ExtendResult`.

    Raises:
        ArtifactError: the model was trained without an index, or the store is not its graph grown.
    """
    from kgfm.index.extend import extend_index
    from kgfm.store.factory import open_store

    if model_dir is None:
        index_dir, store_cfg = Path(index_path), store_config  # type: ignore[arg-type]
    else:
        from kgfm.qa.config import QAConfig

        model_dir = Path(model_dir)
        manifest = check_model_dir(model_dir)
        cfg = QAConfig.model_validate(manifest["config"])
        index_dir = locate_index(model_dir, manifest, cfg.index, index_path)
        if index_dir is None:
            raise ArtifactError(f"{model_dir}: trained without an entity index, so there is nothing to extend "
                                "(it answers over the grown store as it is)")
        store_cfg = store_config or locate_store(model_dir, manifest, cfg.store, store_path)
    store = open_store(store_cfg, read_only=True)
    try:
        return extend_index(index_dir, store, checkpoint, dest)
    finally:
        store.close()
