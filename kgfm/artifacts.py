"""Atomic, checksummed artifact directories (indexes, checkpoints) shared by all stages.

An artifact is a directory holding its files plus ``manifest.json``::

    {"kind": "entity-index", "format": 1, "created": "...", "files": {"index.faiss": "<sha256>", ...},
     "config": {...}, ...anything the writer adds}

:func:`write_artifact` fills a temporary sibling directory and renames it into place, so a
reader never sees a half-written artifact: on Linux the new directory and the old one are
swapped in one ``renameat2(RENAME_EXCHANGE)`` call; elsewhere the old one is moved aside first
and put back if the second rename fails. A crash leaves only ``.tmp-*``/``.old-*`` siblings,
which the next write removes (restoring an ``.old-*`` copy when the artifact itself is gone).
:func:`read_manifest` verifies every checksum, and that the manifest lists exactly the files on
disk (a file the manifest does not cover, e.g. under ``"files": {}``, is refused).
Weights are stored as safetensors by the callers; nothing here unpickles.
"""

from __future__ import annotations

import ctypes
import datetime as _dt
import errno
import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any, Callable, Mapping

MANIFEST = "manifest.json"


class ArtifactError(Exception):
    """A missing, incomplete or tampered artifact; the message names the file."""


def write_text_atomic(path: Path, text: str) -> Path:
    """Write ``text`` (UTF-8) through a temporary sibling and ``os.replace``: a reader sees the old
    file or the new one, never half of it; the temporary file is removed if writing fails."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_json_atomic(path: Path, doc: Any, ensure_ascii: bool = True) -> Path:
    """``doc`` as indented JSON (values JSON lacks written with ``str``), atomically (:func:`write_text_atomic`)."""
    return write_text_atomic(path, json.dumps(doc, indent=2, default=str, ensure_ascii=ensure_ascii))


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


_PICKLE_MAGIC = (b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05", b"PK")


def check_safetensors(path: Path) -> None:
    """Refuse a file that cannot be safetensors (a pickle or a torch zip renamed ``.safetensors``).

    A safetensors file starts with an 8-byte little-endian header length followed by a JSON
    object; this is checked before any loader sees the bytes, so nothing is ever unpickled.

    Raises:
        ArtifactError: naming the file.
    """
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            head = handle.read(9)
    except OSError as exc:
        raise ArtifactError(f"{path}: cannot read ({exc})") from None
    header_len = int.from_bytes(head[:8], "little") if len(head) >= 8 else 0
    if len(head) == 9 and head[8:9] == b"{" and 0 < header_len <= path.stat().st_size - 8:
        return  # a plausible safetensors header (its length bytes may look like a pickle opcode)
    if head[:2] in _PICKLE_MAGIC:
        raise ArtifactError(f"{path}: is a pickle/zip file, not safetensors; kgfm never unpickles weights")
    raise ArtifactError(f"{path}: not a safetensors file (no header)")


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two directories (Linux ``renameat2``); ``False`` where unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(a))


def _recover(dest: Path) -> None:
    """Clean up after an interrupted write: restore the previous copy if ``dest`` is gone, drop stale siblings."""
    olds = sorted(dest.parent.glob(f"{dest.name}.old-*"), key=lambda p: p.stat().st_mtime)
    if not dest.exists() and olds and (olds[-1] / MANIFEST).is_file():
        os.replace(olds.pop(), dest)
    for stale in olds + list(dest.parent.glob(f"{dest.name}.tmp-*")):
        shutil.rmtree(stale, ignore_errors=True)


def _swap_in(tmp: Path, dest: Path) -> None:
    """Put ``tmp`` at ``dest`` so that ``dest`` always holds a complete artifact."""
    if not dest.exists():
        os.replace(tmp, dest)
        return
    if _exchange(tmp, dest):
        shutil.rmtree(tmp, ignore_errors=True)  # tmp now holds the previous version
        return
    old = dest.parent / f"{dest.name}.old-{os.getpid()}"
    os.replace(dest, old)
    try:
        os.replace(tmp, dest)
    except BaseException:
        os.replace(old, dest)
        raise
    shutil.rmtree(old, ignore_errors=True)


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
    _recover(dest)
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
        _swap_in(tmp, dest)
        return full
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _files_on_disk(dest: Path) -> set[str]:
    return {p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file() and p.name != MANIFEST}


def read_manifest(dest: Path, kind: str | None = None, verify: bool = True,
                  required: tuple[str, ...] = ()) -> dict[str, Any]:
    """Load ``dest/manifest.json``, check ``kind``, the file set and every file's sha256.

    Args:
        dest: The artifact directory.
        kind: Expected kind (``None``: any).
        verify: Check the checksums and that the manifest covers every file on disk.
        required: Files this kind must have (listed in the manifest).

    Raises:
        ArtifactError: naming the artifact and the first file that is missing, unlisted or differs.
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
    files = manifest.get("files")
    if not isinstance(files, dict):
        raise ArtifactError(f"{path}: 'files' must map file names to sha256 checksums")
    absent = [name for name in required if name not in files]
    if absent:
        raise ArtifactError(f"{path}: does not list {', '.join(absent)} (incomplete or tampered manifest)")
    if verify:
        unlisted = sorted(_files_on_disk(dest) - set(files))
        if unlisted:
            raise ArtifactError(f"{dest / unlisted[0]}: not covered by the manifest's checksums "
                                f"({len(unlisted)} unlisted file(s)); refusing an unverifiable artifact")
        for name, expected in files.items():
            file = dest / name
            if not file.is_file():
                raise ArtifactError(f"{file}: listed in the manifest but missing")
            actual = sha256_file(file)
            if actual != expected:
                raise ArtifactError(f"{file}: checksum mismatch (manifest {expected[:12]}…, file {actual[:12]}…)")
    return manifest
