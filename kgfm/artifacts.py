"""Atomic, checksummed artifact directories (indexes, checkpoints) shared by all stages.

An artifact is a directory holding its files plus ``manifest.json``::

    {"kind": "entity-index", "format": 1, "created": "...", "files": {"index.faiss": "<sha256>", ...},
     "config": {...}, ...anything the writer adds}

:func:`write_artifact` fills a temporary sibling directory and renames it into place, so a
reader never sees a half-written artifact (a crash leaves only the ``.tmp-*`` sibling, which
the next write removes). :func:`read_manifest` verifies every checksum before returning.
Weights are stored as safetensors by the callers; nothing here unpickles.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any, Callable, Mapping

MANIFEST = "manifest.json"


class ArtifactError(Exception):
    """A missing, incomplete or tampered artifact; the message names the file."""


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def write_artifact(
    dest: Path,
    kind: str,
    writers: Mapping[str, Callable[[Path], None]],
    manifest: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Create artifact ``dest`` atomically.

    Args:
        dest: Final directory. Replaced if it exists.
        kind: Short type tag checked by :func:`read_manifest` (e.g. ``"entity-index"``).
        writers: File name -> function writing that file at the given path.
        manifest: Extra manifest fields (config, counts, parent artifacts...).

    Returns:
        The manifest written.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    for stale in dest.parent.glob(f"{dest.name}.tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)
    tmp = dest.parent / f"{dest.name}.tmp-{os.getpid()}"
    tmp.mkdir()
    try:
        files: dict[str, str] = {}
        for name, write in writers.items():
            write(tmp / name)
            files[name] = sha256_file(tmp / name)
        full = {
            "kind": kind,
            "format": 1,
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            **dict(manifest or {}),
            "files": files,
        }
        (tmp / MANIFEST).write_text(json.dumps(full, indent=2, sort_keys=True, default=str), encoding="utf-8")
        old = dest.parent / f"{dest.name}.old-{os.getpid()}"
        if dest.exists():
            os.replace(dest, old)
        os.replace(tmp, dest)
        shutil.rmtree(old, ignore_errors=True)
        return full
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def read_manifest(dest: Path, kind: str | None = None, verify: bool = True) -> dict[str, Any]:
    """Load ``dest/manifest.json``, check ``kind`` and every file's sha256.

    Raises:
        ArtifactError: naming the artifact and the first file that is missing or differs.
    """
    dest = Path(dest)
    path = dest / MANIFEST
    if not path.is_file():
        raise ArtifactError(f"{dest}: not an artifact (no {MANIFEST}); was it written completely?")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ArtifactError(f"{path}: unreadable manifest ({exc})") from None
    if kind is not None and manifest.get("kind") != kind:
        raise ArtifactError(f"{dest}: is a {manifest.get('kind')!r} artifact, expected {kind!r}")
    if verify:
        for name, expected in manifest.get("files", {}).items():
            file = dest / name
            if not file.is_file():
                raise ArtifactError(f"{file}: listed in the manifest but missing")
            actual = sha256_file(file)
            if actual != expected:
                raise ArtifactError(f"{file}: checksum mismatch (manifest {expected[:12]}…, file {actual[:12]}…)")
    return manifest
