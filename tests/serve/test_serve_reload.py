"""Reloading a running server (kgfm.serve.reload) on the real sample model, store and index: the new
engine answers as the old one did, requests sent during the reload are answered, the old engine's
store is closed and its model freed, and a reload that cannot load leaves the old engine serving.
The CLI's SIGHUP, after build-graph and extend-index on a trained GNN index, is in
tests/qa/test_qa_extend.py."""

from __future__ import annotations

import shutil
import threading
import weakref
from pathlib import Path

import httpx
import pytest

QUESTION = {"question": "who directed [Orchard of Havana]", "top_k": 3}


def _answer(url: str) -> dict:
    got = httpx.post(url + "/qa", json=QUESTION, timeout=60)
    assert got.status_code == 200, got.text
    body = got.json()
    body.pop("seconds")
    return body


def test_reload_swaps_engines_while_answering_and_frees_the_old(sample_model: Path, fds):
    import kgfm

    store = sample_model.parents[1] / "movies.lbug"  # tests/serve/conftest.py: <root>/movies.lbug
    before_threads = {t.name for t in threading.enumerate()}
    server = kgfm.start_server(sample_model)
    try:
        expected = _answer(server.url)
        health = httpx.get(server.url + "/health", timeout=30).json()
        assert health["reloads"] == 0
        open_before = fds(store)
        old_model = weakref.ref(server._reloader._worker.engine.qa.model)

        answers: list[dict] = []
        stop = threading.Event()

        def ask() -> None:  # a client that keeps asking through the reload
            while not stop.is_set():
                answers.append(_answer(server.url))

        client = threading.Thread(target=ask)
        client.start()
        try:
            results: list[dict] = []
            barrier = threading.Barrier(2)

            def reload() -> None:
                barrier.wait()
                results.append(server.reload())

            callers = [threading.Thread(target=reload) for _ in range(2)]
            for c in callers:
                c.start()
            for c in callers:
                c.join(120)
        finally:
            stop.set()
            client.join(60)
        assert len(results) == 2 and results[0] == results[1]  # the second request joined the first
        assert results[0]["entities"] == results[0]["was"] == 266 and results[0]["seconds"] > 0
        assert answers and all(a == expected for a in answers)
        after = httpx.get(server.url + "/health", timeout=30).json()
        assert after["reloads"] == 1 and after["loaded_at"] >= health["loaded_at"]
        assert _answer(server.url) == expected
        assert old_model() is None  # the replaced model is freed (its first load was frozen: kgfm.runtime)
        assert fds(store) == open_before  # the old engine closed its store
    finally:
        server.stop()
    assert {t.name for t in threading.enumerate()} == before_threads
    assert fds(store) == 0


def test_a_reload_that_cannot_load_keeps_the_old_engine_serving(sample_model: Path, tmp_path: Path):
    import kgfm
    from kgfm.config import StoreConfig
    from kgfm.serve.reload import ReloadError
    from kgfm.store.build import BuildGraphConfig, SourceSpec, run_build

    copy = tmp_path / "movies.lbug"
    shutil.copy(sample_model.parents[1] / "movies.lbug", copy)
    with kgfm.start_server(sample_model, path=copy) as server:
        expected = _answer(server.url)
        new = tmp_path / "new.txt"
        new.write_text("Neon Harbor|directed_by|Noah Lindqvist\n", encoding="utf-8")
        run_build(BuildGraphConfig(store=StoreConfig(path=copy), sources=[SourceSpec(path=new)]), show_progress=False)
        with pytest.raises(ReloadError) as info:
            server.reload()
        message = str(info.value)
        assert "1 entity added after the entity index was built" in message
        assert f"`kgfm extend-index --model {sample_model} --path {copy}` embeds it" in message  # the store served
        assert "\n" not in message and "Traceback" not in message
        health = httpx.get(server.url + "/health", timeout=30).json()
        assert health["reloads"] == 0 and health["entities"] == 266
        assert _answer(server.url) == expected  # still the model it loaded
