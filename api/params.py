"""Query-string parsing shared by the routes: seed-style flags and whole numbers with clear errors."""

from __future__ import annotations

from aiohttp import web

from ..core.errors import BadRequest

TRUE_FLAGS = ("1", "true", "True")


def flag(request: web.Request, name: str, default: bool = False) -> bool:
    """A seed-style boolean flag: only 1, true and True count as true."""
    value = request.query.get(name)
    return default if value is None else value in TRUE_FLAGS


def integer(request: web.Request, name: str, default: int, *, low: int | None = None, high: int | None = None) -> int:
    raw = request.query.get(name, "")
    if raw.strip() == "":
        value = default
    else:
        try:
            value = int(raw)
        except ValueError:
            raise BadRequest(f"{name} must be a whole number, not {raw!r}", code="BAD_PAGING") from None
    if low is not None:
        value = max(low, value)
    if high is not None:
        value = min(high, value)
    return value


def choice(request: web.Request, name: str, choices: tuple[str, ...], default: str) -> str:
    value = request.query.get(name, default).strip().lower() or default
    if value not in choices:
        raise BadRequest(f"{name} must be one of {', '.join(choices)}, not {value!r}", code=f"INVALID_{name.upper()}")
    return value
