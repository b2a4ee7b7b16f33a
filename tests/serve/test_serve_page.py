"""The page at ``/`` in headless Chromium (Debian's ``chromium``), driven by Playwright.

A person types a question, waits for the answers, and sees the right answer, the evidence
edges (relation names) and the Cypher. The screenshot goes to the test's temporary folder,
and to ``docs/serve.png`` (the README's picture) when ``KGFM_UPDATE_SCREENSHOT=1``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("KGFM_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def page(server):
    if CHROMIUM is None:
        reason = "no chromium on PATH (Debian: apt-get install -y chromium; scripts/ci_serve.sh does it)"
        if os.environ.get("KGFM_REQUIRE_CHROMIUM") == "1":  # CI: a missing browser is a failure, not a skip
            pytest.fail(reason)
        pytest.skip(reason)
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (the [dev] extra)")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"])
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 860})
            tab = context.new_page()
            errors: list[str] = []
            tab.on("pageerror", lambda exc: errors.append(str(exc)))
            tab.goto(server["url"] + "/")
            yield tab, errors
        finally:
            browser.close()


def test_question_answers_evidence_graph_and_cypher(page, tmp_path):
    tab, errors = page
    tab.fill("#question", "who are the directors of the films [Rosa Kimura] starred in")
    tab.press("#question", "Enter")
    tab.wait_for_selector("#answers li.answer")
    first = tab.locator("#answers li.answer").first
    assert first.get_attribute("data-id") == "Noah Dalton"
    assert "Noah Dalton" in first.inner_text()
    assert "Rosa Kimura" in tab.inner_text("#topic")
    # the evidence graph: topic -> the two movies -> the director, relation names on the edges
    for movie in ("Harbor of Tangier", "Iron Echo"):
        assert tab.locator(f'svg g.edge[data-head="{movie}"][data-rel="starred_actors"][data-tail="Rosa Kimura"]').count() == 1
        assert tab.locator(f'svg g.edge[data-head="{movie}"][data-rel="directed_by"][data-tail="Noah Dalton"]').count() == 1
        assert tab.locator(f'svg g.node[data-id="{movie}"]').count() == 1
    assert tab.locator('svg g.node.topic[data-id="Rosa Kimura"]').count() == 1
    assert tab.locator('svg g.node.answer.best[data-id="Noah Dalton"]').count() == 1
    labels = tab.locator("svg .edge-label").all_text_contents()
    assert "directed_by" in labels and "starred_actors" in labels
    # layered left to right: topic, then the movies, then the answer
    x = {n: tab.locator(f'svg g.node[data-id="{n}"]').bounding_box()["x"]
         for n in ("Rosa Kimura", "Iron Echo", "Harbor of Tangier", "Noah Dalton")}
    assert x["Rosa Kimura"] < x["Iron Echo"] == x["Harbor of Tangier"] < x["Noah Dalton"]
    cypher = tab.inner_text("#cypher")
    assert cypher.startswith('MATCH p = (n0:Entity {id: "Rosa Kimura"})<-[:`starred_actors`]-') and "UNION" in cypher
    tab.locator('svg g.node[data-id="Iron Echo"]').click()
    tab.wait_for_selector("#store-neighbors li")
    assert tab.inner_text("#entity-title") == "Around Iron Echo"
    assert "Noah Dalton" in tab.inner_text("#store-neighbors").splitlines()  # Iron Echo -[directed_by]-> Noah Dalton
    assert len(tab.locator("#faiss-neighbors li").all()) == 8
    assert not errors, errors
    shot = tmp_path / "serve.png"
    tab.screenshot(path=str(shot), full_page=True)
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
    if os.environ.get("KGFM_UPDATE_SCREENSHOT") == "1":
        (REPO / "docs").mkdir(exist_ok=True)
        shutil.copyfile(shot, REPO / "docs" / "serve.png")


def test_unlinkable_question_shows_the_cli_message(page):
    tab, errors = page
    tab.fill("#question", "what is the meaning of all this")
    tab.click("#ask-button")
    tab.wait_for_selector("#error:not([hidden])")
    assert "no entity of the knowledge graph found" in tab.inner_text("#error")
    assert tab.locator("#result").is_hidden()
    assert not errors, errors


def test_page_is_self_contained(server):
    import httpx

    html = httpx.get(server["url"] + "/").text
    assert "http://" not in html and "https://" not in html  # no CDN: works offline
    for asset in ("/static/page.js", "/static/page.css"):
        r = httpx.get(server["url"] + asset)
        assert r.status_code == 200 and "https://" not in r.text


def test_every_page_file_ships_in_the_wheel():
    import fnmatch
    import tomllib

    patterns = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["package-data"]["kgfm.serve"]
    static = REPO / "kgfm" / "serve" / "static"
    files = [p.relative_to(static.parent).as_posix() for p in static.iterdir()]
    assert files and all(any(fnmatch.fnmatch(f, pat) for pat in patterns) for f in files), (files, patterns)


def test_openapi_page_renders_offline(page, server):
    """``/docs`` (Swagger UI) and ``/redoc`` come from installed files (``fastapi-offline``): with every
    request that leaves 127.0.0.1 refused, both still list the API's operations (ReDoc only misses its own logo)."""
    from urllib.parse import urlsplit

    tab, _ = page
    docs = tab.context.new_page()
    outside: list[str] = []
    errors: list[str] = []

    def only_local(route):
        if urlsplit(route.request.url).hostname in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    docs.route("**/*", only_local)
    docs.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        docs.goto(server["url"] + "/docs")
        docs.wait_for_selector(".opblock-summary-path", timeout=20_000)
        paths = {p.strip().replace("\u200b", "") for p in docs.locator(".opblock-summary-path").all_inner_texts()}
        assert {"/qa", "/cypher", "/health"} <= paths, paths
        assert not outside and not errors, (outside, errors)
        docs.goto(server["url"] + "/redoc")
        docs.wait_for_selector("text=a read-only Cypher query, rows capped", timeout=20_000)
        # ReDoc's bundle asks its CDN for its logo only (refused here; the page is complete without it)
        assert {urlsplit(u).hostname for u in outside} <= {"cdn.redoc.ly"} and not errors, (outside, errors)
    finally:
        docs.close()
