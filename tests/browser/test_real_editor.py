"""ComfyUI's real editor (comfyui-frontend-package 1.32.9, not the suite's stub page) with CozyGen's extension.

One ComfyUI with auth on serves the real frontend. A browser with no session that opens the editor is sent to
CozyGen's sign-in, and after signing in the editor loads. There, a workflow of CozyGen's nodes is loaded with
the editor's own ``app.loadGraphData``, and sent through the editor's menu (CozyGen → Send to CozyGen) as a user
would click it; the phone app then lists it and generates from it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import comfyui_host
import pytest
from phone import shot, signed_in
from playwright.sync_api import Browser, Page, expect
from support import ADMIN, ADMIN_PASSWORD, AUTH_ENV

WORKFLOW = Path(__file__).resolve().parents[1] / "data" / "ui_workflows" / "cozygen_nodes.json"
READY = "window.app && app.graph && Object.keys(LiteGraph.registered_node_types).length > 100"
NAME = "sent_from_the_editor"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[comfyui_host.ComfyUI]:
    base = tmp_path_factory.mktemp("comfyui-real-editor")
    host = comfyui_host.start(base, front_end_root=comfyui_host.real_front_end_root(), env=AUTH_ENV)
    yield host
    host.stop()


def sign_in_from_the_editor(page: Page, server: comfyui_host.ComfyUI) -> None:
    """Open the editor with no session: CozyGen's sign-in, then back to the editor."""
    page.goto(f"{server.url}/")
    page.wait_for_selector("#auth")
    assert page.url == f"{server.url}/cozygen/?next=%2F"
    page.fill("#username", ADMIN)
    page.fill("#password", ADMIN_PASSWORD)
    page.click("#auth-go")
    page.wait_for_url(f"{server.url}/")


def test_the_editor_sends_to_sign_in_then_loads(server: comfyui_host.ComfyUI, browser: Browser) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    sign_in_from_the_editor(page, server)
    page.wait_for_function(READY, timeout=120_000)  # the real editor, with the host's node types
    assert "CozyGenOutput" in page.evaluate("Object.keys(LiteGraph.registered_node_types)")
    expect(page.locator(".comfy-menu-button-wrapper")).to_be_visible()
    context.close()


def test_send_to_cozygen_from_the_editors_menu_then_generate_on_the_phone(
    server: comfyui_host.ComfyUI, browser: Browser
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    sign_in_from_the_editor(page, server)
    # the first run opens the templates dialog over the canvas; a user who has seen it once does not get it
    done = page.request.post(
        f"{server.url}/api/settings/Comfy.TutorialCompleted", data="true", headers={"Origin": server.url}
    )
    assert done.status == 200, done.text()
    page.reload()
    page.wait_for_function(READY, timeout=120_000)
    data = json.loads(WORKFLOW.read_text())
    # the file's CozyGenChoice lists no choices (a required field with nothing to pick): left out to generate
    data["nodes"] = [node for node in data["nodes"] if node["type"] != "CozyGenChoice"]
    page.evaluate("async (data) => { await app.loadGraphData(data) }", data)

    prompts: list[str] = []

    def answer(dialog) -> None:  # the extension asks for a name with window.prompt
        prompts.append(dialog.message)
        dialog.accept(NAME)

    page.on("dialog", answer)
    page.locator(".comfy-menu-button-wrapper").click()  # the Comfy logo opens the editor's menu
    page.get_by_role("menuitem", name="CozyGen").hover()
    page.get_by_role("menuitem", name="Send to CozyGen").click()
    expect(page.get_by_text("Sent to CozyGen")).to_be_visible()
    assert prompts == ["Save this workflow for CozyGen as:"]
    shot(page, "real-editor-sent")
    context.close()

    filename = f"{NAME}.json"
    phone_context, phone = signed_in(browser, server, ADMIN, ADMIN_PASSWORD, ready=f'a[data-workflow="{filename}"]')
    phone.click(f'a[data-workflow="{filename}"]')
    phone.click("#go")
    progress = phone.locator("#job-progress")
    expect(progress).to_have_attribute("data-status", "completed", timeout=60_000)
    phone.wait_for_function("document.querySelector('#job-progress .results img')?.naturalWidth > 0")
    shot(phone, "real-editor-sent-generated")
    phone_context.close()
