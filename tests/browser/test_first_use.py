"""A first-time user on a phone (issue 16): each tap on the demo gives a new image, the workflow list comes in one
request with its warnings, and the app's scripts and styles arrive compressed.

One ComfyUI with auth on, headless Chromium at a phone's size.
"""

from __future__ import annotations

import hashlib
import time
import urllib.error
import urllib.request
from pathlib import Path

import phone
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

DEMO = "cozygen_procedural_form.json"
ADMIN, PASSWORD = "ada", "ada-password"
DIST = Path(__file__).resolve().parent.parent.parent / "web" / "dist"


@pytest.fixture(scope="module")
def server(start_comfyui):
    env = {"COZYGEN_AUTH": "on", "COZYGEN_ADMIN_USER": ADMIN, "COZYGEN_ADMIN_PASSWORD": PASSWORD}
    return start_comfyui("ComfyUI-CozyGen-first-use", env=env)


def signed_in(browser: Browser, server) -> tuple[BrowserContext, Page]:
    return phone.signed_in(browser, server, ADMIN, PASSWORD, ready=f'a[data-workflow="{DEMO}"]')


def new_images(server, before: set[Path], count: int, timeout: float = 60.0) -> list[Path]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = sorted(set(server.output_dir.rglob("*.png")) - before)
        if len(found) >= count:
            return found
        time.sleep(0.25)
    raise AssertionError(f"expected {count} new images, found {len(found)}")


@pytest.mark.parametrize("workflow", [DEMO, "cozygen_procedural_demo.json"])  # a form, and a graph's own seed
def test_each_tap_on_the_demo_gives_a_new_image(server, browser, workflow: str) -> None:
    context, page = signed_in(browser, server)
    page.click(f'a[data-workflow="{workflow}"]')
    expect(page.locator("#f-seed-random")).to_be_checked()  # "new random seed" is on for the demo
    before = set(server.output_dir.rglob("*.png"))
    page.click("#go")
    first = new_images(server, before, 1)
    page.reload()  # the same form again with its default values (whatever the result view covers)
    expect(page.locator("#go")).to_be_enabled()
    page.click("#go")
    both = new_images(server, before, 2)
    digests = {hashlib.sha256(p.read_bytes()).hexdigest() for p in both}
    assert len(both) == 2 and len(digests) == 2 and first[0] in both  # two files, two different images
    deadline = time.monotonic() + 15  # and both are in the gallery, once its watcher indexed them
    while True:
        items = page.request.get(f"{server.url}/cozygen/api/gallery?subfolder=CozyGen&per_page=100")
        names = {i.get("filename") for i in items.json().get("items", [])}
        if {p.name for p in both} <= names or time.monotonic() > deadline:
            break
        time.sleep(0.25)
    assert {p.name for p in both} <= names, names
    context.close()


def test_the_workflow_list_comes_with_its_warnings_in_one_request(server, browser) -> None:
    context, page = signed_in(browser, server)
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if "/cozygen/" in r.url and "/check" in r.url else None)
    page.reload()
    expect(page.locator(f'a[data-workflow="{DEMO}"]')).to_be_visible()
    listing = page.request.get(f"{server.url}/cozygen/workflows?warnings=1").json()
    assert DEMO in listing["workflows"] and listing["warnings"][DEMO]["ok"] is True
    lacking = listing["warnings"]["sd15_txt2img.json"]  # this server has no checkpoints
    assert lacking["ok"] is False and lacking["missing_models"]
    assert set(page.request.get(f"{server.url}/cozygen/workflows").json()) == {"workflows"}  # the seed's shape
    page.wait_for_timeout(500)
    assert asked == []  # no check per workflow
    context.close()


def test_scripts_and_styles_arrive_compressed(server) -> None:
    names = sorted(p.name for p in (DIST / "assets").iterdir() if p.suffix in (".js", ".css"))
    assert names, "web/dist has no assets: run npm run build in web/app"
    assert all((DIST / "assets" / f"{n}.br").is_file() for n in names), "rebuild web/dist (npm run build)"
    for name in names:
        raw = (DIST / "assets" / name).read_bytes()
        for accept, coding in (("gzip, deflate, br", "br"), ("gzip", "gzip"), ("identity", None), ("br;q=0", None)):
            request = urllib.request.Request(f"{server.url}/cozygen/assets/{name}", headers={"Accept-Encoding": accept})
            with urllib.request.urlopen(request, timeout=10) as reply:
                body = reply.read()
                assert reply.headers.get("Content-Encoding") == coding, (name, accept)
                assert reply.headers.get("Vary") == "Accept-Encoding"
            if coding is None:
                assert body == raw
            else:
                assert len(body) < len(raw) / 2


def test_server_stats_for_anyone_signed_in_without_paths(server, browser) -> None:
    context, page = signed_in(browser, server)
    reply = page.request.get(f"{server.url}/cozygen/api/system/stats")
    assert reply.status == 200
    stats = reply.json()
    assert stats["devices"] and stats["devices"][0]["type"] in ("cpu", "cuda", "mps", "xpu")
    assert stats["comfyui_version"] and stats["cozygen_version"] and set(stats["queue"]) == {"running", "pending"}
    assert str(server.base) not in reply.text() and "argv" not in stats
    page.goto(f"{server.url}/cozygen/settings")
    expect(page.locator("#server-queue")).to_contain_text("running")
    expect(page.locator("#server-stats")).to_contain_text(stats["devices"][0]["name"])
    context.close()
    with pytest.raises(urllib.error.HTTPError) as refused:  # not signed in
        urllib.request.urlopen(f"{server.url}/cozygen/api/system/stats", timeout=10)
    assert refused.value.code == 401
    refused.value.close()
