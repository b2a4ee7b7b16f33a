"""Reloading a running server: the model, its entity index and the store, read again, no downtime.

After ``kgfm build-graph`` adds facts and ``kgfm extend-index`` embeds the new entities (or after a
model is trained again into the same folder), ``kill -HUP <pid>`` (``kgfm serve``) or
``server.reload()`` (:func:`kgfm.start_server`) loads a new :class:`~kgfm.serve.engine.ServeEngine`
with the arguments the server started with. It is loaded, warmed up and traced on a thread of its
own while the old engine goes on answering, then swapped in on the engine thread between two calls
(:meth:`EngineWorker.replace`); the old engine is closed and its memory freed. Memory holds both
engines while the new one loads.

A load that fails changes nothing: the old engine keeps answering and the reason is one line
(``kgfm serve: reload failed ...``; ``ReloadError`` from ``server.reload()``), e.g. the store has
entities the index lacks (the message names ``kgfm extend-index``). A reload asked for while one
runs joins it.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import gc
import logging
import sys
import threading
import time
from concurrent.futures import Future
from typing import Any, Callable

log = logging.getLogger("kgfm.serve")


class ReloadError(RuntimeError):
    """A reload that did not happen; the server answers from the engine it had."""


def one_line(exc: BaseException) -> str:
    """kgfm's own errors (and missing files) already read as one line; anything else gets its type."""
    if type(exc).__module__.startswith("kgfm") or isinstance(exc, (FileNotFoundError, FileExistsError)):
        return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return f"{type(exc).__name__}: {exc}".splitlines()[0]


class Reloader:
    """Loads a new engine beside the serving one and swaps it in.

    Args:
        load: Makes a loaded, warm engine (the server's own ``ServeEngine.load`` call).
        worker: The server's :class:`~kgfm.serve.worker.EngineWorker`.
        announce: Print ``kgfm serve: ...`` lines on stderr (the CLI; a notebook's server is quiet).
    """

    def __init__(self, load: Callable[[], Any], worker: Any, announce: bool = False) -> None:
        self._load = load
        self._worker = worker
        self._announce = announce
        self._lock = threading.RLock()  # re-entrant: a second SIGHUP's handler can interrupt the first one
        self._running: Future[dict[str, Any]] | None = None
        self._thread: threading.Thread | None = None

    def request(self, why: str = "") -> Future[dict[str, Any]]:
        """Start a reload (or join the one running). The future's result is :meth:`_reload`'s summary;
        its exception a :class:`ReloadError`."""
        with self._lock:
            if self._running is not None and not self._running.done():
                self._say(f"a reload is already running; {why or 'this request'} joins it")
                return self._running
            future: Future[dict[str, Any]] = Future()
            self._running = future
            self._thread = threading.Thread(target=self._run, args=(future, why), name="kgfm-reload", daemon=True)
            self._thread.start()
            return future

    def wait(self, timeout: float | None = None) -> None:
        """Wait for a running reload's thread to end (the server is stopping)."""
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _run(self, future: Future[dict[str, Any]], why: str) -> None:
        try:
            future.set_result(self._reload(why))
        except BaseException as exc:  # noqa: BLE001 - every failure leaves the old engine serving
            if not isinstance(exc, ReloadError):
                log.debug("reload failed", exc_info=True)
                exc = ReloadError(one_line(exc))
            self._say(f"reload failed, still serving the model loaded at {_clock(self._worker.engine)}: {exc}")
            future.set_exception(exc)

    def _reload(self, why: str) -> dict[str, Any]:
        loop = self._worker.loop
        if loop is None or loop.is_closed():
            raise ReloadError("the server is not running")
        old = self._worker.engine
        self._say(f"reloading the model, index and store{f' ({why})' if why else ''}; "
                  "the loaded model answers meanwhile")
        t0 = time.perf_counter()
        gc.disable()  # as at start-up (kgfm.runtime): no collections over the objects being made
        try:
            new = self._load()
        finally:
            gc.enable()
        new.forget_threads()  # the load ran on this thread; the engine thread sets its own count
        try:
            asyncio.run_coroutine_threadsafe(self._worker.replace(new), loop).result()
        except BaseException:
            if self._worker.engine is not new:
                new.close()
            raise ReloadError("the server stopped during the reload") from None
        summary = {"seconds": round(time.perf_counter() - t0, 3), "entities": new.num_entities,
                   "was": old.num_entities, "loaded_at": new.loaded_at}
        del old, new
        _free_frozen()
        self._say(f"reloaded in {summary['seconds']:.1f} s: {summary['entities']:,} entities "
                  f"(was {summary['was']:,})")
        return summary

    def _say(self, line: str) -> None:
        if self._announce:
            print(f"kgfm serve: {line}", file=sys.stderr, flush=True)


def _free_frozen() -> None:
    """Free what the replaced engine leaves in reference cycles. The first load was frozen
    (:func:`kgfm.runtime.paused_gc`), so its cycles are out of the collector's reach: unfreeze,
    collect once (the old engine's objects), and freeze what is alive again. Then hand the freed
    memory back to the system where the C library can (glibc's ``malloc_trim``; the new engine was
    made on another thread, in another malloc arena, so the old one's pages would stay mapped)."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


def _clock(engine: Any) -> str:
    loaded = getattr(engine, "loaded_at", None)
    if loaded is None:
        return "start"
    return _dt.datetime.fromtimestamp(loaded).strftime("%H:%M:%S")
