"""Workflow cards, folder tiles and the history link of a push notification, in headless Chromium at a phone's
size (390×844): a card shows its workflow's newest output (a tinted placeholder otherwise), a folder tile a
mosaic of its newest images, and /cozygen/history?job=<id> opens that job's image with its row marked.
Screenshots: tests/screenshots/cards-*.png."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import phone
import pytest
from phone import shot
from playwright.sync_api import Browser, BrowserContext, Page, Route, expect

WORKFLOW = "cozygen_procedural_form.json"
ADMIN, PASSWORD = "ada", "ada-password"


@pytest.fixture(scope="module")
def server(start_comfyui):
    env = {"COZYGEN_AUTH": "on", "COZYGEN_ADMIN_USER": ADMIN, "COZYGEN_ADMIN_PASSWORD": PASSWORD}
    return start_comfyui("ComfyUI-CozyGen-cards-browser", env=env)


def make_job(context: BrowserContext, server, prompt: str) -> dict[str, Any]:
    """A finished job of the form whose image the index holds (it is its workflow's latest)."""
    reply = context.request.post(
        f"{server.url}/cozygen/api/jobs",
        data={"workflow": WORKFLOW, "values": {"prompt": prompt, "steps": 2, "size": 128}},
        headers={"Origin": server.url},
    )
    assert reply.status == 201, reply.text()
    job_id, found = reply.json()["job"]["id"], {}
    for _ in range(600):
        found = context.request.get(f"{server.url}/cozygen/api/jobs/{job_id}").json()["job"]
        latest = context.request.get(f"{server.url}/cozygen/workflows?warnings=1").json()["latest"]
        if (
            found["status"] == "completed"
            and latest.get(WORKFLOW, {}).get("filename") == found["images"][0]["filename"]
        ):
            return found
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} never showed as its workflow's newest output: {found}")


@pytest.fixture(scope="module")
def job(server, browser) -> dict[str, Any]:
    """One finished job of the form, indexed by the gallery."""
    context, _ = signed_in(browser, server)
    try:
        return make_job(context, server, "a folder's newest")
    finally:
        context.close()


def signed_in(browser: Browser, server) -> tuple[BrowserContext, Page]:
    return phone.signed_in(browser, server, ADMIN, PASSWORD)


def loaded(page: Page, selector: str) -> None:
    """Until every image the selector names has loaded (a real thumbnail, not a broken one)."""
    page.wait_for_function(
        "s => { const all = [...document.querySelectorAll(s)]; return all.length > 0 && "
        "all.every(i => i.complete && i.naturalWidth > 0); }",
        arg=selector,
    )


def test_workflow_card_shows_its_newest_output(server, browser, job) -> None:
    context, page = signed_in(browser, server)
    card = page.locator(f'a[data-workflow="{WORKFLOW}"]')
    image = card.locator(".thumbph img")
    expect(image).to_have_attribute("data-latest", job["images"][0]["filename"])
    loaded(page, f'a[data-workflow="{WORKFLOW}"] .thumbph img')
    others = page.locator(f'a.card.wf:not([data-workflow="{WORKFLOW}"])')
    assert others.count() > 0  # the other shipped workflows: nothing made with them yet
    expect(others.first.locator(".wf-ph b")).to_have_text(re.compile(r"^\S$"))  # the tinted tile, its initial
    expect(page.locator("a.card.wf img")).to_have_count(1)
    for warning in page.locator("a.card.wf .warn").all_inner_texts():  # models read as names, not paths
        assert ".safetensors" not in warning and "/" not in warning, warning
    shot(page, "cards-workflows")
    context.close()


def test_folder_tile_shows_its_newest_images(server, browser, job) -> None:
    context, page = signed_in(browser, server)
    page.locator("nav.tabs a", has_text="Gallery").click()
    page.get_by_role("button", name="Folders").click()
    folder = job["images"][0]["subfolder"]
    tile = page.locator(f'button.tile.folder[data-folder="{folder}"]')
    expect(tile.locator(".mosaic img")).to_have_count(1)
    loaded(page, f'button.tile.folder[data-folder="{folder}"] .mosaic img')
    expect(tile.locator(".folder-name")).to_have_text(folder)
    shot(page, "cards-gallery-folder-one")

    for n in range(4):  # a fuller folder: the mosaic of its 4 newest
        make_job(context, server, f"more {n}")
    for _ in range(100):
        if len(context.request.get(f"{server.url}/cozygen/api/gallery").json()["items"][0]["preview"]) == 4:
            break
        time.sleep(0.1)
    page.reload()
    page.get_by_role("button", name="Folders").click()
    expect(tile.locator(".mosaic.n4 img")).to_have_count(4)
    loaded(page, f'button.tile.folder[data-folder="{folder}"] .mosaic img')
    shot(page, "cards-gallery-folders")
    context.close()


def test_history_link_opens_the_job_and_marks_it(server, browser, job) -> None:
    context, page = signed_in(browser, server)
    page.goto(f"{server.url}/cozygen/history?job={job['id']}")
    expect(page.locator("#viewer")).to_be_visible()  # a "your image is ready" tap lands on the image
    loaded(page, "#viewer img")
    shot(page, "cards-history-viewer")
    page.keyboard.press("Escape")
    expect(page.locator("#viewer")).to_have_count(0)
    row = page.locator(f'li.job[data-job="{job["id"]}"]')
    expect(row).to_have_class(r"card job highlight")
    expect(row).to_have_attribute("aria-current", "true")
    expect(row).to_be_in_viewport()
    shot(page, "cards-history")

    # a job older than the first page: fetched by id (the list answers without it here)
    def without_jobs(route: Route) -> None:
        if "limit=30" in route.request.url:
            route.fulfill(
                status=200, content_type="application/json", body=json.dumps({"jobs": [], "next_cursor": None})
            )
        else:
            route.continue_()

    page.route("**/cozygen/api/jobs?*", without_jobs)
    page.goto(f"{server.url}/cozygen/history?job={job['id']}")
    expect(page.locator("#viewer")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator(f'li.job[data-job="{job["id"]}"].highlight')).to_be_visible()
    page.unroute("**/cozygen/api/jobs?*", without_jobs)

    page.goto(f"{server.url}/cozygen/history?job=no-such-job-or-someone-elses")
    expect(page.locator(".linked-note")).to_contain_text("not found")
    expect(page.locator("#viewer")).to_have_count(0)
    expect(page.locator("li.job.highlight")).to_have_count(0)
    shot(page, "cards-history-not-found")
    context.close()
