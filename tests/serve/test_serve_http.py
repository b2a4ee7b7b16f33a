"""Every endpoint and every error of a real ``kgfm serve`` (uvicorn on 127.0.0.1) through httpx.

Expectations are computed by hand from ``graphs/movies_kb.txt`` (directors, one-hop
neighbours) or from the saved FAISS embeddings (nearest neighbours by inner product).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]

KB = [line.split("|") for line in (REPO / "graphs" / "movies_kb.txt").read_text(encoding="utf-8").splitlines()]
UNLINKABLE = "what is the meaning of all this"


@pytest.fixture(scope="module")
def client(server):
    with httpx.Client(base_url=server["url"], timeout=60) as c:
        yield c


def _error(response: httpx.Response, status: int, field: str | None) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) >= {"error", "field"} and body["field"] == field, body
    assert "Traceback" not in body["error"]
    return body["error"]


def test_health_version_and_openapi(client):
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["entities"] == 266
    version = client.get("/version").json()
    assert version["versions"]["kgfm"] and version["versions"]["fastapi"]
    assert version["model"]["entities"] == 266 and version["model"]["hops"] == 2
    assert sorted(version["model"]["relations"]) == sorted({r for _, r, _ in KB})
    assert "swagger" in client.get("/docs").text.lower()
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/qa", "/cypher", "/health", "/version", "/entities/{entity_id}", "/entities/{entity_id}/neighbors"} <= set(paths)


def test_one_question_answer_topic_evidence_and_cypher(client):
    r = client.post("/qa", json={"question": "who directed [Orchard of Havana]", "top_k": 3})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["topic"]["id"] == "Orchard of Havana" and body["error"] is None
    directors = {t for h, rel, t in KB if h == "Orchard of Havana" and rel == "directed_by"}
    assert directors == {"Noah Lindqvist"}
    best = body["answers"][0]
    assert best["id"] == "Noah Lindqvist" and len(body["answers"]) == 3
    assert best["paths"][0]["nodes"] == ["Orchard of Havana", "Noah Lindqvist"]
    assert best["paths"][0]["rels"] == ["directed_by"] and best["paths"][0]["directions"] == [1]
    assert body["cypher"].startswith('MATCH p = (n0:Entity {id: "Orchard of Havana"})-[:`directed_by`]->')
    scores = [a["score"] for a in body["answers"]]
    assert scores == sorted(scores, reverse=True) and 0 < sum(scores) <= 1.0 + 1e-6


def test_two_hop_evidence_goes_through_the_movies(client):
    body = client.post("/qa", json={"question": "who are the directors of the films [Rosa Kimura] starred in"}).json()
    movies = {h for h, rel, t in KB if rel == "starred_actors" and t == "Rosa Kimura"}
    directors = {t for h, rel, t in KB if rel == "directed_by" and h in movies}
    assert movies == {"Harbor of Tangier", "Iron Echo"} and directors == {"Noah Dalton"}
    best = body["answers"][0]
    assert best["id"] == "Noah Dalton"
    assert {tuple(p["nodes"]) for p in best["paths"]} == {("Rosa Kimura", m, "Noah Dalton") for m in movies}
    assert all(p["rels"] == ["starred_actors", "directed_by"] and p["directions"] == [-1, 1] for p in best["paths"])


def test_same_json_as_the_cli(client, server):
    question = "who directed [Orchard of Havana]"
    cli = subprocess.run([sys.executable, "-m", "kgfm.cli.main", "qa", question, "--model", str(server["model"]),
                          "--json", "-k", "4"], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert cli.returncode == 0, cli.stderr
    expected = json.loads(cli.stdout)
    got = client.post("/qa", json={"question": question, "top_k": 4}).json()
    expected.pop("seconds"), got.pop("seconds")
    assert got == expected


def test_a_list_of_questions_gives_a_list_with_per_question_errors(client):
    r = client.post("/qa", json={"questions": ["who directed [Orchard of Havana]", UNLINKABLE], "top_k": 1})
    assert r.status_code == 200
    first, second = r.json()
    assert first["answers"][0]["id"] == "Noah Lindqvist"
    assert second["answers"] == [] and "no entity of the knowledge graph found" in second["error"]


def test_unlinkable_question_is_422_with_the_cli_message(client, server):
    message = _error(client.post("/qa", json={"question": UNLINKABLE}), 422, "question")
    cli = subprocess.run([sys.executable, "-m", "kgfm.cli.main", "qa", UNLINKABLE, "--model", str(server["model"])],
                         capture_output=True, text=True, cwd=REPO, timeout=300)
    assert cli.returncode == 1 and message in cli.stdout + cli.stderr
    assert message.startswith("no entity of the knowledge graph found in 'what is the meaning of all this'")


@pytest.mark.parametrize("body, field, needle", [
    ({}, "body", "exactly one of question or questions"),
    ({"question": "a", "questions": ["b"]}, "body", "exactly one"),
    ({"question": "who directed [Orchard of Havana]", "topk": 3}, "topk", "unknown field"),
    ({"question": ""}, "question", "at least 1 character"),
    ({"question": "   "}, "question", "empty question"),
    ({"question": 12}, "question", "valid string"),
    ({"question": "x" * 1001}, "question", "at most 1000 characters"),
    ({"questions": []}, "questions", "at least 1 item"),
    ({"questions": ["who directed [Orchard of Havana]", " "]}, "questions", "item 1 is an empty question"),
    ({"questions": "who directed [Orchard of Havana]"}, "questions", "valid list"),
    ({"question": "who directed [Orchard of Havana]", "top_k": 0}, "top_k", "greater than or equal to 1"),
    ({"question": "who directed [Orchard of Havana]", "top_k": "five"}, "top_k", "valid integer"),
    ({"question": "who directed [Orchard of Havana]", "top_k": 51}, "top_k", "at most 50"),
    ({"question": "who directed [Orchard of Havana]", "evidence": "maybe"}, "evidence", "valid boolean"),
    ({"questions": ["who directed [Orchard of Havana]"] * 9}, "questions", "at most 8 per request"),
])
def test_bad_qa_requests_are_422_naming_the_field(client, body, field, needle):
    assert needle in _error(client.post("/qa", json=body), 422, field)


def test_malformed_oversized_and_non_json_bodies(client):
    assert "invalid JSON" in _error(client.post("/qa", content=b'{"question": ', headers={"content-type": "application/json"}), 422, "body")
    assert "valid dictionary" in _error(client.post("/qa", json=["who directed [Orchard of Havana]"]), 422, "body")
    assert "Content-Type: application/json" in _error(client.post("/qa", content=b"question=x", headers={"content-type": "application/x-www-form-urlencoded"}), 415, "body")
    big = {"questions": ["who directed [Orchard of Havana]"] * 200}  # ~6.6 kB > the 4 KiB limit of this server
    assert "over the limit of 4096 bytes" in _error(client.post("/qa", json=big), 413, "body")

    def chunks():  # no Content-Length: chunked transfer, refused while reading
        yield b'{"questions": ['
        for _ in range(300):
            yield b'"who directed [Orchard of Havana]",'
        yield b'"x"]}'

    assert "over the limit" in _error(client.post("/qa", content=chunks(), headers={"content-type": "application/json"}), 413, "body")


def test_unknown_routes_and_methods(client):
    assert "no such endpoint" in _error(client.get("/nope"), 404, None)
    assert "method not allowed" in _error(client.get("/qa"), 405, None)
    assert "method not allowed" in _error(client.delete("/entities/Orchard of Havana"), 405, None)


def test_entity_and_its_neighbors(client, server):
    e = client.get("/entities/Orchard of Havana")
    assert e.status_code == 200 and e.json()["id"] == "Orchard of Havana" and e.json()["name"] == "Orchard of Havana"
    r = client.get("/entities/Orchard of Havana/neighbors", params={"k": 100})
    assert r.status_code == 200
    body = r.json()
    one_hop = {t for h, _, t in KB if h == "Orchard of Havana"} | {h for h, _, t in KB if t == "Orchard of Havana"}
    assert {n["id"] for n in body["store"]} == one_hop and all(n["hops"] == 1 for n in body["store"])
    # FAISS neighbours = largest inner products with the saved embeddings, itself excluded
    from safetensors.numpy import load_file

    index_dir = server["model"].parents[1] / "index"
    emb = load_file(str(index_dir / "embeddings.safetensors"))["entities"]
    ids = json.loads((index_dir / "vocab.json").read_text(encoding="utf-8"))["entity_ids"]
    me = ids.index("Orchard of Havana")
    scores = emb @ emb[me]
    scores[me] = -np.inf
    top5 = [ids[i] for i in np.argsort(-scores, kind="stable")[:5]]
    five = client.get("/entities/Orchard of Havana/neighbors", params={"k": 5}).json()
    assert [n["id"] for n in five["faiss"]] == top5 and len(five["store"]) == 5
    assert [n["score"] for n in five["faiss"]] == pytest.approx(sorted(scores[np.argsort(-scores)[:5]], reverse=True), abs=1e-4)


def test_entity_errors(client):
    assert "no entity with id 'Nobody'" in _error(client.get("/entities/Nobody"), 404, "entity_id")
    assert "'a/b'" in _error(client.get("/entities/a/b"), 404, "entity_id")  # ids may hold slashes
    assert "'Nobody'" in _error(client.get("/entities/Nobody/neighbors"), 404, "entity_id")
    assert "greater than or equal to 1" in _error(client.get("/entities/Iron Echo/neighbors?k=0"), 422, "k")
    assert "valid integer" in _error(client.get("/entities/Iron Echo/neighbors?k=many"), 422, "k")
    assert "at most 100" in _error(client.get("/entities/Iron Echo/neighbors?k=101"), 422, "k")


def test_cypher_reads_with_a_row_cap(client):
    r = client.post("/cypher", json={"query": "MATCH (e:Entity) WHERE e.id = $id RETURN e.id AS id, e.name AS name",
                                     "params": {"id": "Iron Echo"}})
    assert r.status_code == 200 and r.json()["rows"] == [{"id": "Iron Echo", "name": "Iron Echo"}]
    capped = client.post("/cypher", json={"query": "MATCH (e:Entity) RETURN e.id AS id ORDER BY id"}).json()
    assert capped["row_count"] == 5 and capped["truncated"] is True and capped["columns"] == ["id"]
    fewer = client.post("/cypher", json={"query": "MATCH (e:Entity) RETURN e.id AS id ORDER BY id", "max_rows": 2}).json()
    assert len(fewer["rows"]) == 2 and fewer["rows"] == capped["rows"][:2]
    whole = client.post("/cypher", json={"query": "MATCH (e:Entity) RETURN e LIMIT 1"}).json()
    assert whole["rows"][0]["e"]["id"]  # a node comes back as a JSON object


@pytest.mark.parametrize("query", [
    "CREATE (:Entity {id: 'x', idx: 999})",
    "MATCH (e:Entity {id: 'Iron Echo'}) SET e.name = 'changed'",
    "match (e:Entity) detach delete e",
    "MERGE (e:Entity {id: 'y'})",
    "COPY Entity FROM '/tmp/x.csv'",
    "DROP TABLE Entity",
])
def test_cypher_writes_are_refused_and_nothing_changes(client, query):
    assert "read" in _error(client.post("/cypher", json={"query": query}), 400, "query")
    count = client.post("/cypher", json={"query": "MATCH (e:Entity) RETURN count(e) AS n"}).json()["rows"][0]["n"]
    name = client.get("/entities/Iron Echo").json()["name"]
    assert count == 266 and name == "Iron Echo"


def test_cypher_errors(client):
    # unbalanced brackets are caught by the read-only tokenizer before the database sees the query
    assert "missing ')'" in _error(client.post("/cypher", json={"query": "MATCH (e:Entity RETURN e"}), 400, "query")
    assert "LadybugDB" in _error(client.post("/cypher", json={"query": "MATCH (e:Nope) RETURN e"}), 400, "query")
    assert "required" in _error(client.post("/cypher", json={}), 422, "query")
    assert _error(client.post("/cypher", json={"query": "MATCH (e) RETURN e", "max_rows": 0}), 422, "max_rows")
    assert _error(client.post("/cypher", json={"query": "MATCH (e) RETURN e", "params": [1]}), 422, "params")


def test_long_work_does_not_block_the_event_loop(client, server):
    slow_query = "MATCH (a:Entity), (b:Entity), (c:Entity) WHERE a.idx + b.idx + c.idx = 3 RETURN count(*) AS n"
    done = {}

    def slow():
        t = time.perf_counter()
        done["n"] = httpx.post(server["url"] + "/cypher", json={"query": slow_query}, timeout=120).json()
        done["s"] = time.perf_counter() - t

    worker = threading.Thread(target=slow)
    worker.start()
    time.sleep(0.2)
    t = time.perf_counter()
    assert client.get("/health").status_code == 200
    health_s = time.perf_counter() - t
    in_flight = worker.is_alive()
    worker.join()
    assert done["n"]["rows"][0]["n"] == 10  # (a, b, c) idx triples summing to 3: C(5, 2)
    if in_flight:  # the slow query was still running when /health answered
        assert health_s < done["s"] / 2, (health_s, done["s"])
    else:
        pytest.skip(f"the slow query finished in {done['s']:.2f} s, before /health was asked; box too fast to tell")


def test_concurrent_questions_are_answered_in_batches(client, server):
    questions = [f"who directed [{m}]" for m in ("Orchard of Havana", "Iron Echo", "Harbor of Tangier", "Letters of Odessa")] * 4
    before = client.get("/health").json()
    out: list = [None] * len(questions)

    def ask(i: int) -> None:
        out[i] = httpx.post(server["url"] + "/qa", json={"question": questions[i], "top_k": 1}, timeout=120).json()

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(questions))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    want = {h: t for h, rel, t in KB if rel == "directed_by"}
    assert [o["answers"][0]["id"] for o in out] == [want[q[14:-1]] for q in questions]
    after = client.get("/health").json()
    assert after["questions_answered"] - before["questions_answered"] == len(questions)
    assert after["batches"] - before["batches"] <= len(questions)


def test_the_worker_survived_everything(client, server):
    assert server["proc"].poll() is None
    assert client.post("/qa", json={"question": "who directed [Iron Echo]", "top_k": 1}).json()["answers"][0]["id"] == "Noah Dalton"


def test_cli_errors_are_one_line(tmp_path, server):
    missing = subprocess.run([sys.executable, "-m", "kgfm.cli.main", "serve", "--model", str(tmp_path / "nope"), "--port", "0"],
                             capture_output=True, text=True, cwd=REPO, timeout=300)
    assert missing.returncode == 2 and "no model here" in missing.stderr and "Traceback" not in missing.stderr
    port = server["url"].rsplit(":", 1)[1]
    busy = subprocess.run([sys.executable, "-m", "kgfm.cli.main", "serve", "--model", str(server["model"]), "--port", port],
                          capture_output=True, text=True, cwd=REPO, timeout=300)
    assert busy.returncode == 2 and "cannot listen here" in busy.stderr and "Traceback" not in busy.stderr


def test_index_override_and_wrong_index(tmp_path, sample_model, launcher):
    from kgfm.index.entity_index import EntityIndex

    other = tmp_path / "other-index"
    ids = EntityIndex.load(sample_model.parents[1] / "index").entity_ids
    EntityIndex.build(np.ones((len(ids), 16), np.float32), ids, ids, metric="ip", use_gpu=False).save(other)
    bad = subprocess.run([sys.executable, "-m", "kgfm.cli.main", "serve", "--model", str(sample_model), "--port", "0",
                          "--index", str(other)], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert bad.returncode == 2 and "a different index" in bad.stderr and "Traceback" not in bad.stderr
    proc, url, log = launcher.start(sample_model, "--index", str(sample_model.parents[1] / "index"))
    try:
        assert httpx.post(url + "/qa", json={"question": "who directed [Iron Echo]"}).json()["answers"][0]["id"] == "Noah Dalton"
    finally:
        assert launcher.stop(proc) == 0  # SIGINT: a graceful shutdown, exit 0
    assert "Application shutdown complete" in log.read_text(encoding="utf-8")
