"""Backends in the phone app (390 px), against two real ComfyUI servers (this one with CozyGen, one plain): an admin
adds the plain one from Settings → Backends (tested before saving), sees its health and what it lacks, sets this
ComfyUI's jobs at once and tags, pins a workflow to a backend (changed, removed), pins a job and a series to it from
the generate form, sees the job's backend in the queue and history, stores a token that is never shown again,
disables and removes it. Screenshots: tests/screenshots/backends-*.png."""

from __future__ import annotations

import time
from collections.abc import Iterator

import comfyui_host
import phone
import pytest
from phone import shot
from playwright.sync_api import Browser, BrowserContext, Page, expect

ADMIN, PASSWORD = "ada", "ada-password"
WORKFLOW = "cozygen_plain_blur.json"
TOKEN = "attic-token-never-shown"


@pytest.fixture(scope="module")
def server(start_comfyui):
    env = {"COZYGEN_AUTH": "on", "COZYGEN_ADMIN_USER": ADMIN, "COZYGEN_ADMIN_PASSWORD": PASSWORD}
    return start_comfyui("ComfyUI-CozyGen-browser-backends", env=env)


@pytest.fixture(scope="module")
def plain(tmp_path_factory) -> Iterator[comfyui_host.ComfyUI]:
    """Another machine's ComfyUI: no CozyGen in its custom_nodes."""
    other = comfyui_host.start(tmp_path_factory.mktemp("plain-backend"), folder_name=None)
    yield other
    other.stop()


def signed_in(browser: Browser, server) -> tuple[BrowserContext, Page]:
    return phone.signed_in(browser, server, ADMIN, PASSWORD)


def listed(context: BrowserContext, server) -> dict[str, dict]:
    found = context.request.get(f"{server.url}/cozygen/api/backends").json()["backends"]
    return {b["name"]: b for b in found}


def wait_for(check, what: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"still waiting for {what}")
        time.sleep(0.2)


