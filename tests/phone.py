"""Helpers of the browser tests: the phone's size, screenshots, signing in, and a finished job to show."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, BrowserContext, Page, expect

SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
# Pinned to English: the app follows the browser's language, and the tests read its English text.
LOCALE = {"locale": "en-US", "timezone_id": "UTC"}
PHONE = {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True, "device_scale_factor": 2}
PHONE.update(LOCALE)
TABLET = {"viewport": {"width": 820, "height": 1180}, "has_touch": True, "device_scale_factor": 1, **LOCALE}


def shot(page: Page, name: str) -> None:
    """tests/screenshots/<name>.png, once transitions and lazy thumbnails have settled."""
    SCREENSHOTS.mkdir(exist_ok=True)
    page.wait_for_timeout(250)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def signed_in(
    browser: Browser, server: Any, username: str, password: str, *, ready: str = "nav.tabs", **context_options: Any
) -> tuple[BrowserContext, Page]:
    """A new phone-sized context signed in through the app's own form, once `ready` shows."""
    context = browser.new_context(**{**PHONE, **context_options})
    page = context.new_page()
    page.goto(f"{server.url}/cozygen/")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#auth-go")
    expect(page.locator(ready)).to_be_visible()
    return context, page


def finished_job(context: BrowserContext, server: Any, workflow: str, values: dict[str, Any]) -> dict[str, Any]:
    """One completed job with images, made through the API as the context's user."""
    reply = context.request.post(
        f"{server.url}/cozygen/api/jobs", data={"workflow": workflow, "values": values}, headers={"Origin": server.url}
    )
    assert reply.status == 201, reply.text()
    job_id = reply.json()["job"]["id"]
    job: dict[str, Any] = {}
    for _ in range(300):
        job = context.request.get(f"{server.url}/cozygen/api/jobs/{job_id}").json()["job"]
        if job["status"] == "completed" and job["images"]:
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish: {job}")
