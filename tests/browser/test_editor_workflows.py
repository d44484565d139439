"""The workflows saved in ComfyUI's editor on the phone (390 px): listed under their folders, a folder that folds, one
opened as a form and run, and a file saved again in the editor meanwhile noticed (the server tells the phone, the
form reloads with the user's values and the next job runs). Screenshots: tests/screenshots/editor-workflows-
phone.png and editor-workflow-changed-phone.png."""

from __future__ import annotations

import json
import time
from pathlib import Path

import phone
import pytest
from phone import shot
from playwright.sync_api import BrowserContext, expect

ADMIN, PASSWORD = "ada", "ada-password"
DATA = Path(__file__).resolve().parent.parent / "data" / "ui_workflows"
NAME = "editor/Portraits/cozy nodes.json"


def runnable() -> bytes:
    """CozyGen's nodes in the editor's format, its Choice node muted (its choices are empty on the test host)."""
    document = json.loads((DATA / "cozygen_nodes.json").read_text())
    for node in document["nodes"]:
        if node["type"] == "CozyGenChoice":
            node["mode"] = 2
    return json.dumps(document, indent=1).encode()


@pytest.fixture(scope="module")
def server(start_comfyui):
    env = {"COZYGEN_AUTH": "on", "COZYGEN_ADMIN_USER": ADMIN, "COZYGEN_ADMIN_PASSWORD": PASSWORD}
    server = start_comfyui("ComfyUI-CozyGen-browser-editor-workflows", env=env)
    folder = server.user_dir / "default" / "workflows"
    for name in ("Portraits/cozy nodes.json", "Portraits/second.json", "Landscapes/wide.json", "loose.json"):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(runnable())
    return server


def completed(context: BrowserContext, server) -> list[dict]:
    return context.request.get(f"{server.url}/cozygen/api/jobs?status=completed").json()["jobs"]


def wait_for(check, what: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"still waiting for {what}")
        time.sleep(0.2)


def test_editor_workflows_by_folder_open_one_and_generate(server, browser) -> None:
    card = f'a[data-workflow="{NAME}"]'
    context, page = phone.signed_in(browser, server, ADMIN, PASSWORD, ready=card)
    section = page.locator("section.wf-editor")
    expect(section.locator("h3")).to_have_text("From ComfyUI's editor")
    folders = section.locator("details.wf-folder")
    expect(folders).to_have_count(2)
    assert [f.get_attribute("data-folder") for f in folders.all()] == ["Landscapes", "Portraits"]
    expect(section.locator('a[data-workflow="editor/loose.json"]')).to_be_visible()  # at the top, no folder
    portraits = section.locator('details[data-folder="Portraits"]')
    expect(portraits.locator("a.card")).to_have_count(2)
    expect(portraits.locator(card)).to_contain_text("Cozy nodes")
    wide = page.evaluate(
        "[...document.querySelectorAll('main, main *')].filter(e => e.getBoundingClientRect().right > 390.5)"
        ".map(e => e.tagName + ' ' + Math.round(e.getBoundingClientRect().right))"
    )
    assert wide == []  # nothing of the list wider than the phone
    section.locator("h3").evaluate("e => e.scrollIntoView({block: 'start'})")
    shot(page, "editor-workflows-phone")
    portraits.locator("summary").click()  # folds
    expect(portraits.locator(card)).to_be_hidden()
    portraits.locator("summary").click()
    expect(portraits.locator(card)).to_be_visible()

    path = server.user_dir / "default" / "workflows" / "Portraits" / "cozy nodes.json"
    before = path.read_bytes()
    page.click(card)
    expect(page.locator("#go")).to_be_visible()
    page.click("#go")
    wait_for(lambda: len(completed(context, server)) == 1, "the job from the editor workflow")
    assert completed(context, server)[0]["workflow"] == NAME
    assert path.read_bytes() == before  # the phone never writes the editor's file

    # saved again in the editor while the form is open: the server says so, and the form shows the new file
    # (here a field renamed) with the user's other values kept; the next job runs against it
    page.get_by_role("button", name="Hide").click()  # the result sheet of the first job
    page.fill("#f-number", "7")
    document = json.loads(before)
    next(n for n in document["nodes"] if n["type"] == "CozyGenString")["widgets_values"][0] = "caption"
    path.write_text(json.dumps(document, indent=1))
    expect(page.get_by_text("Updated from ComfyUI's editor")).to_be_visible()
    expect(page.locator("#f-caption")).to_be_visible()
    expect(page.locator("#f-text")).to_have_count(0)
    expect(page.locator("#f-number")).to_have_value("7")
    shot(page, "editor-workflow-changed-phone")
    page.click("#go")
    wait_for(lambda: len(completed(context, server)) == 2, "the job after the reload")
    assert completed(context, server)[0]["params"]["number"] == 7
    context.close()
