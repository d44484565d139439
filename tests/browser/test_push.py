"""Web Push in a real headless Chromium through the app's real service worker (web/app/public/sw.js).

Chromium's pushManager.subscribe() asks the browser's own push service (Google's FCM) for an endpoint: no page or
flag can point it at a local push service (only Chromium's --gcm-* switches, which speak Google's own protocol).
Here it cannot succeed: in Playwright's contexts (off the record, like incognito) it answers "AbortError:
Registration failed - permission denied" at once, and in a persistent profile it never answers (FCM is not
reachable). So the subscription is tried, and the app must show its failure as a readable message and leave
the switch off (app-side, subscribe gives up after 20 s). The subscription's path from the browser to the
server is covered by tests/integration/test_push.py, which posts the same PushSubscription JSON.

What the worker does with a push is tested by delivering one through the DevTools protocol
(ServiceWorker.deliverPushMessage, as a push service's message arrives): it shows the notification with the
server's title, body, icon and image. A headless browser's notification cannot be tapped, so the click
handler's function (openResult) is called in the worker: it takes the app's open window to the result.
"""

from __future__ import annotations

import json
import time
from typing import Any

import phone
import pytest
from phone import shot
from playwright.sync_api import Browser, BrowserContext, Page, expect

ADMIN, PASSWORD = "ada", "ada-password"
PAYLOAD = {
    "title": "cozygen_procedural_form: done",
    "body": "a lighthouse at dusk",
    "icon": "/cozygen/icon-192.png",
    "image": "/cozygen/thumb?filename=form_00001_.png&subfolder=CozyGen&type=output&w=384",
    "url": "/cozygen/history?job=0b6c3f0e-1111-4222-8333-944455556666",
    "tag": "cozygen-job-0b6c3f0e-1111-4222-8333-944455556666",
    "job_id": "0b6c3f0e-1111-4222-8333-944455556666",
    "status": "completed",
}


@pytest.fixture(scope="module")
def server(start_comfyui):
    env = {"COZYGEN_AUTH": "on", "COZYGEN_ADMIN_USER": ADMIN, "COZYGEN_ADMIN_PASSWORD": PASSWORD}
    return start_comfyui("ComfyUI-CozyGen-browser-push", env=env)


def signed_in(browser: Browser, server) -> tuple[BrowserContext, Page]:
    context, page = phone.signed_in(browser, server, ADMIN, PASSWORD)
    context.grant_permissions(["notifications"], origin=server.url)
    page.wait_for_function(
        "navigator.serviceWorker.getRegistration('/cozygen/').then(r => !!(r && r.active))", polling=100
    )
    return context, page


def registration_id(context: BrowserContext, page: Page) -> tuple[Any, str]:
    """The worker's registration id, from the DevTools protocol (what deliverPushMessage names)."""
    cdp = context.new_cdp_session(page)
    found: list[str] = []

    def updated(event: dict[str, Any]) -> None:
        found.extend(r["registrationId"] for r in event["registrations"] if r["scopeURL"].endswith("/cozygen/"))

    cdp.on("ServiceWorker.workerRegistrationUpdated", updated)
    cdp.send("ServiceWorker.enable")
    deadline = time.monotonic() + 10
    while not found and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    assert found, "no service worker registration for /cozygen/"
    return cdp, found[-1]


def notifications(page: Page) -> list[dict[str, Any]]:
    return page.evaluate(
        """async () => {
            const registration = await navigator.serviceWorker.getRegistration('/cozygen/');
            const shown = await registration.getNotifications();
            return shown.map((n) => ({title: n.title, body: n.body, icon: n.icon, image: n.image, tag: n.tag,
                                      data: n.data}));
        }"""
    )


def test_subscribing_asks_the_browsers_push_service_and_says_so_when_it_cannot(browser, server) -> None:
    context, page = signed_in(browser, server)
    try:
        key = page.evaluate("fetch('/cozygen/api/push/key').then((r) => r.json())")["public_key"]
        outcome = page.evaluate(
            """async (key) => {
                const registration = await navigator.serviceWorker.ready;
                const bytes = Uint8Array.from(atob(key.replace(/-/g, '+').replace(/_/g, '/') + '='),
                                              (c) => c.charCodeAt(0));
                try {
                    const s = await registration.pushManager.subscribe({userVisibleOnly: true,
                                                                        applicationServerKey: bytes});
                    return {ok: true, endpoint: s.endpoint};
                } catch (error) {
                    return {ok: false, error: `${error.name}: ${error.message}`};
                }
            }""",
            key,
        )
        print("pushManager.subscribe in headless Chromium:", json.dumps(outcome))
        page.goto(f"{server.url}/cozygen/settings")
        switch = page.locator("#push")
        expect(switch).to_be_enabled()
        switch.click()
        page.wait_for_timeout(300)
        shot(page, "settings-push-phone")
        if outcome["ok"]:  # a browser that reaches its push service: the server has the subscription now
            listed = page.evaluate("fetch('/cozygen/api/push/subscriptions').then((r) => r.json())")
            assert len(listed["subscriptions"]) == 1
            expect(page.locator("#push-done")).to_be_checked()
        else:
            expect(page.locator(".toast, [role=status], [role=alert]").first).to_be_visible()
            expect(switch).not_to_be_checked()
    finally:
        context.close()


def test_the_service_worker_shows_a_push_and_a_tap_opens_the_result(browser, server) -> None:
    context, page = signed_in(browser, server)
    try:
        cdp, registration = registration_id(context, page)
        origin = server.url
        cdp.send(
            "ServiceWorker.deliverPushMessage",
            {"origin": origin, "registrationId": registration, "data": json.dumps(PAYLOAD)},
        )
        shown: list[dict[str, Any]] = []
        deadline = time.monotonic() + 10
        while not shown and time.monotonic() < deadline:
            page.wait_for_timeout(100)
            shown = notifications(page)
        assert shown == [
            {
                "title": PAYLOAD["title"],
                "body": PAYLOAD["body"],
                "icon": f"{origin}/cozygen/icon-192.png",
                "image": f"{origin}{PAYLOAD['image']}",
                "tag": PAYLOAD["tag"],
                "data": {"url": PAYLOAD["url"]},
            }
        ]
        # the tap: the worker's click handler (a real tap cannot be made on a headless browser's notification)
        worker = context.service_workers[0] if context.service_workers else context.wait_for_event("serviceworker")
        worker.evaluate("openResult(" + json.dumps(PAYLOAD["url"]) + ")")
        page.wait_for_url(f"{origin}{PAYLOAD['url']}")
        expect(page.locator("nav.tabs")).to_be_visible()
        cdp.detach()
    finally:
        context.close()
