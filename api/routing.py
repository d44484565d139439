"""Registering CozyGen's routes on ComfyUI's table, each wrapped in the error handler."""

from __future__ import annotations

import re
from collections.abc import Callable

from aiohttp import web

from ..core.accounts.access import LEVELS
from .responses import Handler, handler

_REGEX_PART = re.compile(r"\{(\w+):[^}]*\}")


def canonical(path: str) -> str:
    """A route template as aiohttp names it (``/x/{rest:.*}`` is ``/x/{rest}``): the guard looks it up so."""
    return _REGEX_PART.sub(r"{\1}", path)


class Routes:
    """A thin front for an aiohttp ``RouteTableDef``: ``@routes.get(path)`` and friends.

    Every handler registered through it gets the shared error envelope, and must
    declare who may call it (``access``: public, viewer, user or admin); the
    guard middleware reads these declarations, and the spec check the list.
    """

    def __init__(self, table: web.RouteTableDef) -> None:
        self.table = table
        self.access: dict[tuple[str, str], str] = {}

    @property
    def registered(self) -> list[tuple[str, str]]:
        return list(self.access)

    def route(self, method: str, path: str, *, access: str) -> Callable[[Handler], Handler]:
        if access not in LEVELS:
            raise ValueError(f"unknown access level {access!r} for {method} {path}")

        def register(fn: Handler) -> Handler:
            self.table.route(method, path)(handler(fn))
            self.access[(method, canonical(path))] = access
            return fn

        return register

    def get(self, path: str, *, access: str) -> Callable[[Handler], Handler]:
        return self.route("GET", path, access=access)

    def post(self, path: str, *, access: str) -> Callable[[Handler], Handler]:
        return self.route("POST", path, access=access)

    def put(self, path: str, *, access: str) -> Callable[[Handler], Handler]:
        return self.route("PUT", path, access=access)

    def patch(self, path: str, *, access: str) -> Callable[[Handler], Handler]:
        return self.route("PATCH", path, access=access)

    def delete(self, path: str, *, access: str) -> Callable[[Handler], Handler]:
        return self.route("DELETE", path, access=access)
