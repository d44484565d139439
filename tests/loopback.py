"""An aiohttp application served on loopback sockets from a thread of its own: how the fake services the tests talk
to over real sockets run (the model server of tests/model_server.py, the partner API of tests/partner_server.py)."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web


@dataclass(frozen=True)
class Seen:
    """A request a fake server received (tests assert what CozyGen or ComfyUI sent)."""

    method: str
    path: str
    query: str
    headers: dict[str, str]  # names lowercased
    body: Any = None  # the JSON body, where the server reads one


def bound(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A TCP socket bound to ``host`` (on a port the system picks unless given), ready for :meth:`Served.start`."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock


class Served:
    """One application on one or more sockets, its event loop in a daemon thread named ``name``.

    ``make_app`` runs in that loop (so what it creates belongs to it); ``on_stop`` runs there before the shutdown
    (to let held responses end, or the shutdown waits for them).
    """

    def __init__(self, name: str, on_stop: Callable[[], Awaitable[None]] | None = None) -> None:
        self.name = name
        self.loop: asyncio.AbstractEventLoop | None = None
        self._on_stop = on_stop
        self._thread: threading.Thread | None = None

    def start(self, make_app: Callable[[], web.Application], socks: list[socket.socket]) -> None:
        loop = self.loop = asyncio.new_event_loop()
        ready, failed = threading.Event(), []

        async def serve() -> web.AppRunner:
            runner = web.AppRunner(make_app(), access_log=None, handle_signals=False)
            await runner.setup()
            for sock in socks:
                await web.SockSite(runner, sock).start()
            return runner

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                runner = loop.run_until_complete(serve())
            except BaseException as exc:  # told to the starting thread below
                failed.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            if self._on_stop is not None:
                loop.run_until_complete(self._on_stop())
            loop.run_until_complete(runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=run, name=self.name, daemon=True)
        self._thread.start()
        if not ready.wait(30) or failed:
            raise RuntimeError(f"the {self.name} did not start: {failed[0] if failed else 'no answer in 30 s'}")

    def call(self, callback: Callable[[], object]) -> None:
        """Run ``callback`` in the server's loop (from any thread); nothing when the server is not running."""
        if self.loop is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(callback)

    def stop(self) -> None:
        if self.loop is not None and self._thread is not None:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(30)
