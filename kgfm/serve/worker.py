"""Running the engine off the event loop: one worker thread, concurrent questions batched.

torch modules and the LadybugDB connection are not safe to share between threads, so every
engine call goes through a single-thread executor; the event loop only waits on futures and
stays free for other requests (``/health`` answers while a batch is being encoded).

Questions are queued one by one. The batcher takes the first waiting question and every
other question already queued (up to ``max_batch``) and answers them in one encoder pass, so
under load the batches grow by themselves while the previous batch is running. After a batch
of several questions it waits up to ``window_ms`` for as many to be queued again (the clients
just answered are sending their next question); after a batch of one it never waits, so a
lone request pays nothing.

Background work (recording the traced transformer blocks, :meth:`ServeEngine.trace_step`) runs
on the same thread in short steps, only while no question is queued, so a request waits at
most one step (~0.1 s) for it.

:meth:`EngineWorker.replace` swaps in another engine (a reload, :mod:`kgfm.serve.reload`) on the
same thread between two calls: every call names the engine by its method and finds the engine
when it runs, so a call queued before the swap runs on the new engine, never on a closed one.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Sequence

log = logging.getLogger("kgfm.serve")


@dataclass
class _Item:
    question: str
    top_k: int
    evidence: bool
    future: "asyncio.Future[dict[str, Any]]"


class EngineWorker:
    """Serialises calls into ``engine`` on one thread and batches QA.

    Args:
        engine: A :class:`kgfm.serve.engine.ServeEngine` (or anything with the same ``answer``).
        max_batch: Most questions per encoder pass.
        window_ms: After a batch of several questions, wait up to this long for as many to be
            queued again before the next pass (a lone request never waits).
        idle: One short step of background work, run on the engine thread while no question
            is queued, again and again until it returns ``False`` (or raises: logged, dropped).
    """

    def __init__(self, engine: Any, max_batch: int = 32, window_ms: float = 4.0,
                 idle: Callable[[], bool] | None = None) -> None:
        self.engine = engine
        self.idle = idle
        self.max_batch = max_batch
        self.window_s = window_ms / 1000.0
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kgfm-engine")
        self._queue: asyncio.Queue[_Item | None] | None = None  # None: wake up, new idle work (replace)
        self._task: asyncio.Task[None] | None = None
        self.questions_answered = 0
        self.batches = 0
        self.largest_batch = 0
        self.reloads = 0
        self.loop: asyncio.AbstractEventLoop | None = None  # set by start(); replace() is scheduled on it

    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._queue = asyncio.Queue()
        self._task = asyncio.get_running_loop().create_task(self._batcher(), name="kgfm-batcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        await self.call_engine("close")
        self._executor.shutdown(wait=True)

    async def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn(*args)`` on the engine thread."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, functools.partial(fn, *args))

    async def call_engine(self, method: str, *args: Any) -> Any:
        """Run ``engine.<method>(*args)`` on the engine thread, on the engine in place when it runs."""
        return await self.call(lambda: getattr(self.engine, method)(*args))

    async def replace(self, engine: Any, idle: Callable[[], bool] | None = None) -> None:
        """Swap ``engine`` in on the engine thread, between two calls, and close the one it replaces.
        Nothing here keeps a reference to the replaced engine, so it is freed when its holders let go.

        Args:
            engine: The new engine, loaded and warm.
            idle: Its background work (``None``: none; a reloaded engine is traced before the swap).
        """
        def swap() -> None:
            old, self.engine = self.engine, engine
            try:
                old.close()
            except Exception:  # the new engine is in place; the old one's store may be left open
                log.exception("closing the replaced engine failed")

        await self.call(swap)
        self.idle = idle
        if idle is not None and self._queue is not None:
            self._queue.put_nowait(None)  # the batcher may be waiting for a question with no idle work left
        self.reloads += 1

    async def answer(self, questions: Sequence[str], top_k: int, evidence: bool) -> list[dict[str, Any]]:
        """``kgfm qa --json`` objects for ``questions``, in order (batched with other requests)."""
        if self._queue is None:
            raise RuntimeError("EngineWorker.start() was not called")
        loop = asyncio.get_running_loop()
        items = [_Item(q, top_k, evidence, loop.create_future()) for q in questions]
        for item in items:
            self._queue.put_nowait(item)
        return list(await asyncio.gather(*(i.future for i in items)))

    async def _batcher(self) -> None:
        assert self._queue is not None
        last = 1
        while True:
            while self.idle is not None and self._queue.empty():
                await self._idle_step()
            first = await self._queue.get()
            if first is None:
                continue
            batch = [first]
            self._drain(batch)
            if last > 1 and len(batch) < min(last, self.max_batch):
                # under load: the clients just answered are about to ask again; wait a moment for them
                deadline = time.monotonic() + self.window_s
                while len(batch) < min(last, self.max_batch) and time.monotonic() < deadline:
                    await asyncio.sleep(0.0005)
                    self._drain(batch)
            last = len(batch)
            groups: dict[tuple[int, bool], list[_Item]] = {}
            for item in batch:
                if not item.future.done():  # the client went away
                    groups.setdefault((item.top_k, item.evidence), []).append(item)
            for (top_k, evidence), items in groups.items():
                await self._run_group(items, top_k, evidence)

    async def _idle_step(self) -> None:
        step = self.idle
        try:
            more = await self.call(step)
        except Exception:
            log.exception("background work failed; dropped (the engine answers as before)")
            more = False
        if not more and self.idle is step:  # a replace() during the step set the new engine's own
            self.idle = None

    def _drain(self, batch: list[_Item]) -> None:
        assert self._queue is not None
        while len(batch) < self.max_batch and not self._queue.empty():
            item = self._queue.get_nowait()
            if item is not None:
                batch.append(item)

    async def _run_group(self, items: list[_Item], top_k: int, evidence: bool) -> None:
        try:
            results = await self.call_engine("answer", [i.question for i in items], top_k, evidence)
        except Exception as exc:  # the request fails, the worker goes on
            if len(items) > 1:  # one bad question must not fail the others batched with it
                for item in items:
                    await self._run_group([item], top_k, evidence)
                return
            log.exception("answering %r failed", items[0].question)
            for item in items:
                if not item.future.done():
                    item.future.set_exception(exc)
            return
        self.batches += 1
        self.largest_batch = max(self.largest_batch, len(items))
        self.questions_answered += len(items)
        for item, result in zip(items, results):
            if not item.future.done():
                item.future.set_result(result)
