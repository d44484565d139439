"""Serving the web app: the shell, hashed assets, PWA files and client-side routes, under both prefixes."""

from __future__ import annotations

import json
import re
import struct

import pytest
from support import PROJECT, get

PREFIXES = ["", "/api"]
CLIENT_ROUTES = [
    "/cozygen/gallery",
    "/cozygen/gallery?subfolder=CozyGen",
    "/cozygen/generate/cozygen_procedural_form.json",
    "/cozygen/history",
    "/cozygen/queue",
    "/cozygen/settings",
]
IMMUTABLE = "public, max-age=31536000, immutable"


def shell_assets(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="(/cozygen/assets/[^"]+)"', html)


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize("path", CLIENT_ROUTES)
def test_client_side_routes_get_the_shell(comfyui, prefix: str, path: str) -> None:
    reply = get(f"{comfyui.url}{prefix}{path}")
    assert reply.status == 200 and reply.content_type == "text/html"
    assert reply.headers["Cache-Control"] == "no-cache"
    assert reply.body == (PROJECT / "web" / "dist" / "index.html").read_bytes()


def test_hashed_assets_are_cached_for_a_year(comfyui) -> None:
    html = get(f"{comfyui.url}/cozygen/").body.decode()
    assets = shell_assets(html)
    assert any(a.endswith(".js") for a in assets) and any(a.endswith(".css") for a in assets)
    for asset in assets:
        reply = get(f"{comfyui.url}{asset}")
        assert reply.status == 200, asset
        assert reply.headers["Cache-Control"] == IMMUTABLE
        assert reply.content_type == ("text/javascript" if asset.endswith(".js") else "text/css")
        assert re.search(r"-[A-Za-z0-9_-]{8}\.(js|css)$", asset), "asset names carry a content hash"


@pytest.mark.parametrize("name", ["missing-0000.js", "..%2Findex.html", ".hidden", "a%00b.js", "sub/dir.js"])
def test_unknown_or_unsafe_asset_names_are_404_json(comfyui, name: str) -> None:
    reply = get(f"{comfyui.url}/cozygen/assets/{name}")
    assert reply.status == 404 and reply.content_type == "application/json"
    assert reply.json()["code"] == "NOT_FOUND"


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_pwa_files(comfyui) -> None:
    sw = get(f"{comfyui.url}/cozygen/sw.js")
    assert sw.status == 200 and sw.content_type == "text/javascript"
    assert sw.headers["Cache-Control"] == "no-cache"
    assert b"/cozygen/" in sw.body and b"(api|compat)" in sw.body  # never caches the API
    reply = get(f"{comfyui.url}/cozygen/manifest.webmanifest")
    assert reply.status == 200 and reply.content_type == "application/manifest+json"
    manifest = json.loads(reply.body)
    assert manifest["start_url"] == "/cozygen/" and manifest["scope"] == "/cozygen/"
    assert manifest["display"] == "standalone"
    sizes = {}
    for icon in manifest["icons"]:
        got = get(f"{comfyui.url}{icon['src']}")
        assert got.status == 200, icon["src"]
        if icon["type"] == "image/png":
            sizes[(icon["sizes"], icon["purpose"])] = png_size(got.body)
    assert sizes == {
        ("192x192", "any"): (192, 192),
        ("512x512", "any"): (512, 512),
        ("512x512", "maskable"): (512, 512),
    }
    assert get(f"{comfyui.url}/cozygen/icon.svg").content_type == "image/svg+xml"


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize(
    "path", ["/cozygen/api/no-such-route", "/cozygen/api", "/cozygen/compat/nobody/api/x", "/cozygen/nothing.js"]
)
def test_unknown_api_and_file_paths_are_404_json_not_the_shell(comfyui, prefix: str, path: str) -> None:
    reply = get(f"{comfyui.url}{prefix}{path}")
    assert reply.status == 404 and reply.content_type == "application/json"
    assert reply.json()["code"] == "NOT_FOUND"


@pytest.mark.parametrize("path", ["/cozygen/hello", "/cozygen/workflows", "/cozygen/api/gallery", "/cozygen/input"])
def test_the_fallback_shadows_no_route(comfyui, path: str) -> None:
    reply = get(f"{comfyui.url}{path}")
    assert reply.status == 200 and reply.content_type == "application/json"
