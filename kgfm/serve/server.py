"""Starting the server: bind, load the engine once, then run uvicorn on the bound socket.

The socket is bound before the (slow) load so a busy port fails at once, and it starts
listening only when the model is loaded and warm, so a client never waits on a half-loaded
server. Port 0 picks a free port; the ready line names the real one::

    kgfm serve: ready on http://127.0.0.1:8000 (model loaded in 4.1 s, tracing 6 blocks while idle, first request warm)
    kgfm serve: 6/6 blocks traced (0.8 s of idle time, 0.9 s after ready)

The transformer blocks answer eagerly until their ``torch.jit.trace`` recordings are made, one
block at a time while no request waits (:mod:`kgfm.qa.tracing`, :mod:`kgfm.serve.worker`).
"""

from __future__ import annotations

import signal
import socket
import sys
import time
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


def run_server(model_dir: Path, host: str, port: int, store: StoreConfig | None = None, index_dir: Path | None = None,
               hops: int | None = None, threads: int | None = None, limits: dict[str, Any] | None = None,
               log_level: str = "info", access_log: bool = True, started: float | None = None,
               int8: bool = False, trace: bool = True) -> None:
    """Load ``model_dir`` and serve it until interrupted.

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
    from kgfm.runtime import paused_gc

    started = started if started is not None else time.perf_counter()
    sock = bind(host, port)
    try:
        with paused_gc():  # imports and model live as long as the server: no collections over them (kgfm.runtime)
            import uvicorn

            from kgfm.serve.app import create_app
            from kgfm.serve.engine import ServeEngine
            from kgfm.serve.schemas import ServeSettings

            settings = ServeSettings(**(limits or {}))
            engine = ServeEngine.load(model_dir, store=store, index_dir=index_dir, hops=hops, threads=threads,
                                      int8=int8, trace=trace, trace_later=True)
    except BaseException:
        sock.close()
        raise
    real_port = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    quantized = f", encoder {engine.quantization}" if engine.quantization else ""
    pending = sum(bool(t.pending) for t in engine.tracers)
    quantized += f", tracing {pending} blocks while idle" if pending else ""
    ready = (f"kgfm serve: ready on http://{shown}:{real_port} (model loaded in "
             f"{time.perf_counter() - started:.1f} s{quantized}, first request warm)")
    ready_at: list[float] = []

    def trace_step() -> bool:  # on the engine thread, while no question waits
        more = engine.trace_step()
        if not more:
            after = f", {time.perf_counter() - ready_at[0]:.1f} s after ready" if ready_at else ""
            print(f"kgfm serve: {engine.traced_blocks()} blocks traced ({engine.trace_work_s:.1f} s of idle "
                  f"time{after})", file=sys.stderr, flush=True)
        return more

    class _Server(uvicorn.Server):
        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets=sockets)
            if self.started:
                ready_at.append(time.perf_counter())
                print(ready, file=sys.stderr, flush=True)

    app = create_app(engine, settings, idle=trace_step if pending else None)
    config = uvicorn.Config(app, log_level=log_level, access_log=access_log,
                            timeout_graceful_shutdown=5)
    # uvicorn shuts down gracefully on SIGINT/SIGTERM, then re-raises the signal; after a clean
    # shutdown that is a normal exit (0), not an interrupt.
    previous = signal.signal(signal.SIGTERM, _exit_quietly)
    try:
        _Server(config).run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
    print("kgfm serve: stopped", file=sys.stderr, flush=True)


def _exit_quietly(signum: int, frame: Any) -> None:
    raise SystemExit(0)
