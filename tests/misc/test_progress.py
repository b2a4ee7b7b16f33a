"""Non-terminal progress: one line per 10%, nothing when disabled, tqdm on a terminal."""

from __future__ import annotations

import io

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
