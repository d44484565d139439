"""Registering CozyGen's routes on ComfyUI's table, each wrapped in the error handler."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from .responses import Handler, handler


class Routes:
    """A thin front for an aiohttp ``RouteTableDef``: ``@routes.get(path)`` and friends.

    Every handler registered through it gets the shared error envelope, and the
    list of (method, path) pairs is kept for the spec check.
    """

    def __init__(self, table: web.RouteTableDef) -> None:
        self.table = table
        self.registered: list[tuple[str, str]] = []

    def route(self, method: str, path: str, **kwargs: Any) -> Callable[[Handler], Handler]:
        def register(fn: Handler) -> Handler:
            self.table.route(method, path, **kwargs)(handler(fn))
            self.registered.append((method, path))
            return fn

        return register

    def get(self, path: str, **kwargs: Any) -> Callable[[Handler], Handler]:
        return self.route("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Callable[[Handler], Handler]:
        return self.route("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> Callable[[Handler], Handler]:
        return self.route("PUT", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> Callable[[Handler], Handler]:
        return self.route("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Callable[[Handler], Handler]:
        return self.route("DELETE", path, **kwargs)
