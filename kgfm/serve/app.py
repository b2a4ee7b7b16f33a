"""The HTTP app: ``POST /qa``, entities, read-only Cypher, health, version, the page at ``/``.

Every error is JSON ``{"error": "<one line>", "field": "<request field or null>"}`` (validation
errors add ``"errors"``, one per field) with a 4xx status; an unexpected failure is a 500 in the
same shape, logged with its traceback, and the worker goes on. The engine is only reached
through :class:`kgfm.serve.worker.EngineWorker`, so the event loop never runs model code.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import platform
import time
from importlib import metadata
from pathlib import Path
from typing import Any, AsyncIterator, Callable

from fastapi import FastAPI, Path as PathParam, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from kgfm.serve.engine import LimitError, ServeError, UnlinkableError
from kgfm.serve.limits import BodyLimitMiddleware, error_body, validation_error_body
from kgfm.serve.schemas import CypherRequest, QARequest, ServeSettings
from kgfm.serve.worker import EngineWorker

STATIC = Path(__file__).resolve().parent / "static"
log = logging.getLogger("kgfm.serve")


def _fastapi(**kwargs: Any) -> FastAPI:
    """The app, with ``/docs`` and ``/redoc`` drawn from local files when PyPI ``fastapi-offline`` (the
    ``serve`` extra) is installed; FastAPI's own pages fetch Swagger UI and ReDoc from a CDN."""
    try:
        from fastapi_offline import FastAPIOffline
    except ImportError:
        return FastAPI(**kwargs)
    return FastAPIOffline(**kwargs)


def _iso(epoch: float) -> str:
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).isoformat(timespec="seconds")


def _versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": platform.python_version()}
    for dist in ("kgfm", "torch", "transformers", "faiss-cpu", "ladybug", "fastapi", "uvicorn"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    from kgfm import __version__

    out["kgfm"] = out["kgfm"] or __version__
    return out


def create_app(engine: Any, settings: ServeSettings | None = None,
               idle: Callable[[], bool] | None = None) -> FastAPI:
    """The ASGI app serving a loaded :class:`kgfm.serve.engine.ServeEngine`.

    Args:
        engine: The loaded engine; the app closes it (or the one a reload put in its place,
            ``app.state.worker.engine``) on shutdown.
        settings: Limits (body size, questions per request, row cap...).
        idle: Background work for the engine thread while no question waits (default: the
            engine's ``trace_step``, recording its traced blocks); see :class:`EngineWorker`.
    """
    settings = settings or ServeSettings()
    worker = EngineWorker(engine, max_batch=settings.max_batch, idle=idle or getattr(engine, "trace_step", None))
    started = time.time()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await worker.start()
        yield
        await worker.stop()

    app = _fastapi(title="kgfm", version=_versions()["kgfm"] or "0", lifespan=lifespan,
                   description="Knowledge-graph QA with evidence: answers, KG paths, Neo4j Browser Cypher.")
    app.state.worker = worker
    app.state.settings = settings
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    _error_handlers(app)
    page = (STATIC / "index.html").read_text(encoding="utf-8")
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def index() -> HTMLResponse:
        return HTMLResponse(page)

    @app.get("/health", summary="liveness and load counters (answered without the engine thread)")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "entities": worker.engine.num_entities, "uptime_s": round(time.time() - started, 3),
                "questions_answered": worker.questions_answered, "batches": worker.batches,
                "largest_batch": worker.largest_batch, "reloads": worker.reloads,
                "loaded_at": _iso(worker.engine.loaded_at)}

    @app.get("/version", summary="package versions and the loaded model")
    async def version() -> dict[str, Any]:
        return {"versions": _versions(), "model": worker.engine.info(), "limits": settings.model_dump()}

    @app.post("/qa", summary="answer one question (an object back) or a list (a list back)")
    async def qa(body: QARequest) -> JSONResponse:
        questions = [body.question] if body.question is not None else list(body.questions or [])
        if len(questions) > settings.max_questions:
            raise LimitError(f"questions: at most {settings.max_questions} per request, got {len(questions)}",
                             field="questions")
        if body.top_k > settings.max_top_k:
            raise LimitError(f"top_k: at most {settings.max_top_k}, got {body.top_k}", field="top_k")
        results = await worker.answer(questions, body.top_k, body.evidence)
        if body.question is not None:
            if results[0].get("error"):
                raise UnlinkableError(results[0]["error"], field="question")
            return JSONResponse(results[0])
        return JSONResponse(results)  # already plain JSON: skips FastAPI's per-field re-encoding

    @app.get("/entities/{entity_id:path}/neighbors", summary="FAISS neighbours and one-hop store neighbours")
    async def neighbors(entity_id: str = PathParam(..., description="entity id"),
                        k: int = Query(10, ge=1, description="how many of each")) -> JSONResponse:
        if k > settings.max_neighbors:
            raise LimitError(f"k: at most {settings.max_neighbors}, got {k}", field="k")
        return JSONResponse(await worker.call_engine("neighbors", entity_id, k))

    @app.get("/entities/{entity_id:path}", summary="one stored entity")
    async def entity(entity_id: str = PathParam(..., description="entity id")) -> JSONResponse:
        return JSONResponse(await worker.call_engine("entity", entity_id))

    @app.post("/cypher", summary="a read-only Cypher query, rows capped")
    async def cypher(body: CypherRequest) -> JSONResponse:
        cap = min(body.max_rows or settings.max_rows, settings.max_rows)
        return JSONResponse(await worker.call_engine("cypher", body.query, body.params, cap))

    return app


def _error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ServeError)
    async def serve_error(request: Request, exc: ServeError) -> JSONResponse:
        return JSONResponse(error_body(exc.message, exc.field), status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(validation_error_body(exc.errors()), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        if exc.status_code == 404 and message == "Not Found":
            message = f"{request.url.path}: no such endpoint (see /docs)"
        elif exc.status_code == 405:
            message = f"{request.method} {request.url.path}: method not allowed (see /docs)"
        return JSONResponse(error_body(message, None), status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("%s %s failed", request.method, request.url.path)
        return JSONResponse(error_body(f"internal error: {type(exc).__name__}: {exc}", None), status_code=500)
