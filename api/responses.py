"""JSON in and out, and the one error envelope every CozyGen route shares.

Every handler is wrapped by :func:`handler` (``api.routing`` does it), so a
``CozyGenError`` raised anywhere becomes ``{"error", "code"}`` with its status,
and anything unexpected becomes a logged 500 with the same shape, never a
traceback in the response.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web

from ..core.errors import BadRequest, CozyGenError, RateLimited, UnsupportedType

log = logging.getLogger("cozygen")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def json_response(data: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        body=orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS),
        status=status,
        content_type="application/json",
        headers=headers,
    )


def error_response(error: CozyGenError) -> web.Response:
    headers = {"Retry-After": str(error.retry_after)} if isinstance(error, RateLimited) else None
    return json_response(error.to_dict(), status=error.status, headers=headers)


async def read_json(request: web.Request, *, expect: type = dict) -> Any:
    """The request body parsed as JSON of the expected type, or a 400/415 a person can act on."""
    if request.content_type not in ("application/json", "", "text/plain"):
        raise UnsupportedType(f"send the body as application/json, not {request.content_type}")
    raw = await request.read()
    if not raw.strip():
        raise BadRequest("the request body is empty; send a JSON object", code="INVALID_JSON")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"the request body is not valid JSON: {exc}", code="INVALID_JSON") from None
    if not isinstance(data, expect):
        raise BadRequest(f"the request body must be a JSON {_json_kind(expect)}", code="INVALID_JSON")
    return data


def _json_kind(kind: type) -> str:
    return {dict: "object", list: "array", str: "string"}.get(kind, kind.__name__)


def handler(fn: Handler) -> Handler:
    """Render CozyGen errors and unexpected failures in the shared JSON shape."""

    @functools.wraps(fn)
    async def wrapped(request: web.Request) -> web.StreamResponse:
        started = time.perf_counter()
        try:
            response = await fn(request)
        except CozyGenError as error:
            return error_response(error)
        except web.HTTPException:
            raise
        except Exception as exc:  # anything else is a bug: log it, answer in shape
            log.exception("CozyGen: %s %s failed", request.method, request.path)
            return json_response(
                {"error": f"internal error ({type(exc).__name__}); the ComfyUI log has details", "code": "INTERNAL"},
                status=500,
            )
        if not response.prepared:  # how long CozyGen took, for the browser's network panel and the benchmarks
            response.headers["Server-Timing"] = f"cozygen;dur={(time.perf_counter() - started) * 1000:.2f}"
        return response

    return wrapped
