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

from ..core.errors import BadRequest, CozyGenError, RateLimited, TooLarge, UnsupportedType
from ..core.json_depth import MAX_DEPTH as MAX_JSON_DEPTH
from ..core.json_depth import too_deep
from .params import check_query_encoding

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
    """The request body parsed as JSON of the expected type, or a 400/415 a person can act on.

    The one way a handler reads a JSON body: it refuses bodies nested deeper than ``MAX_JSON_DEPTH`` (orjson
    itself stops at 1024 levels, but a few hundred are enough to make recursive code raise RecursionError,
    and orjson cannot write back more than 254), and bodies of another type than ``expect``.
    """
    if request.content_type not in ("application/json", "", "text/plain"):
        raise UnsupportedType(f"send the body as application/json, not {request.content_type}")
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise TooLarge("the request body is larger than this server accepts", code="TOO_LARGE") from None
    if not raw.strip():
        raise BadRequest("the request body is empty; send a JSON object", code="INVALID_JSON")
    try:
        data = loads_bounded(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"the request body is not valid JSON: {exc}", code="INVALID_JSON") from None
    except TooDeep:
        raise BadRequest(
            f"the request body is nested more than {MAX_JSON_DEPTH} levels deep", code="JSON_TOO_DEEP"
        ) from None
    if not isinstance(data, expect):
        raise BadRequest(f"the request body must be a JSON {_json_kind(expect)}", code="INVALID_JSON")
    return data


class TooDeep(ValueError):
    """JSON nested deeper than ``MAX_JSON_DEPTH``."""


def loads_bounded(raw: bytes | str, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """``orjson.loads``, refusing (TooDeep) values nested more than ``max_depth`` levels."""
    data = orjson.loads(raw)
    if too_deep(raw, data, max_depth):
        raise TooDeep(f"nested more than {max_depth} levels")
    return data


def _json_kind(kind: type) -> str:
    names: dict[type, str] = {dict: "object", list: "array", str: "string"}
    return names.get(kind, kind.__name__)


def handler(fn: Handler) -> Handler:
    """Render CozyGen errors and unexpected failures in the shared JSON shape."""

    @functools.wraps(fn)
    async def wrapped(request: web.Request) -> web.StreamResponse:
        started = time.perf_counter()
        try:
            check_query_encoding(request)
            response = await fn(request)
        except CozyGenError as error:
            return error_response(error)
        except web.HTTPException:
            raise
        except RecursionError:  # the last line behind read_json's depth limit: input nested too deep to walk
            log.warning("CozyGen: %s %s: input nested too deep (RecursionError)", request.method, request.path)
            return error_response(BadRequest("the input is nested too deeply to process", code="TOO_DEEP"))
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
