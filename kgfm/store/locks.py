"""Who else is writing an embedded store: LadybugDB takes a POSIX write lock on the store file when it
opens it read-write (read-only opens take none)."""

from __future__ import annotations

import sys
from pathlib import Path

from kgfm.store.base import StoreError


def writer_elsewhere(path: Path, pid: str | int) -> str:
    return (f"{path}: another process is writing this store (PID {pid}: a build-graph or kgfm cypher --write); "
            "wait for it to finish")


def check_no_writer(path: Path) -> None:
    """Raise if another process holds ``path``'s write lock (the POSIX lock LadybugDB takes when it opens a
    store read-write), without opening it. Linux only (``struct flock``'s layout differs elsewhere); a no-op
    on other systems, where LadybugDB's own lock still refuses a second writer when it opens the store.

    Raises:
        StoreError: naming the writer's PID.
    """
    if not sys.platform.startswith("linux"):
        return
    import fcntl
    import struct

    try:
        handle = open(path, "rb")
    except FileNotFoundError:
        return
    with handle:
        probe = struct.pack("hhqqi", fcntl.F_WRLCK, 0, 0, 0, 0)  # l_type, l_whence, l_start, l_len (0: to EOF), l_pid
        try:
            answer = fcntl.fcntl(handle.fileno(), fcntl.F_GETLK, probe)
        except OSError:
            return
    l_type, _whence, _start, _len, pid = struct.unpack("hhqqi", answer)
    if l_type != fcntl.F_UNLCK:
        raise StoreError(writer_elsewhere(path, pid))
