"""EngineWorker's background work (kgfm.serve.worker): idle steps run on the engine thread only
while no question is queued, a question waits for at most the step in progress, and a failing
step is dropped without taking the worker down. The engine here is a small recording object:
the worker is generic, and the real engine's steps are tested in test_serve_int8.py."""

from __future__ import annotations

import asyncio
import threading
import time

from kgfm.serve.worker import EngineWorker


class _Engine:
    def __init__(self, steps: int, step_s: float, fail_at: int | None = None) -> None:
        self.left, self.step_s, self.fail_at = steps, step_s, fail_at
        self.events: list[tuple[str, float, str]] = []

    def _log(self, what: str) -> None:
        self.events.append((what, time.perf_counter(), threading.current_thread().name))

    def step(self) -> bool:
        self._log("step")
        if self.fail_at is not None and len([e for e in self.events if e[0] == "step"]) == self.fail_at:
            raise RuntimeError("recording failed")
        time.sleep(self.step_s)
        self.left -= 1
        return self.left > 0

    def answer(self, questions, top_k, evidence):
        self._log("answer")
        return [{"question": q} for q in questions]

    def close(self) -> None:
        pass


def _run(engine: _Engine, ask_after_s: float) -> tuple[list[dict], float, EngineWorker]:
    async def main():
        worker = EngineWorker(engine, idle=engine.step)
        await worker.start()
        await asyncio.sleep(ask_after_s)
        t0 = time.perf_counter()
        got = await worker.answer(["q1", "q2"], 1, False)
        waited = time.perf_counter() - t0
        await asyncio.sleep(0.3)
        await worker.stop()
        return got, waited, worker

    return asyncio.run(main())


def test_idle_steps_run_on_the_engine_thread_between_questions():
    engine = _Engine(steps=8, step_s=0.05)
    got, waited, worker = _run(engine, ask_after_s=0.12)
    assert [g["question"] for g in got] == ["q1", "q2"]
    kinds = [e[0] for e in engine.events]
    assert kinds.count("step") == 8 and worker.idle is None  # all done, then no more calls
    first = kinds.index("answer")
    assert 0 < first < 8  # the question came in between steps, not after all of them
    assert waited < 0.05 + 0.04  # at most the step in progress (50 ms) plus scheduling
    assert {e[2] for e in engine.events} == {next(e[2] for e in engine.events)}  # one thread
    assert engine.events[0][2].startswith("kgfm-engine")


def test_a_failing_step_is_dropped_and_questions_are_still_answered():
    engine = _Engine(steps=8, step_s=0.01, fail_at=2)
    got, _, worker = _run(engine, ask_after_s=0.1)
    assert [g["question"] for g in got] == ["q1", "q2"]
    assert [e[0] for e in engine.events].count("step") == 2 and worker.idle is None


class _Named:
    """An engine that says which one answered, on which thread, and whether it was closed then."""

    def __init__(self, name: str, answer_s: float = 0.0) -> None:
        self.name, self.answer_s, self.closed_on = name, answer_s, None

    def answer(self, questions, top_k, evidence):
        assert self.closed_on is None, f"{self.name} answered after close"
        time.sleep(self.answer_s)
        return [{"question": q, "engine": self.name} for q in questions]

    def close(self) -> None:
        self.closed_on = threading.current_thread().name


def test_replace_swaps_between_calls_and_closes_the_old_engine_on_its_thread():
    old, new = _Named("old", answer_s=0.2), _Named("new")

    async def main():
        worker = EngineWorker(old)
        await worker.start()
        first = asyncio.ensure_future(worker.answer(["q1"], 1, False))
        await asyncio.sleep(0.05)  # q1 is being answered by the old engine
        swapped = asyncio.ensure_future(worker.replace(new))
        await asyncio.sleep(0)
        second = asyncio.ensure_future(worker.answer(["q2"], 1, False))  # queued behind the swap
        got = [await first, await second]
        assert await swapped is None  # replace() keeps no reference to the old engine
        engine_after = worker.engine
        await worker.stop()
        return got, engine_after, worker

    got, engine_after, worker = asyncio.run(main())
    assert [g[0]["engine"] for g in got] == ["old", "new"]
    assert engine_after is new and worker.reloads == 1
    assert old.closed_on and old.closed_on.startswith("kgfm-engine")  # on the engine thread, after q1
    assert new.closed_on and new.closed_on.startswith("kgfm-engine")  # stop() closes the engine in place


def test_an_idle_step_ending_during_a_replace_keeps_the_new_engines_work():
    engine, steps = _Engine(steps=1, step_s=0.1), []

    def new_step() -> bool:
        steps.append("new")
        return len(steps) < 3

    async def main():
        worker = EngineWorker(engine, idle=engine.step)
        await worker.start()
        await asyncio.sleep(0.03)  # the old engine's only step is running
        await worker.replace(_Named("new"), idle=new_step)
        await asyncio.sleep(0.2)
        await worker.stop()
        return worker

    worker = asyncio.run(main())
    assert steps == ["new", "new", "new"] and worker.idle is None
