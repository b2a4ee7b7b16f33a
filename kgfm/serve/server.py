"""Starting the server: bind, load the engine once, then run uvicorn on the bound socket.

The socket is bound before the (slow) load so a busy port fails at once, and it starts
listening only when the model is loaded and warm, so a client never waits on a half-loaded
server. Port 0 picks a free port; the ready line names the real one::

    kgfm serve: ready on http://127.0.0.1:8000 (model loaded in 4.1 s, tracing 6 blocks while idle, first request warm)
    kgfm serve: 6/6 blocks traced (0.8 s of idle time, 0.9 s after ready)

The transformer blocks answer eagerly until their ``torch.jit.trace`` recordings are made, one
block at a time while no request waits (:mod:`kgfm.qa.tracing`, :mod:`kgfm.serve.worker`).

``SIGHUP`` (``kill -HUP <pid>``) reloads the model, index and store while the server answers
(:mod:`kgfm.serve.reload`)::

    kgfm serve: reloading the model, index and store (SIGHUP); the loaded model answers meanwhile
    kgfm serve: reloaded in 0.7 s: 267 entities (was 266)
"""

from __future__ import annotations

import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kgfm.config import StoreConfig


class BindError(OSError):
    """The address could not be bound (in use, not local, no permission)."""


def bind(host: str, port: int) -> socket.socket:
    """A bound (not yet listening) TCP socket; raises :class:`BindError` with a one-line reason."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise BindError(f"{host}:{port}: cannot listen here ({exc.strerror or exc})") from None
    return sock


@dataclass
class _Prepared:
    sock: socket.socket
    server: Any  # uvicorn.Server
    url: str
    ready: str
    reloader: Any  # kgfm.serve.reload.Reloader


def _prepare(model_dir: Path, host: str, port: int, store: StoreConfig | None, index_dir: Path | None,
             hops: int | None, threads: int | None, limits: dict[str, Any] | None, log_level: str, access_log: bool,
             started: float, int8: bool, trace: bool, announce: bool) -> _Prepared:
    """Bind, load the engine, and make the uvicorn server (not yet running) that prints the ready line."""
    from kgfm.runtime import paused_gc

    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        from kgfm.config import ConfigError

        raise ConfigError(f"kgfm serve needs the serve extra ({exc.name} is not installed): "
                          "pip install 'kgfm[serve]'") from None
    sock = bind(host, port)
    try:
        with paused_gc():  # imports and model live as long as the server: no collections over them (kgfm.runtime)
            import uvicorn

            from kgfm.serve.app import create_app
            from kgfm.serve.engine import ServeEngine
            from kgfm.serve.reload import Reloader
            from kgfm.serve.schemas import ServeSettings

            settings = ServeSettings(**(limits or {}))

            def load(trace_later: bool) -> ServeEngine:  # at start, and again for each reload
                return ServeEngine.load(model_dir, store=store, index_dir=index_dir, hops=hops, threads=threads,
                                        int8=int8, trace=trace, trace_later=trace_later)

            engine = load(trace_later=True)
    except BaseException:
        sock.close()
        raise
    real_port = sock.getsockname()[1]
    url = f"http://{f'[{host}]' if ':' in host else host}:{real_port}"
    quantized = f", encoder {engine.quantization}" if engine.quantization else ""
    pending = sum(bool(t.pending) for t in engine.tracers)
    quantized += f", tracing {pending} blocks while idle" if pending else ""
    ready = (f"kgfm serve: ready on {url} (model loaded in "
             f"{time.perf_counter() - started:.1f} s{quantized}, first request warm)")
    ready_at: list[float] = []

    def trace_step() -> bool:  # on the engine thread, while no question waits
        more = engine.trace_step()
        if not more and announce:
            after = f", {time.perf_counter() - ready_at[0]:.1f} s after ready" if ready_at else ""
            print(f"kgfm serve: {engine.traced_blocks()} blocks traced ({engine.trace_work_s:.1f} s of idle "
                  f"time{after})", file=sys.stderr, flush=True)
        return more

    class _Server(uvicorn.Server):
        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets=sockets)
            if self.started:
                ready_at.append(time.perf_counter())
                if announce:
                    print(ready, file=sys.stderr, flush=True)

    app = create_app(engine, settings, idle=trace_step if pending else None)
    config = uvicorn.Config(app, log_level=log_level, access_log=access_log, timeout_graceful_shutdown=5)
    reloader = Reloader(lambda: load(trace_later=False), app.state.worker, announce=announce)
    return _Prepared(sock, _Server(config), url, ready, reloader)


def run_server(model_dir: Path, host: str, port: int, store: StoreConfig | None = None, index_dir: Path | None = None,
               hops: int | None = None, threads: int | None = None, limits: dict[str, Any] | None = None,
               log_level: str = "info", access_log: bool = True, started: float | None = None,
               int8: bool = False, trace: bool = True) -> None:
    """Load ``model_dir`` and serve it until interrupted (``kgfm serve``).

    Args:
        model_dir: The fine-tuned model.
        host: Address to listen on.
        port: TCP port (0: a free one, printed on the ready line).
        store: Store override (default: the model's).
        index_dir: Entity index override (default: the model's).
        hops: Candidate radius override.
        threads: torch intra-op threads.
        limits: :class:`~kgfm.serve.schemas.ServeSettings` fields.
        log_level: uvicorn log level.
        access_log: Log one line per request.
        started: ``time.perf_counter()`` at process start (for the load time on the ready line).
        int8: Quantise the encoder to int8 at load (:meth:`ServeEngine.load`).
        trace: Run traced transformer blocks (:meth:`ServeEngine.load`).
    """
    started = started if started is not None else time.perf_counter()
    hangup = getattr(signal, "SIGHUP", None)  # not on Windows
    if hangup is not None:  # its default action would end the process mid-load
        before = signal.signal(hangup, lambda signum, frame: print(
            "kgfm serve: SIGHUP while loading: nothing to reload yet", file=sys.stderr, flush=True))
    try:
        prepared = _prepare(model_dir, host, port, store, index_dir, hops, threads, limits, log_level, access_log,
                            started, int8, trace, announce=True)
        if hangup is not None:
            signal.signal(hangup, lambda signum, frame: prepared.reloader.request("SIGHUP"))
        # uvicorn shuts down gracefully on SIGINT/SIGTERM, then re-raises the signal; after a clean
        # shutdown that is a normal exit (0), not an interrupt.
        previous = signal.signal(signal.SIGTERM, _exit_quietly)
        try:
            prepared.server.run(sockets=[prepared.sock])
        except KeyboardInterrupt:
            pass
        finally:
            signal.signal(signal.SIGTERM, previous)
            prepared.reloader.wait(30)
    finally:
        if hangup is not None:
            signal.signal(hangup, before)
    print("kgfm serve: stopped", file=sys.stderr, flush=True)


class BackgroundServer:
    """A ``kgfm serve`` answering from a thread of this process (a notebook, a test, a script that
    goes on working): the same app and endpoints. Stop it with :meth:`stop`, or use it as a context
    manager; its thread is a daemon, so it never keeps the process alive."""

    def __init__(self, prepared: _Prepared, thread: threading.Thread) -> None:
        self.url = prepared.url
        self.ready_line = prepared.ready
        self._server = prepared.server
        self._sock = prepared.sock
        self._thread = thread
        self._reloader = prepared.reloader

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout: float = 30.0) -> None:
        """Shut down gracefully (requests in flight are answered, the store is closed) and wait."""
        self._server.should_exit = True
        self._thread.join(timeout)
        self._sock.close()
        self._reloader.wait(timeout)

    def reload(self, timeout: float | None = 600.0) -> dict[str, Any]:
        """Load the model, its index and the store again (after ``build-graph`` and ``extend-index``, or a
        model trained again in place) and swap them in; the server answers from the loaded model meanwhile.

        Returns:
            ``{"seconds", "entities", "was", "loaded_at"}``.

        Raises:
            kgfm.serve.reload.ReloadError: the new model did not load (one line); the old one still serves.
        """
        return self._reloader.request("reload()").result(timeout)

    def __enter__(self) -> "BackgroundServer":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<kgfm BackgroundServer {self.url} {'running' if self.running else 'stopped'}>"


def start_server(model_dir: Path, host: str = "127.0.0.1", port: int = 0, store: StoreConfig | None = None,
                 index_dir: Path | None = None, hops: int | None = None, threads: int | None = None,
                 limits: dict[str, Any] | None = None, log_level: str = "warning", access_log: bool = False,
                 int8: bool = False, trace: bool = True, timeout: float = 60.0) -> BackgroundServer:
    """Load ``model_dir`` and serve it from a background thread; returns once it accepts requests.

    Args are those of :func:`run_server` (``port=0``: a free port, in ``.url``); ``timeout``: seconds
    to wait for the server to start after the model is loaded.

    Raises:
        BindError: the address cannot be bound.
        RuntimeError: the server did not start (its thread ended, or ``timeout`` passed).
    """
    prepared = _prepare(model_dir, host, port, store, index_dir, hops, threads, limits, log_level, access_log,
                        time.perf_counter(), int8, trace, announce=False)
    thread = threading.Thread(target=prepared.server.run, kwargs={"sockets": [prepared.sock]},
                              name=f"kgfm-serve-{prepared.url}", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not prepared.server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            prepared.server.should_exit = True
            thread.join(5)
            prepared.sock.close()
            raise RuntimeError(f"kgfm serve: the server on {prepared.url} did not start"
                               + ("" if thread.is_alive() else " (its thread ended; see the log above)"))
        time.sleep(0.02)
    return BackgroundServer(prepared, thread)


def _exit_quietly(signum: int, frame: Any) -> None:
    raise SystemExit(0)
