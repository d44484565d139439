"""Series in the phone app (390 px): 'Run 3 times' from Generate, the series in Queue with its progress, and
stopping one that repeats until stopped. Screenshot: tests/screenshots/repeat-phone.png."""

from __future__ import annotations

import re
import time

import phone
import pytest
from phone import shot
from playwright.sync_api import Browser, BrowserContext, Page, expect

ADMIN, PASSWORD = "ada", "ada-password"
WORKFLOW = "cozygen_procedural_form.json"


@pytest.fixture(scope="module")
def server(start_comfyui):
    env = {"COZYGEN_AUTH": "on", "COZYGEN_ADMIN_USER": ADMIN, "COZYGEN_ADMIN_PASSWORD": PASSWORD}
    return start_comfyui("ComfyUI-CozyGen-browser-repeat", env=env)


def signed_in(browser: Browser, server) -> tuple[BrowserContext, Page]:
    return phone.signed_in(browser, server, ADMIN, PASSWORD, ready=f'a[data-workflow="{WORKFLOW}"]')


def series(context: BrowserContext, server) -> list[dict]:
    return context.request.get(f"{server.url}/cozygen/api/series").json()["series"]


def wait_for(check, what: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"still waiting for {what}")
        time.sleep(0.2)


def test_run_three_times_then_repeat_until_stopped_and_stop_it(server, browser) -> None:
    context, page = signed_in(browser, server)
    page.click(f'a[data-workflow="{WORKFLOW}"]')
    page.fill("#f-steps", "2")
    page.select_option("#repeat", "3")
    expect(page.locator("#go")).to_contain_text("×3")
    page.click("#go")
    wait_for(lambda: any(s["times"] == 3 for s in series(context, server)), "the series of 3")
    first = next(s for s in series(context, server) if s["times"] == 3)
    wait_for(lambda: any(s["id"] == first["id"] and s["status"] == "done" for s in series(context, server)), "3 jobs")
    jobs = context.request.get(f"{server.url}/cozygen/api/jobs?status=completed").json()["jobs"]
    assert len(jobs) == 3 and len({j["params"]["seed"] for j in jobs}) == 3  # a new seed each time

    # a slow job, repeated until stopped: Queue shows it with its progress and a Stop button
    page.fill("#f-steps", "40")
    page.fill("#f-size", "512")
    page.select_option("#repeat", "until_stopped")
    expect(page.locator("#go")).to_contain_text("repeat")
    page.locator("#repeat").scroll_into_view_if_needed()
    shot(page, "repeat-generate-phone")
    page.click("#go")
    wait_for(lambda: any(s["status"] == "running" for s in series(context, server)), "the running series")
    page.goto(f"{server.url}/cozygen/queue")
    row = page.locator("li.series")
    expect(row).to_have_count(1)
    expect(row.locator(".series-progress")).to_contain_text("repeating")
    stop = row.get_by_role("button", name=re.compile(r"^Stop repeating "))  # named after the workflow
    expect(stop).to_be_visible()
    box = stop.bounding_box()
    assert box is not None and box["x"] + box["width"] <= 390 and box["height"] >= 40
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing wider than the phone
    shot(page, "repeat-phone")
    stop.click()
    expect(row).to_have_count(0)
    ended = [s for s in series(context, server) if s["times"] == "until_stopped"]
    assert len(ended) == 1 and ended[0]["status"] == "stopped"
    context.close()
