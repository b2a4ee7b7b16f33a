"""Progress for long work: a live bar on a terminal or in a notebook, a log line every ``every_percent`` otherwise.

In a notebook or a terminal people want a live bar; in a CI log, a ``nohup`` file or a pipe a bar
turns into hundreds of ``0%| 0/6`` fragments. :func:`progress` picks by whether stderr is a
terminal or the code runs in a Jupyter kernel (whose stderr is no terminal, but whose output area
redraws a bar in place); override with ``KGFM_PROGRESS=bar|log|off``. In a kernel the bar is a
widget where ``ipywidgets`` is installed and tqdm's text bar otherwise (never tqdm.auto's
"IProgress not found" warning).
"""

from __future__ import annotations

import io
import os
import sys
import threading
import time
from contextlib import contextmanager
from typing import Any, Iterable, Iterator, Optional, TextIO


class LogProgress:
    """A tqdm-shaped progress reporter that writes plain lines.

    Args:
        iterable: What to iterate (optional when only :meth:`update` is used).
        total: Number of steps; taken from ``len(iterable)`` when possible.
        desc: Label printed at the start of each line.
        every_percent: Print a line each time this many more percent are done.
        min_seconds: ...and never more often than this (the last line always prints).
        stream: Where lines go (stderr by default).
        initial: Steps already done (resumed work).
        heartbeat_seconds: Print by time instead: a line each time this many seconds have passed
            since the start or the last line, none before and no closing line (work shorter than
            this prints nothing). :meth:`ticking` checks the time from a thread as well.
        unit: Named after the count when there is no total (``3,997,696 records read``).
    """

    def __init__(self, iterable: Optional[Iterable[Any]] = None, total: Optional[int] = None, desc: str = "",
                 every_percent: float = 10.0, min_seconds: float = 0.0, stream: Optional[TextIO] = None,
                 initial: int = 0, heartbeat_seconds: Optional[float] = None, unit: str = "") -> None:
        self.iterable = iterable
        if total is None and iterable is not None and hasattr(iterable, "__len__"):
            total = len(iterable)  # type: ignore[arg-type]
        self.total, self.desc, self.n = total, desc, initial
        self.every, self.min_seconds = every_percent, min_seconds
        self.stream = stream or sys.stderr
        self.start = time.perf_counter()
        self._last_percent = -every_percent if initial == 0 else self._percent()
        self._last_time = 0.0
        self.postfix = ""
        self.heartbeat = heartbeat_seconds
        self.unit = unit
        self._lock = threading.Lock()  # the ticking thread and the worker may both print

    def _percent(self) -> float:
        return 100.0 * self.n / self.total if self.total else 0.0

    def _line(self) -> str:
        elapsed = time.perf_counter() - self.start
        done = f"{self.n}/{self.total} ({self._percent():.0f}%)" if self.total else f"{self.n:,} {self.unit}" if self.unit \
            else f"{self.n}"
        extra = f" {self.postfix}" if self.postfix else ""
        return f"{self.desc}: {done} in {elapsed:.1f}s{extra}"

    def _maybe_print(self, force: bool = False) -> None:
        now = time.perf_counter()
        if self.heartbeat is not None:
            with self._lock:
                if force or now - max(self.start, self._last_time) >= self.heartbeat:
                    print(self._line(), file=self.stream, flush=True)
                    self._last_time = now
            return
        if self.total:
            due = self._percent() >= self._last_percent + self.every or self.n >= self.total
        else:
            due = now - self._last_time >= max(self.min_seconds, 30.0)
        if force or (due and now - self._last_time >= self.min_seconds) or (self.total and self.n >= self.total):
            print(self._line(), file=self.stream, flush=True)
            self._last_percent = self._percent() // self.every * self.every if self.total else 0.0
            self._last_time = now

    def update(self, n: int = 1) -> None:
        self.n += n
        self._maybe_print()

    def update_to(self, n: int, desc: Optional[str] = None) -> None:
        """Set the count (and label) to where the work is now; prints when a line is due."""
        self.n = n
        if desc is not None:
            self.desc = desc
        self._maybe_print()

    def set_postfix_str(self, text: str, refresh: bool = True) -> None:
        self.postfix = text

    def set_postfix(self, refresh: bool = True, **kwargs: Any) -> None:
        self.postfix = " ".join(f"{k}={v}" for k, v in kwargs.items())

    @contextmanager
    def ticking(self, every: float = 1.0) -> Iterator["LogProgress"]:
        """Check for a due heartbeat line from a background thread while the block runs, so a
        phase that reports no steps (a bulk write into the store) still gets its lines."""
        stop = threading.Event()

        def tick() -> None:
            while not stop.wait(every):
                self._maybe_print()

        thread = threading.Thread(target=tick, name="kgfm-progress", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            stop.set()
            thread.join()

    def write(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def close(self) -> None:
        pass

    def __iter__(self) -> Iterator[Any]:
        assert self.iterable is not None, "LogProgress without an iterable cannot be iterated"
        for item in self.iterable:
            yield item
            self.update(1)

    def __enter__(self) -> "LogProgress":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def progress(iterable: Optional[Iterable[Any]] = None, total: Optional[int] = None, desc: str = "",
             disable: bool = False, initial: int = 0, **tqdm_kwargs: Any) -> Any:
    """A progress reporter for ``iterable`` (or ``total`` steps with ``.update``).

    Args:
        iterable: What to iterate.
        total: Number of steps when ``iterable`` has no length.
        desc: Label.
        disable: Report nothing (e.g. non-zero ranks); still iterates.
        initial: Steps already done.
        **tqdm_kwargs: Passed to tqdm when a bar is drawn (``leave``, ``mininterval``, ...).
    """
    mode = progress_mode()
    if disable or mode == "off":
        mode = "off"
    if mode == "bar":
        return bar_class()(iterable, total=total, desc=desc, initial=initial, **tqdm_kwargs)
    return LogProgress(iterable, total=total, desc=desc, initial=initial,
                       stream=_NullStream() if mode == "off" else None)


def epoch_progress(iterable: Iterable[Any], desc: str = "", disable: bool = False, every_seconds: float = 60.0,
                   **tqdm_kwargs: Any) -> Any:
    """Progress inside one epoch, a bar that restarts every epoch: a live bar on a terminal or in a
    notebook; in a log, a line every ``every_seconds`` once the epoch has run that long, so short
    epochs stay quiet (a line per 10 % of every epoch would be hundreds of lines) and a long one is
    not silent for minutes (one MetaQA graph-encoder epoch runs ~5 minutes on 2 cores).

    Args:
        iterable: The epoch's batches.
        desc: Label (``epoch 3``).
        disable: Report nothing; still iterates.
        every_seconds: Seconds between log lines.
        **tqdm_kwargs: Passed to tqdm when a bar is drawn.
    """
    mode = "off" if disable else progress_mode()
    if mode == "bar":
        return bar_class()(iterable, desc=desc, **tqdm_kwargs)
    return LogProgress(iterable, desc=desc, heartbeat_seconds=every_seconds,
                       stream=_NullStream() if mode == "off" else None)


def progress_mode() -> str:
    """``bar`` (stderr is a terminal, or a Jupyter kernel runs the code), ``log`` (otherwise) or ``off``;
    ``KGFM_PROGRESS`` overrides.

    Bars that restart every epoch use :func:`epoch_progress`, which logs by time, not by percent.
    """
    return os.environ.get("KGFM_PROGRESS", "").lower() or ("bar" if sys.stderr.isatty() or in_notebook() else "log")


def in_notebook() -> bool:
    """True when a Jupyter kernel runs this code (the test tqdm itself uses: an IPython shell started
    by ``IPKernelApp``); False in a terminal IPython, a script or a pipe."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    try:
        shell = ipython.get_ipython()
        return shell is not None and "IPKernelApp" in shell.config
    except Exception:  # noqa: BLE001  (an IPython too old or too odd to ask: not a kernel we know)
        return False


def bar_class() -> type:
    """The tqdm class for a live bar: the widget bar in a kernel that has ``ipywidgets``, the text bar otherwise."""
    if in_notebook():
        try:
            import ipywidgets  # noqa: F401

            from tqdm.notebook import tqdm as notebook_bar

            return notebook_bar
        except ImportError:
            pass
    from tqdm.std import tqdm as text_bar

    return text_bar


class _NullStream(io.TextIOBase):
    def write(self, text: str) -> int:
        return len(text)
