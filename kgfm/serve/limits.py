"""The request-size guard and the JSON error shape shared by every error response."""

from __future__ import annotations

import json
from typing import Any, Sequence

_BODY_METHODS = {"POST", "PUT", "PATCH"}


def error_body(message: str, field: str | None, errors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """``{"error": message, "field": field}`` (+ ``errors`` when several fields are at fault)."""
    body: dict[str, Any] = {"error": message, "field": field}
    if errors is not None:
        body["errors"] = errors
    return body


def _field(loc: Sequence[Any]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    return ".".join(parts) or "body"


def validation_error_body(errors: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """FastAPI/pydantic validation errors as one line naming the first field, plus the full list."""
    items = []
    for err in errors:
        loc = tuple(err.get("loc", ()))
        if err.get("type") == "json_invalid":
            field, message = "body", f"body: invalid JSON ({err.get('ctx', {}).get('error', err.get('msg'))})"
        else:
            field = _field(loc)
            if err.get("type") == "extra_forbidden":
                msg = "unknown field"
            elif err.get("type") == "missing":
                msg = "required"
            else:
                msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
            message = f"{field}: {msg}"
        items.append({"field": field, "message": message})
    if not items:
        return error_body("invalid request", None, [])
    return error_body(items[0]["message"], items[0]["field"], items)


class BodyLimitMiddleware:
    """Refuse request bodies over ``max_bytes`` with 413 (by ``Content-Length`` or while reading),
    and bodies that are not JSON with 415.

    The body is read here (it is small by construction) and replayed to the app, so a chunked
    upload that grows past the limit is cut off without the app ever seeing it.

    Args:
        app: The wrapped ASGI app.
        max_bytes: Largest accepted body.
    """

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("method") not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send, 413, f"body: {int(declared)} bytes is over the limit of {self.max_bytes} bytes")
            return
        ctype = headers.get(b"content-type", b"application/json").split(b";")[0].strip().lower()
        if ctype != b"application/json" and not ctype.endswith(b"+json"):
            await self._refuse(send, 415, "body: send JSON with 'Content-Type: application/json' "
                                          f"(got {ctype.decode('latin-1')!r})")
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(send, 413, f"body: over the limit of {self.max_bytes} bytes")
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        replayed = False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    @staticmethod
    async def _refuse(send: Any, status: int, message: str) -> None:
        payload = json.dumps(error_body(message, "body")).encode("utf-8")
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": payload})
