"""Reading what a request says, in one place: query-string numbers, dates, flags and choices, ids in the path,
and the fields of a JSON body.

Every value is bounded to what the code behind it can hold, so bad input is a 400 (or a 404 for an id that
cannot exist) a person can act on, never a 500: whole numbers to SQLite's 64-bit INTEGER (past it, binding
raises OverflowError, and so does orjson writing it back), pages to where ``(page - 1) * per_page`` stays
inside it, dates to ``datetime``'s years 1 to 9999, query strings to UTF-8.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from ..core.errors import BadRequest, NotFound

TRUE_FLAGS = ("1", "true", "True")
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1  # SQLite's INTEGER (and orjson's integers)
MAX_PAGE = 1_000_000_000  # (page - 1) * per_page of a paged list stays far inside SQLite's range
EARLIEST = dt.datetime(1, 1, 1, tzinfo=dt.timezone.utc).timestamp()  # datetime's range, in epoch seconds
LATEST = dt.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=dt.timezone.utc).timestamp()
_NOT_GIVEN: Any = object()


def flag(request: web.Request, name: str, default: bool = False) -> bool:
    """A seed-style boolean flag: only 1, true and True count as true."""
    value = request.query.get(name)
    return default if value is None else value in TRUE_FLAGS


def check_query_encoding(request: web.Request) -> None:
    """Refuse a query string that is not UTF-8 once percent-decoded (aiohttp would quietly turn it into U+FFFD,
    and a search, a name or a folder would then be looked up under another name)."""
    raw = request.rel_url.raw_query_string
    if "%" not in raw:
        return
    try:
        parse_qsl(raw, keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:
        raise BadRequest("the query string must be UTF-8 (percent-encoded)", code="INVALID_ENCODING") from None


def whole_number(
    raw: Any,
    name: str,
    *,
    low: int | None = None,
    high: int | None = None,
    floor: int | None = None,
    ceiling: int | None = None,
    code: str | None = None,
) -> int:
    """``raw`` (text, or an int from JSON) as a whole number inside SQLite's 64-bit range.

    ``low``/``high`` refuse what lies outside them; ``floor``/``ceiling`` bring it inside instead (the seed
    routes' paging: ``page=0`` means 1, ``per_page=9000`` means their maximum). Past 64 bits is always a 400.
    """
    low = INT64_MIN if low is None else max(low, INT64_MIN)
    high = INT64_MAX if high is None else min(high, INT64_MAX)
    code = code or f"INVALID_{name.upper()}"
    value: int | None = None
    if isinstance(raw, int) and not isinstance(raw, bool):
        value = raw
    elif isinstance(raw, str) and len(raw) <= 40:  # 40 characters hold any 64-bit number, signs and blanks
        try:
            value = int(raw.strip())
        except ValueError:
            value = None
    if value is not None and INT64_MIN <= value <= INT64_MAX:
        value = value if floor is None else max(floor, value)
        value = value if ceiling is None else min(ceiling, value)
        if low <= value <= high:
            return value
    shown = raw if isinstance(raw, int | float) and not isinstance(raw, bool) else repr(raw)
    shown = shown if len(str(shown)) <= 60 else f"{str(shown)[:57]}..."
    raise BadRequest(f"{name} must be a whole number from {low} to {high}, not {shown}", code=code)


def integer(
    request: web.Request,
    name: str,
    default: Any,
    *,
    low: int | None = None,
    high: int | None = None,
    floor: int | None = None,
    ceiling: int | None = None,
    code: str | None = None,
) -> Any:
    """The query parameter ``name`` as a whole number (see :func:`whole_number`); ``default`` when it is
    absent or blank (``default`` may be None: "not given")."""
    raw = request.query.get(name, "")
    if not raw.strip():
        return default
    return whole_number(raw, name, low=low, high=high, floor=floor, ceiling=ceiling, code=code)


def paging(
    request: web.Request, size_name: str, size_default: int, *, size_floor: int, size_ceiling: int | None = None
) -> tuple[int, int]:
    """``page`` (1-based; 0 and below mean 1; at most ``MAX_PAGE``) and the page size ``size_name`` (brought
    into ``size_floor``..``size_ceiling``) of a paged list; a 400 BAD_PAGING for anything else."""
    page = integer(request, "page", 1, floor=1, high=MAX_PAGE, code="BAD_PAGING")
    size = integer(request, size_name, size_default, floor=size_floor, ceiling=size_ceiling, code="BAD_PAGING")
    return page, size


def path_id(request: web.Request, name: str, *, what: str, missing_code: str, prefix: str = "") -> int:
    """A numeric id in the path (``{image_id}``, ``{user_id}``; ``prefix`` such as CyberImage's ``img_`` may
    stand before it): 400 INVALID_ID when it is no number, and the route's own 404 (``missing_code``) for a
    number no row can have (SQLite's ids are 64-bit)."""
    raw = request.match_info[name]
    text = raw.removeprefix(prefix) if prefix else raw
    try:
        value = int(text) if len(text) <= 40 and text.strip() == text else None
    except ValueError:
        value = None
    if value is None:
        shown = raw if len(raw) <= 60 else f"{raw[:57]}..."
        raise BadRequest(f"the {what} id must be a whole number, not {shown!r}", code="INVALID_ID")
    if not INT64_MIN <= value <= INT64_MAX:
        raise NotFound(f"no {what} with id {text}", code=missing_code)
    return value


def choice(request: web.Request, name: str, choices: tuple[str, ...], default: str) -> str:
    value = request.query.get(name, default).strip().lower() or default
    if value not in choices:
        shown = value if len(value) <= 60 else f"{value[:57]}..."
        raise BadRequest(f"{name} must be one of {', '.join(choices)}, not {shown!r}", code=f"INVALID_{name.upper()}")
    return value


# -- dates and times ---------------------------------------------------------------------------


def parse_timestamp(value: str | None, name: str, *, end: bool = False, code: str = "INVALID_DATE") -> float | None:
    """``value`` as epoch seconds: epoch seconds themselves, an ISO date or an ISO date-time (UTC unless it says
    otherwise), between the years 1 and 9999. A bare date as ``end`` covers that whole day. None when blank."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    when: float | None
    try:
        when = float(text) if len(text) <= 40 else None
    except ValueError:
        when = _iso_seconds(text, end=end)
    if when is None or not math.isfinite(when) or not EARLIEST <= when <= LATEST + 1:
        shown = value if len(value) <= 60 else f"{value[:57]}..."
        raise BadRequest(
            f"{name} must be epoch seconds or an ISO date from 0001-01-01 to 9999-12-31, such as 2026-01-31 or "
            f"2026-01-31T18:00:00, not {shown!r}",
            code=code,
        )
    return when


def _iso_seconds(text: str, *, end: bool) -> float | None:
    try:
        if len(text) == 10:
            day = dt.date.fromisoformat(text)
            start = dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc).timestamp()
            return start + 86400 if end else start  # the day after 9999-12-31 has no date, but has seconds
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.timezone.utc)
        return moment.timestamp()
    except (ValueError, OverflowError):  # no such date, or an offset that moves it out of years 1-9999
        return None


def timestamp(request: web.Request, name: str, *, end: bool = False) -> float | None:
    """The query parameter ``name`` as epoch seconds (see :func:`parse_timestamp`); None when absent."""
    return parse_timestamp(request.query.get(name), name, end=end)


# -- fields of a JSON body ---------------------------------------------------------------------


def text_field(
    body: Mapping[str, Any],
    name: str,
    default: Any = _NOT_GIVEN,
    *,
    max_length: int | None = None,
    code: str | None = None,
) -> Any:
    """``body[name]`` as text, stripped (``default`` when it is absent or null; a 400 when it is required, or
    is not text, or is longer than ``max_length``)."""
    value = body.get(name)
    code = code or f"INVALID_{name.upper()}"
    if value is None:
        if default is _NOT_GIVEN:
            raise BadRequest(f"{name} is required", code=code)
        return default
    if not isinstance(value, str):
        raise BadRequest(f"{name} must be text, not {_kind(value)}", code=code)
    if max_length is not None and len(value) > max_length:
        raise BadRequest(f"{name} must be at most {max_length} characters", code=code)
    return value.strip()


def bool_field(body: Mapping[str, Any], name: str, default: bool, *, code: str | None = None) -> bool:
    value = body.get(name, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise BadRequest(f"{name} must be true or false, not {_kind(value)}", code=code or f"INVALID_{name.upper()}")
    return value


def _kind(value: Any) -> str:
    """What a JSON value is, as a person would say it."""
    if isinstance(value, bool):
        return "true or false"
    names = {str: "text", int: "a number", float: "a number", list: "a list", dict: "an object"}
    return next((label for kind, label in names.items() if isinstance(value, kind)), type(value).__name__)
