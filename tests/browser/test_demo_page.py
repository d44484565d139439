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


@pytest.fixture(scope="module")
def guarded(start_comfyui):
    env = {"COZYGEN_AUTH": "on", "COZYGEN_ADMIN_USER": "ada", "COZYGEN_ADMIN_PASSWORD": "ada-password"}
    return start_comfyui("ComfyUI-CozyGen-browser-auth", env=env)


def test_sign_in_then_generate_and_return_to_the_editor(guarded, browser) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.goto(f"{guarded.url}/")  # the editor: a browser without a session is sent to sign in
    page.wait_for_selector("#auth:not([hidden])")
    assert page.url == f"{guarded.url}/cozygen/?next=%2F"
    assert page.is_hidden("#form")
    page.fill("#username", "ada")
    page.fill("#password", "wrong password")
    page.click("#auth-go")
    page.wait_for_function("document.getElementById('auth-message').textContent.length > 0")
    assert page.text_content("#auth-message") == "wrong username or password"
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "sign-in-phone.png"), full_page=True)
    page.fill("#password", "ada-password")
    page.click("#auth-go")
    page.wait_for_url(f"{guarded.url}/")  # back where the user wanted to go
    assert "ComfyUI test front end" in page.content()

    page.goto(f"{guarded.url}/cozygen")  # the cookie now opens the page, the socket and /prompt
    page.wait_for_function("document.getElementById('status').textContent.includes('Sign out ada')")
    page.fill("#steps", "3")
    page.click("#go")
    page.wait_for_function("document.querySelector('#result img')?.naturalWidth === 512", timeout=30000)
    assert page.text_content("#message") == "Done."
    page.click("#sign-out")
    page.wait_for_selector("#auth:not([hidden])")
    assert context.request.get(f"{guarded.url}/cozygen/api/health").status == 401
    context.close()
