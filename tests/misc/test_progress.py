"""Non-terminal progress: one line per 10%, nothing when disabled, tqdm on a terminal."""

from __future__ import annotations

import io
import time

from kgfm.progress import LogProgress, progress


def test_log_progress_prints_a_line_per_ten_percent():
    out = io.StringIO()
    items = list(LogProgress(range(200), desc="epoch 1", stream=out))
    lines = out.getvalue().splitlines()
    assert items == list(range(200))
    assert len(lines) == 11  # 0% is not printed until the first step: 1/200, then 10%, 20%, ... 100%
    assert lines[-1].startswith("epoch 1: 200/200 (100%)")
    assert [line.split("(")[1].split("%")[0] for line in lines[1:]] == [str(p) for p in range(10, 101, 10)]


def test_update_and_postfix_without_iterable():
    out = io.StringIO()
    bar = LogProgress(total=4, desc="pretrain", stream=out, every_percent=50)
    for _ in range(4):
        bar.update()
    bar.set_postfix(loss=0.5)
    bar.write("eval: mrr 0.3")
    text = out.getvalue()
    assert "pretrain: 2/4 (50%)" in text and "pretrain: 4/4 (100%)" in text and "eval: mrr 0.3" in text


def test_mode_from_environment(monkeypatch):
    monkeypatch.setenv("KGFM_PROGRESS", "off")
    assert list(progress(range(3), desc="x")) == [0, 1, 2]
    monkeypatch.setenv("KGFM_PROGRESS", "bar")
    from tqdm.std import tqdm

    assert isinstance(progress(range(3), desc="x", disable=False), tqdm)
    monkeypatch.setenv("KGFM_PROGRESS", "log")
    assert isinstance(progress(range(3)), LogProgress)


def test_a_jupyter_kernel_gets_a_text_bar_without_ipywidgets(monkeypatch):
    import sys
    import types

    from tqdm.std import tqdm

    from kgfm.progress import bar_class, in_notebook, progress_mode

    monkeypatch.delenv("KGFM_PROGRESS", raising=False)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False, raising=False)
    assert not in_notebook() and progress_mode() == "log"
    shell = types.SimpleNamespace(config={"IPKernelApp": {}})
    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: shell))
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # import fails: no widgets
    assert in_notebook() and progress_mode() == "bar" and bar_class() is tqdm
    shell.config = {}  # a terminal IPython: no kernel
    assert not in_notebook() and progress_mode() == "log"


def test_a_kernel_with_ipywidgets_gets_the_widget_bar(monkeypatch):
    import sys
    import types

    from kgfm.progress import bar_class

    shell = types.SimpleNamespace(config={"IPKernelApp": {}})
    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: shell))
    monkeypatch.setitem(sys.modules, "ipywidgets", types.ModuleType("ipywidgets"))  # importable
    from tqdm.notebook import tqdm as notebook_bar

    assert bar_class() is notebook_bar


def test_an_epoch_in_a_log_prints_a_line_a_minute_and_nothing_when_short(monkeypatch):
    """``epoch_progress`` in a log: nothing for an epoch under a minute, then one line per minute
    with the step and the postfix, and no closing line."""
    import kgfm.progress as kp

    clock = [1000.0]
    monkeypatch.setattr(kp.time, "perf_counter", lambda: clock[0])
    monkeypatch.setenv("KGFM_PROGRESS", "log")
    out = io.StringIO()
    monkeypatch.setattr(kp.sys, "stderr", out)

    def run(seconds_per_step: float, steps: int) -> list[str]:
        out.seek(0)
        out.truncate()
        bar = kp.epoch_progress(range(steps), desc="epoch 1")
        for _ in bar:
            clock[0] += seconds_per_step
            bar.set_postfix(loss="0.5")
        return out.getvalue().splitlines()

    assert run(0.5, 100) == []  # 50 s: quiet
    lines = run(10.0, 20)  # 200 s: lines after steps 6 (60 s), 12 (120 s) and 18 (180 s)
    assert [line.split(" in ")[0] for line in lines] == ["epoch 1: 6/20 (30%)", "epoch 1: 12/20 (60%)",
                                                          "epoch 1: 18/20 (90%)"]
    assert lines[0].endswith("in 60.0s loss=0.5")
    monkeypatch.setenv("KGFM_PROGRESS", "off")
    assert run(10.0, 20) == []
    monkeypatch.setenv("KGFM_PROGRESS", "log")
    assert kp.epoch_progress(range(3), disable=True).stream is not out


def test_ticking_prints_heartbeat_lines_while_no_step_is_reported():
    """A phase with no steps (a bulk write) still gets its lines from the ticking thread, and the
    thread is gone after the block."""
    import threading

    out = io.StringIO()
    bar = LogProgress(desc="build-graph: writing", heartbeat_seconds=0.05, unit="records read", stream=out)
    bar.update_to(4_000_000)
    with bar.ticking(every=0.01):
        time.sleep(0.4)
    lines = out.getvalue().splitlines()
    assert len(lines) >= 2 and all(line.startswith("build-graph: writing: 4,000,000 records read in ") for line in lines)
    assert not any(t.name == "kgfm-progress" for t in threading.enumerate())
