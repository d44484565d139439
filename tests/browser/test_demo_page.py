"""The page at /cozygen in a real Chromium: generate the demo image on a phone-sized screen."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

SCREENSHOTS = Path(__file__).resolve().parent.parent / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser():
    import comfyui_host

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(comfyui_host.CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def test_generate_from_a_phone(comfyui, browser) -> None:
    page = browser.new_page(viewport={"width": 390, "height": 844})
    page.goto(f"{comfyui.url}/cozygen")
    page.wait_for_function("document.getElementById('status').textContent.includes('ComfyUI 0.3.75')")
    page.fill("#seed", "5")
    page.fill("#steps", "6")
    before = set(comfyui.output_dir.rglob("*.png"))
    page.click("#go")
    page.wait_for_function("document.querySelector('#result img')?.naturalWidth === 512", timeout=30000)
    assert page.text_content("#message") == "Done."
    assert page.get_attribute("#progress", "value") == "6"
    new = set(comfyui.output_dir.rglob("*.png")) - before
    assert len(new) == 1
    src = page.get_attribute("#result img", "src")
    assert (new.pop()).name in src
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "demo-page-phone.png"), full_page=True)
    page.close()
