"""int8 serving: ``kgfm serve --int8`` (quantised at load) and ``--model INT8DIR`` (an int8 export),
each a real uvicorn on 127.0.0.1 answered through httpx; plus the engine's encode fast path.

Expectations come from ``graphs/movies_kb.txt`` by hand (directors, the two-hop path through the
movies). Quantising at load and loading an export of the same model must give the same answers
and scores: both round the same float weights the same way (:mod:`kgfm.qa.quantize`).
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
KB = [line.split("|") for line in (REPO / "graphs" / "movies_kb.txt").read_text(encoding="utf-8").splitlines()]
QUESTIONS = ["who directed [Orchard of Havana]", "who directed [Iron Echo]",
             "who are the directors of the films [Rosa Kimura] starred in"]


def _directors_of(movies: set[str]) -> set[str]:
    return {t for h, rel, t in KB if rel == "directed_by" and h in movies}


def _ask(url: str) -> list[dict]:
    r = httpx.post(url + "/qa", json={"questions": QUESTIONS, "top_k": 3, "evidence": True}, timeout=60)
    assert r.status_code == 200, r.text
    return [{k: v for k, v in a.items() if k != "seconds"} for a in r.json()]


def _check_answers(answers: list[dict]) -> None:
    havana, iron, rosa = answers
    assert _directors_of({"Orchard of Havana"}) == {"Noah Lindqvist"}
    assert havana["answers"][0]["id"] == "Noah Lindqvist"
    assert havana["answers"][0]["paths"][0]["nodes"] == ["Orchard of Havana", "Noah Lindqvist"]
    assert _directors_of({"Iron Echo"}) == {"Noah Dalton"} and iron["answers"][0]["id"] == "Noah Dalton"
    movies = {h for h, rel, t in KB if rel == "starred_actors" and t == "Rosa Kimura"}
    assert _directors_of(movies) == {"Noah Dalton"} and rosa["answers"][0]["id"] == "Noah Dalton"
    assert {tuple(p["nodes"]) for p in rosa["answers"][0]["paths"]} == {("Rosa Kimura", m, "Noah Dalton") for m in movies}
    for a in answers:
        scores = [x["score"] for x in a["answers"]]
        assert scores == sorted(scores, reverse=True) and 0 < sum(scores) <= 1.0 + 1e-6


@pytest.fixture(scope="module")
def int8_export(sample_model, tmp_path_factory) -> Path:
    """``sample_model`` exported as a ``kgfm-qa-model-int8`` artifact."""
    from kgfm.qa.answer import QAEngine
    from kgfm.qa.quantize import INT8_KIND, export_int8

    dest = tmp_path_factory.mktemp("int8") / "model"
    engine = QAEngine.load(sample_model)
    try:
        assert export_int8(sample_model, dest, engine.graph, engine.index)["kind"] == INT8_KIND
    finally:
        engine.close()
    return dest


def test_int8_at_load_and_int8_export_serve_the_same_right_answers(sample_model, int8_export, launcher):
    proc, url, log = launcher.start(sample_model, "--int8")
    try:
        assert "encoder int8-at-load" in log.read_text(encoding="utf-8")
        assert httpx.get(url + "/version").json()["model"]["quantization"] == "int8-at-load"
        at_load = _ask(url)
    finally:
        assert launcher.stop(proc) == 0
    _check_answers(at_load)
    proc, url, log = launcher.start(int8_export)
    try:
        version = httpx.get(url + "/version").json()["model"]
        assert version["quantization"] == "int8-export" and version["model_kind"] == "kgfm-qa-model-int8"
        exported = _ask(url)
    finally:
        assert launcher.stop(proc) == 0
    assert exported == at_load


def test_float_is_the_default_and_says_so(server):
    assert httpx.get(server["url"] + "/version").json()["model"]["quantization"] is None
    assert "int8" not in server["log"].read_text(encoding="utf-8").split("ready on", 1)[1].splitlines()[0]


def test_encode_questions_skips_the_mode_walk_in_eval_mode_and_restores_training(sample_model):
    """The engine leaves its model in eval mode, so encode_questions skips the per-call
    eval()/train() walk; the vectors are the same bit for bit as from a model in training mode
    (which it switches to eval and back)."""
    import torch

    from kgfm.qa.answer import QAEngine
    from kgfm.qa.data import PreparedQuestions, link_questions
    from kgfm.qa.ranking import encode_questions

    engine = QAEngine.load(sample_model)
    try:
        texts, mentions, topics = link_questions(QUESTIONS, engine.linker)
        prepared = PreparedQuestions(texts, mentions, topics, [None] * len(texts))
        assert not engine.model.training
        with torch.inference_mode():
            fast = encode_questions(engine.model.encoder, prepared, batch_size=2)
            assert not engine.model.encoder.training and fast.shape[0] == len(QUESTIONS)
            engine.model.train()  # someone trains the loaded model: eval for encoding, then back
            again = encode_questions(engine.model.encoder, prepared, batch_size=2)
        assert torch.equal(again, fast) and engine.model.encoder.training
    finally:
        engine.close()


def test_result_as_dict_is_dataclasses_asdict(sample_model):
    """The direct ``as_dict`` gives what ``dataclasses.asdict`` gives (answers, topic, evidence paths)."""
    import dataclasses

    from kgfm.qa.answer import QAEngine

    engine = QAEngine.load(sample_model)
    try:
        results = engine.answer(QUESTIONS + ["what is the meaning of all this"], top_k=3, evidence=True)
    finally:
        engine.close()
    assert results[2].answers[0].paths and results[3].error
    for r in results:
        got = r.as_dict()
        assert got == dataclasses.asdict(r) and list(got) == list(dataclasses.asdict(r))
        assert [list(a) for a in got["answers"]] == [list(a) for a in dataclasses.asdict(r)["answers"]]
        if r.answers and r.answers[0].paths:  # fresh containers: editing the dict leaves the result alone
            got["answers"][0]["paths"][0]["nodes"].append("x")
            assert r.answers[0].paths[0]["nodes"][-1] != "x"


def test_single_questions_on_one_thread_batches_on_all(sample_model):
    """``threads=2``: a lone question runs with one intra-op thread, a batch with two; same answers."""
    import torch

    from kgfm.serve.engine import ServeEngine

    before = torch.get_num_threads()
    engine = ServeEngine.load(sample_model, threads=2)
    try:
        assert engine.threads == 2
        single = [engine.answer([q], 3, True)[0] for q in QUESTIONS]
        assert torch.get_num_threads() == 1
        batch = engine.answer(QUESTIONS, 3, True)
        assert torch.get_num_threads() == 2
        assert [[a["id"] for a in r["answers"]] for r in single] == [[a["id"] for a in r["answers"]] for r in batch]
        engine.answer(QUESTIONS[:1], 3, True)
        assert torch.get_num_threads() == 1
    finally:
        engine.close()
        torch.set_num_threads(before)


@pytest.mark.parametrize("int8", [False, True])
def test_traced_blocks_give_the_eager_answers_and_scores(sample_model, int8):
    """``trace=True`` (the default) records every block during the warm-up, for a single question and
    a padded batch, and answers exactly as the eager engine does; ``trace=False`` records nothing."""
    from kgfm.serve.engine import ServeEngine

    questions = QUESTIONS + ["who starred in [Orchard of Havana]", "what genre is [Iron Echo]"]
    results = {}
    for trace in (False, True):
        engine = ServeEngine.load(sample_model, int8=int8, trace=trace)
        try:
            if trace:  # recorded during the warm-up: a padded batch, and a lone question through the same recording
                from kgfm.qa.tracing import _ViaMask

                assert engine.traced_blocks() == "2/2" and engine.info()["traced_blocks"] == "2/2"
                assert all(len(t.recordings) == 2 and isinstance(list(t.recordings.values())[1], _ViaMask)
                           for t in engine.tracers)
            else:
                assert engine.traced_blocks() is None and engine.tracers == []
            single = [engine.answer([q], 3, True)[0] for q in questions]
            batch = engine.answer(questions, 3, True)
        finally:
            engine.close()
        results[trace] = [[{k: v for k, v in r.items() if k != "seconds"} for r in rs] for rs in (single, batch)]
    eager, traced = results[False], results[True]
    for e, t in zip(eager, traced):
        assert [[a["id"] for a in r["answers"]] for r in t] == [[a["id"] for a in r["answers"]] for r in e]
        for re_, rt in zip(e, t):
            for ae, at in zip(re_["answers"], rt["answers"]):
                assert at["score"] == pytest.approx(ae["score"], abs=2e-5) and at["paths"] == ae["paths"]
    _check_answers(traced[1][:3])


def test_the_server_reports_its_traced_blocks_and_no_trace_turns_them_off(server, sample_model, launcher):
    """The server is ready before its blocks are recorded (they are recorded while it is idle)
    and says so; /version then reports them all, and the answers are the eager ones."""
    log_text = server["log"].read_text(encoding="utf-8")
    assert "tracing 2 blocks while idle, first request warm" in log_text
    deadline = time.monotonic() + 60
    while httpx.get(server["url"] + "/version").json()["model"]["traced_blocks"] != "2/2":
        assert time.monotonic() < deadline, "the idle server never finished recording its blocks"
        time.sleep(0.2)
    deadline = time.monotonic() + 10
    while "2/2 blocks traced (" not in server["log"].read_text(encoding="utf-8"):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    _check_answers(_ask(server["url"]))
    proc, url, log = launcher.start(sample_model, "--no-trace")
    try:
        assert httpx.get(url + "/version").json()["model"]["traced_blocks"] is None
        assert "blocks traced" not in log.read_text(encoding="utf-8")
        _check_answers(_ask(url))
    finally:
        assert launcher.stop(proc) == 0


def test_python_api_trace_option_gives_the_same_answers(sample_model):
    import kgfm

    with kgfm.QAModel.from_pretrained(sample_model) as plain:
        want = plain.answer_batch(QUESTIONS, top_k=3)
    with kgfm.QAModel.from_pretrained(sample_model, trace=True) as traced:
        got = traced.answer_batch(QUESTIONS, top_k=3)
        one = traced.answer(QUESTIONS[0], top_k=3)
        blocks = traced.engine.model.encoder.hf_model.encoder.layer
        assert all(len(layer.forward.recordings) == 2 for layer in blocks)  # the padded batch, then the lone one
    ids = lambda rs: [[(a["id"], a["paths"]) for a in r["answers"]] for r in rs]
    scores = lambda rs: [a["score"] for r in rs for a in r["answers"]]
    assert ids(got) == ids(want) and ids([one]) == ids(want[:1])
    assert scores(got) == pytest.approx(scores(want), abs=2e-5) and scores([one]) == pytest.approx(scores(want[:1]), abs=2e-5)
