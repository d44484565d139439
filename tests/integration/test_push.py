"""Web Push against a real ComfyUI with CozyGen and a push service on loopback that speaks the protocol
(tests/push_service.py: it checks the VAPID JWT against the key CozyGen serves and decrypts the aes128gcm body
with the subscription's own keys), so the exact payload is asserted."""

from __future__ import annotations

import http.client
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from push_service import PushService, PushServiceThread
from support import AUTH_ENV, get, household, job_done, post, request

FORM = "cozygen_procedural_form.json"


@pytest.fixture(scope="module")
def server(start_comfyui):
    return start_comfyui("ComfyUI-CozyGen-push", env={**AUTH_ENV, "COZYGEN_PUSH_ALLOW_PRIVATE": "1"})


@pytest.fixture(scope="module")
def people(server) -> dict[str, dict[str, str]]:
    return household(server.url, {"ann": "user", "bob": "user"})


@pytest.fixture(scope="module")
def push(server, people) -> Iterator[PushService]:
    key = get(f"{server.url}/cozygen/api/push/key", headers=people["ann"])
    assert key.status == 200, key.body
    with PushServiceThread(key.json()["public_key"]) as service:
        yield service


def run_job(server, headers: dict[str, str], prompt: str, seed: int) -> dict[str, Any]:
    values = {"prompt": prompt, "steps": 2, "size": 64, "seed": seed}
    return job_done(server.url, headers, FORM, values, timeout=60)


def wait_for(check: Any, timeout: float = 10) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    return check()


def own(server, headers: dict[str, str]) -> dict[str, Any]:
    listed = get(f"{server.url}/cozygen/api/push/subscriptions", headers=headers)
    assert listed.status == 200, listed.body
    return listed.json()


def test_a_job_that_ends_with_no_page_open_is_pushed_once_with_its_payload(server, people, push) -> None:
    phone = push.device("ann-phone")
    made = post(f"{server.url}/cozygen/api/push/subscriptions", push.subscription(phone), headers=people["ann"])
    assert made.status == 201, made.body
    assert made.json()["service"] == urlsplit(push.origin).netloc
    assert [s["id"] for s in own(server, people["ann"])["subscriptions"]] == [made.json()["id"]]
    assert own(server, people["bob"])["subscriptions"] == []  # ann's are ann's
    job = run_job(server, people["ann"], "a lighthouse at dusk", seed=101)
    assert wait_for(lambda: phone.received), push.refused
    time.sleep(1.0)  # nothing more comes
    image = job["images"][0]
    assert phone.received == [
        {
            "title": "cozygen_procedural_form: done",
            "body": "a lighthouse at dusk",
            "icon": "/cozygen/icon-192.png",
            "image": f"/cozygen/thumb?filename={image['filename']}&subfolder={image['subfolder']}&type=output&w=384",
            "url": f"/cozygen/history?job={job['id']}",
            "tag": f"cozygen-job-{job['id']}",
            "job_id": job["id"],
            "status": "completed",
        }
    ]
    assert push.refused == []
    thumb = get(server.url + phone.received[0]["image"], headers=people["ann"])
    assert thumb.status == 200 and thumb.headers["Content-Type"].startswith("image/")


def test_no_push_while_a_page_of_the_owner_has_its_job_stream_open(server, people, push) -> None:
    phone = push.device("ann-phone-2")
    assert (
        post(f"{server.url}/cozygen/api/push/subscriptions", push.subscription(phone), headers=people["ann"]).status
        == 201
    )
    parts = urlsplit(server.url)
    stream = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        stream.request("GET", "/cozygen/api/events", headers={"Accept": "text/event-stream", **people["ann"]})
        response = stream.getresponse()
        assert response.status == 200
        run_job(server, people["ann"], "a page is open", seed=102)
        time.sleep(1.5)
        assert phone.received == []
    finally:
        stream.close()
    run_job(server, people["ann"], "the page is closed", seed=103)
    assert wait_for(lambda: phone.received)
    assert [p["body"] for p in phone.received] == ["the page is closed"]


def test_a_subscription_the_push_service_says_is_gone_is_removed(server, people, push) -> None:
    for subscription in own(server, people["ann"])["subscriptions"]:
        gone = request(
            "DELETE", f"{server.url}/cozygen/api/push/subscriptions/{subscription['id']}", headers=people["ann"]
        )
        assert gone.status == 200
    tablet = push.device("bob-tablet")
    tablet.answer = 410
    made = post(f"{server.url}/cozygen/api/push/subscriptions", push.subscription(tablet), headers=people["bob"])
    assert made.status == 201
    stolen = request(
        "DELETE", f"{server.url}/cozygen/api/push/subscriptions/{made.json()['id']}", headers=people["ann"]
    )
    assert stolen.status == 404  # not hers
    run_job(server, people["bob"], "gone", seed=104)
    assert wait_for(lambda: own(server, people["bob"])["subscriptions"] == []), own(server, people["bob"])
    assert push.refused == []


def test_preferences_and_bad_subscriptions(server, people, push) -> None:
    url = f"{server.url}/cozygen/api/push/settings"
    assert get(url, headers=people["ann"]).json() == {"on_done": True, "on_failed": True}
    assert request("PUT", url, {"on_done": False}, headers=people["ann"]).json() == {
        "on_done": False,
        "on_failed": True,
    }
    assert get(url, headers=people["bob"]).json() == {"on_done": True, "on_failed": True}
    assert request("PUT", url, {"on_done": "yes"}, headers=people["ann"]).status == 400
    phone = push.device("ann-phone-3")
    assert (
        post(f"{server.url}/cozygen/api/push/subscriptions", push.subscription(phone), headers=people["ann"]).status
        == 201
    )
    run_job(server, people["ann"], "she asked not to be told", seed=105)
    time.sleep(1.5)
    assert phone.received == []
    bad = push.subscription(phone)
    bad["keys"]["auth"] = bad["keys"]["auth"][:-4]
    refused = post(f"{server.url}/cozygen/api/push/subscriptions", bad, headers=people["ann"])
    assert refused.status == 400 and refused.json()["code"] == "BAD_PUSH_KEYS"
    anonymous = post(f"{server.url}/cozygen/api/push/subscriptions", push.subscription(phone))
    assert anonymous.status == 401
