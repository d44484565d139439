"""api.webapp: hashed assets go out as their precompressed brotli or gzip copy when the client accepts it."""

from __future__ import annotations

import asyncio
import gzip
from pathlib import Path

import pytest
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer

from cozygen.api import webapp
from cozygen.core.errors import CozyGenError

SCRIPT = b"export const hello = 'cozy';\n" * 200


def test_best_encoding_follows_q_values_and_the_servers_order() -> None:
    assert webapp.best_encoding("gzip, deflate, br, zstd") == [("br", ".br"), ("gzip", ".gz")]
    assert webapp.best_encoding("gzip") == [("gzip", ".gz")]
    assert webapp.best_encoding("br;q=0, gzip") == [("gzip", ".gz")]
    assert webapp.best_encoding("br;q=0.5, gzip;q=0.9") == [("gzip", ".gz"), ("br", ".br")]
    assert webapp.best_encoding("*") == [("br", ".br"), ("gzip", ".gz")]
    assert webapp.best_encoding("*, br;q=0") == [("gzip", ".gz")]
    assert webapp.best_encoding("identity") == webapp.best_encoding("") == []
    assert webapp.best_encoding("gzip;q=junk") == []


@web.middleware
async def errors(request: web.Request, handler):
    try:
        return await handler(request)
    except CozyGenError as error:  # the guard's job in the real server
        return web.json_response({"error": str(error)}, status=error.status)


async def fetch(dist: Path, name: str, accept: str | None) -> tuple[int, dict[str, str], bytes]:
    app = web.Application(middlewares=[errors])
    app.router.add_get("/cozygen/assets/{name}", webapp.asset)
    server = TestServer(app)
    await server.start_server()
    try:
        async with ClientSession(auto_decompress=False) as session:
            headers = {"Accept-Encoding": accept} if accept is not None else {"Accept-Encoding": ""}
            async with session.get(server.make_url(f"/cozygen/assets/{name}"), headers=headers) as reply:
                return reply.status, dict(reply.headers), await reply.read()
    finally:
        await server.close()


@pytest.fixture()
def dist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    assets = tmp_path / "assets"
    assets.mkdir()
    (assets / "index-abc.js").write_bytes(SCRIPT)
    (assets / "index-abc.js.gz").write_bytes(gzip.compress(SCRIPT, 9, mtime=0))
    (assets / "index-abc.js.br").write_bytes(b"brotli bytes")  # the server sends it as it is
    (assets / "plain-abc.js").write_bytes(SCRIPT)  # no copies beside it
    monkeypatch.setattr(webapp, "DIST", tmp_path)
    return tmp_path


@pytest.mark.parametrize(
    ("accept", "encoding", "body"),
    [
        ("gzip, deflate, br", "br", b"brotli bytes"),
        ("gzip", "gzip", None),
        ("br;q=0, gzip", "gzip", None),
        ("gzip;q=0, br;q=0", None, SCRIPT),  # refused by q=0: the file as it is
        ("", None, SCRIPT),
        ("identity", None, SCRIPT),
    ],
)
def test_an_asset_goes_out_as_the_client_accepts(dist: Path, accept: str, encoding: str | None, body) -> None:
    status, headers, data = asyncio.run(fetch(dist, "index-abc.js", accept))
    assert status == 200
    assert headers.get("Content-Encoding") == encoding
    assert headers["Vary"] == "Accept-Encoding"
    assert headers["Content-Type"].startswith("text/javascript")
    assert headers["Cache-Control"] == webapp.IMMUTABLE
    if encoding == "gzip":
        assert gzip.decompress(data) == SCRIPT
    else:
        assert data == body


def test_an_asset_without_copies_and_the_copies_themselves(dist: Path) -> None:
    status, headers, data = asyncio.run(fetch(dist, "plain-abc.js", "gzip, br"))
    assert (status, headers.get("Content-Encoding"), data) == (200, None, SCRIPT)
    assert headers["Vary"] == "Accept-Encoding"
    assert asyncio.run(fetch(dist, "index-abc.js.br", "br"))[0] == 404  # only through the file they copy