def fits(page: Page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing wider than the phone


def test_an_admin_adds_a_backend_pins_a_job_to_it_and_removes_it(server, plain, browser) -> None:
    context, page = signed_in(browser, server)
    page.goto(f"{server.url}/cozygen/settings")
    page.click("#backends-open")
    local = page.locator('li.backend[data-backend="local"]')
    expect(local).to_contain_text("This ComfyUI")
    expect(local.locator(".bk-state")).to_have_text("up", timeout=30_000)

    # add the plain ComfyUI: tried before it is saved, then listed with its health
    page.click("#backend-add")
    page.fill("#bk-new-name", "attic")
    page.fill("#bk-new-url", "ftp://attic.local/")
    page.click(".backend-form-save")
    expect(page.locator(".backend-form .error")).to_be_visible()  # a bad address: refused, nothing saved
    assert "attic" not in listed(context, server)
    page.fill("#bk-new-url", plain.url)
    page.fill("#bk-new-tags", "cpu, Attic")
    page.click(".backend-form-try")
    expect(page.locator(".backend-form-test")).to_contain_text("Answered: ComfyUI")
    page.click(".backend-form-save")
    card = page.locator("li.backend", has_text="attic")
    expect(card).to_be_visible()
    expect(card.locator(".bk-state")).to_have_text("up", timeout=60_000)
    expect(card.locator(".kind")).to_have_text(["cpu", "attic"])
    expect(card.locator(".backend-url")).to_have_text(plain.url)
    card.locator(".backend-lacks-btn").click()
    lacks = card.locator(".backend-lacks")
    expect(lacks).to_contain_text("CozyGen procedural form: node CozyGenProceduralImage")  # a node only CozyGen has
    expect(lacks).not_to_contain_text("plain blur")  # core nodes and CozyGen's inputs: it can run that one
    fits(page)
    shot(page, "backends-phone")
    attic_id = listed(context, server)["attic"]["id"]

    # this ComfyUI's own row: only jobs at once and tags (and enabled, the toggle) can change
    local.locator(".backend-edit").click()
    expect(local.locator(".backend-local-hint")).to_be_visible()
    expect(page.locator("#bk-local-url")).to_have_count(0)
    expect(local.locator(".backend-form-try")).to_have_count(0)
    page.fill("#bk-local-max", "2")
    page.fill("#bk-local-tags", "GPU, sdxl")
    fits(page)
    shot(page, "backends-local-edit-phone")
    local.locator(".backend-form-save").click()
    expect(local.locator(".kind")).to_have_text(["gpu", "sdxl"])
    expect(local.locator(".backend-queue")).to_contain_text("up to 2 at once")
    mine = listed(context, server)["local"]
    assert (mine["max_jobs"], mine["tags"], mine["enabled"]) == (2, ["gpu", "sdxl"], True)
    local.locator(".backend-edit").click()
    page.fill("#bk-local-max", "1")
    page.fill("#bk-local-tags", "")
    local.locator(".backend-form-save").click()
    expect(local.locator(".kind")).to_have_count(0)
    assert listed(context, server)["local"]["max_jobs"] == 1

    # a workflow pinned to the attic, moved to this ComfyUI, then unpinned
    pins = page.locator(".backend-pins")
    expect(pins.locator(".backend-pins-none")).to_be_visible()
    page.select_option("#pin-new-workflow", WORKFLOW)
    page.select_option("#pin-new-backend", attic_id)
    pins.locator(".pin-add-btn").click()
    row = pins.locator(f'li.pin[data-workflow="{WORKFLOW}"]')
    expect(row).to_be_visible()
    expect(row.locator("select")).to_have_value(attic_id)
    expect(page.locator(f'#pin-new-workflow option[value="{WORKFLOW}"]')).to_have_count(0)  # pinned once only
    assert pinned(context, server) == {WORKFLOW: attic_id}
    page.reload()  # kept by the server (and no toasts or open lists in the picture)
    expect(row.locator("select")).to_have_value(attic_id)
    pins.locator(".pin-add-btn").scroll_into_view_if_needed()
    page.mouse.wheel(0, 400)  # the whole card above the tab bar
    fits(page)
    shot(page, "backends-pins-phone")
    row.locator("select").select_option("local")
    wait_for(lambda: pinned(context, server) == {WORKFLOW: "local"}, "the pin moved to this ComfyUI", timeout=15)
    row.locator(".pin-remove").click()
    expect(pins.locator(".backend-pins-none")).to_be_visible()
    assert pinned(context, server) == {}

    # the generate form offers Any or one backend; a job pinned to the plain one runs there
    page.goto(f"{server.url}/cozygen/generate/{WORKFLOW}")
    picker = page.locator("#backend")
    expect(picker).to_be_visible()
    expect(picker.locator("option")).to_have_count(3)
    expect(picker.locator("option").first).to_have_text("Any")
    page.fill("#f-size", "2048")  # a few seconds of CPU: the queue can show it running
    page.fill("#f-blur_radius", "31")
    picker.select_option(attic_id)
    page.locator("#backend-hint").scroll_into_view_if_needed()
    page.mouse.wheel(0, 400)  # above the sticky Generate button
    fits(page)
    shot(page, "backends-generate-phone")
    before = {j["id"] for j in jobs(context, server)}
    page.click("#go")
    wait_for(lambda: any(j["backend"]["id"] == attic_id for j in jobs(context, server)), "the pinned job")
    job = next(j for j in jobs(context, server) if j["backend"]["id"] == attic_id)
    page.goto(f"{server.url}/cozygen/queue")
    if job["status"] in ("pending", "running"):  # still there: its row names the backend
        row = page.locator(f'li.job[data-job="{job["id"]}"]')
        expect(row.locator(".job-backend")).to_have_text("on attic")
        shot(page, "backends-queue-phone")
    wait_for(lambda: done(context, server, job["id"]), "the job on the plain backend")
    page.goto(f"{server.url}/cozygen/history")
    row = page.locator(f'li.job[data-job="{job["id"]}"]')
    expect(row.locator(".job-backend")).to_have_text("on attic")
    expect(row.locator(".status")).to_have_text("completed")
    fits(page)
    shot(page, "backends-history-phone")

    # "Run on" holds for a series too: each of its jobs runs on the attic
    before |= {job["id"]}
    page.goto(f"{server.url}/cozygen/generate/{WORKFLOW}")
    page.fill("#f-size", "256")
    page.fill("#f-blur_radius", "3")
    page.locator("#backend").select_option(attic_id)
    page.select_option("#repeat", "2")
    page.click("#go")

    def series() -> list[dict]:
        return [j for j in jobs(context, server) if j["id"] not in before]

    wait_for(lambda: len(series()) == 2 and all(done(context, server, j["id"]) for j in series()), "the series")
    assert [j["backend"]["id"] for j in series()] == [attic_id, attic_id]

    # a token: stored, never answered, the form says one is kept
    page.goto(f"{server.url}/cozygen/settings/backends")
    card = page.locator("li.backend", has_text="attic")
    card.locator(".backend-edit").click()
    page.select_option(f"#bk-{attic_id}-auth", "bearer")
    page.fill(f"#bk-{attic_id}-secret", TOKEN)
    card.locator(".backend-form-save").click()
    expect(card.locator(".backend-form")).to_have_count(0)
    answer = context.request.get(f"{server.url}/cozygen/api/backends").text()
    assert TOKEN not in answer and listed(context, server)["attic"]["has_secret"] is True
    card.locator(".backend-edit").click()
    expect(page.locator(f"#bk-{attic_id}-secret")).to_have_value("")
    expect(page.locator(f"#bk-{attic_id}-secret")).to_have_attribute("placeholder", "Stored: type to replace it")
    card.get_by_role("button", name="Cancel").click()

    # disabled: no new jobs there, and the form offers no choice with one backend left
    card.locator(".backend-toggle").click()
    expect(card.locator(".bk-state")).to_have_text("disabled")
    assert listed(context, server)["attic"]["enabled"] is False
    page.goto(f"{server.url}/cozygen/generate/{WORKFLOW}")
    expect(page.locator("#go")).to_be_visible()
    expect(page.locator("#backend")).to_have_count(0)

    # removed after a confirm step; the local ComfyUI cannot be removed
    page.goto(f"{server.url}/cozygen/settings/backends")
    card = page.locator("li.backend", has_text="attic")
    card.locator(".backend-remove").click()
    card.locator(".backend-remove-confirm").click()
    expect(page.locator("li.backend", has_text="attic")).to_have_count(0)
    assert "attic" not in listed(context, server)
    expect(page.locator('li.backend[data-backend="local"] .backend-remove')).to_have_count(0)
    context.close()


def jobs(context: BrowserContext, server) -> list[dict]:
    return context.request.get(f"{server.url}/cozygen/api/jobs?limit=20").json()["jobs"]


def pinned(context: BrowserContext, server) -> dict[str, str]:
    found = context.request.get(f"{server.url}/cozygen/api/backends/pins").json()["pins"]
    return {p["workflow"]: p["backend"] for p in found}


def done(context: BrowserContext, server, job_id: str) -> bool:
    job = context.request.get(f"{server.url}/cozygen/api/jobs/{job_id}").json()["job"]
    assert job["status"] in ("pending", "running", "completed"), job
    return job["status"] == "completed"
