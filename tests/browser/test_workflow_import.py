"""Workflows from anywhere on a phone (issue 17, items 7 and 8): the viewer's "Open as workflow" opens an image's
embedded workflow as a form, Import takes pasted JSON (a bad paste shows the server's error naming the node), and
All settings edits a node's widget that then reaches the job. Screenshots: tests/screenshots/import-*.png."""

from __future__ import annotations

import json
import re
import time

import phone
import pytest
from phone import shot, signed_in
from playwright.sync_api import Browser, expect
from support import ADMIN, ADMIN_PASSWORD, AUTH_ENV

FORM = "cozygen_procedural_form.json"
UI_WORKFLOW = {
    "last_node_id": 2,
    "last_link_id": 1,
    "nodes": [
        {
            "id": 1,
            "type": "CozyGenProceduralImage",
            "mode": 0,
            "inputs": [],
            "outputs": [{"name": "IMAGE", "type": "IMAGE", "links": [1]}],
            "widgets_values": [64, 64, 7, "fixed", "pasted on a phone", 2, 1],
        },
        {
            "id": 2,
            "type": "CozyGenOutput",
            "mode": 0,
            "inputs": [{"name": "images", "type": "IMAGE", "link": 1}],
            "outputs": [],
            "widgets_values": ["CozyGen/pasted"],
        },
    ],
    "links": [[1, 1, 0, 2, 0, "IMAGE"]],
    "extra": {},
    "version": 0.4,
}


@pytest.fixture(scope="module")
def server(start_comfyui):
    return start_comfyui("ComfyUI-CozyGen-workflow-import", env=AUTH_ENV)


def test_open_an_images_workflow_import_by_paste_and_edit_all_settings(server, browser: Browser) -> None:
    context, page = signed_in(browser, server, ADMIN, ADMIN_PASSWORD)
    try:
        phone.finished_job(context, server, FORM, {"prompt": "a lantern on the phone", "steps": 2, "size": 64})

        # the viewer: Open as workflow -> the image's own workflow as a form, with what made it
        page.goto(f"{server.url}/cozygen/gallery")
        tile = page.locator("#gallery-grid .tile").first
        expect(tile).to_be_visible(timeout=15000)
        tile.click()
        opener = page.locator("#viewer-open-workflow")
        expect(opener).to_be_visible(timeout=10000)
        shot(page, "import-viewer-open-as-workflow")
        opener.click()
        expect(page).to_have_url(re.compile(r"/cozygen/generate/form_\d+\.json$"))
        expect(page.locator("#go")).to_be_enabled()
        expect(page.locator("#f-prompt")).to_have_value("a lantern on the phone")
        shot(page, "import-image-workflow-form")

        # import by paste: a bad paste first (the server's message names the node), then the editor's file
        page.goto(f"{server.url}/cozygen/")
        page.click("#import-open")
        expect(page.locator("#import-workflow")).to_be_visible()
        broken = json.loads(json.dumps(UI_WORKFLOW))
        broken["nodes"][0]["widgets_values"] = [64]
        page.fill("#import-text", json.dumps(broken))
        page.click("#import-go")
        expect(page.locator("#import-error")).to_contain_text("node 1")
        shot(page, "import-paste-refused")
        page.fill("#import-name", "Pasted flow")
        page.fill("#import-text", json.dumps(UI_WORKFLOW))
        page.click("#import-go")
        expect(page).to_have_url(re.compile(r"/cozygen/generate/Pasted%20flow\.json$"))
        expect(page.locator("#go")).to_be_enabled()

        # all settings: every node's widgets; change the output's file prefix and generate
        page.click("#all-settings-open")
        sheet = page.locator("#all-settings")
        expect(sheet.locator('details[data-node="2"]')).to_be_visible()
        expect(sheet.locator('details[data-node="1"] summary')).to_contain_text("#1")
        sheet.locator('details[data-node="2"] summary').click()
        prefix = sheet.locator("#f-2_filename_prefix")
        expect(prefix).to_have_value("CozyGen/pasted")
        prefix.fill("CozyGen/allsettings")
        sheet.locator('details[data-node="1"] summary').click()
        expect(sheet.locator("#f-1_text")).to_have_value("pasted on a phone")
        shot(page, "import-all-settings")
        # a value the server refuses: the sheet opens again with the message under that node's field
        sheet.locator("#f-1_width").fill("8")
        sheet.locator("button.primary").click()
        expect(sheet).to_be_hidden()
        page.click("#go")
        expect(sheet).to_be_visible()
        expect(sheet.locator('[data-error-for="1.width"]')).to_contain_text("16")
        shot(page, "import-all-settings-error")
        sheet.locator("#f-1_width").fill("64")
        sheet.locator("button.primary").click()
        expect(sheet).to_be_hidden()
        expect(page.locator("#all-settings-open")).to_have_attribute("aria-pressed", "true")
        page.click("#go")
        expect(page.locator("#job-progress")).to_have_attribute("data-status", "completed", timeout=60000)
        shot(page, "import-all-settings-result")
        deadline = time.monotonic() + 10
        while not list((server.output_dir / "CozyGen").glob("allsettings_*.png")):
            assert time.monotonic() < deadline, "the node setting did not reach the job"
            time.sleep(0.1)
    finally:
        context.close()
