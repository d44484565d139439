"""The backend routes under attack, on a ComfyUI of its own (auth on): only admins reach them (also through
ComfyUI's /api mirror and Spoon Feeder's profiles), secrets are never answered nor streamed nor audited, bad URLs
and fields are 400s (never a 5xx), requests to a backend carry its own credentials and never the caller's, and a
backend's hostile answers (huge, malformed, endless) are refused in words."""

from __future__ import annotations

import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from support import AUTH_ENV, StreamEvents, get, household, http_server, post, request, until

SECRET = "backend-SECRET-token-7f3a9c"
SF = "/cozygen/compat/spoonfeeder/api"
ADMIN_ROUTES = [
    ("GET", "/cozygen/api/backends", None),
    ("POST", "/cozygen/api/backends", {"name": "x", "url": "http://127.0.0.1:9"}),
    ("POST", "/cozygen/api/backends/test", {"url": "http://127.0.0.1:9"}),
    ("GET", "/cozygen/api/backends/local", None),
    ("PATCH", "/cozygen/api/backends/local", {"enabled": False}),
    ("DELETE", "/cozygen/api/backends/local", None),
    ("POST", "/cozygen/api/backends/local/test", None),
    ("GET", "/cozygen/api/backends/local/check", None),
    ("GET", "/cozygen/api/backends/pins", None),
    ("PUT", "/cozygen/api/backends/pins/a.json", {"backend": "local"}),
    ("DELETE", "/cozygen/api/backends/pins/a.json", None),
    ("POST", f"{SF}/profiles", {"name": "x", "provider": "comfyui", "url": "http://127.0.0.1:9"}),
    ("POST", f"{SF}/profiles/test-connection", {"provider": "comfyui", "url": "http://127.0.0.1:9"}),
    ("PUT", f"{SF}/profiles/local", {"enabled": False}),
    ("DELETE", f"{SF}/profiles/local", None),
    ("POST", f"{SF}/profiles/local/models", {"modelId": "x"}),
    ("POST", f"{SF}/profiles/local/models/sync", None),
    ("DELETE", f"{SF}/profiles/local/models/x", None),
]
BAD_URLS = [
    "file:///etc/passwd", "ftp://127.0.0.1/", "gopher://127.0.0.1:70/", "http://admin:pw@127.0.0.1:8188",
    "http://127.0.0.1:8188/?x=1", "http://127.0.0.1:8188/#f", "http://", "127.0.0.1:8188",
    "http://127.0.0.1:8188\r\nX: 1", "http://127.0.0.1:99999", "http://h/../../x", "javascript:alert(1)", "",
]  # fmt: skip


class Recorder(BaseHTTPRequestHandler):
    """A "backend" that records every request's headers; /queue answers per the server's ``mode``."""

    def do_GET(self) -> None:
        self.server.seen.append(dict(self.headers))  # type: ignore[attr-defined]
        mode = self.server.mode  # type: ignore[attr-defined]
        if mode == "huge":
            body = b'{"queue_running": [], "queue_pending": [' + b'"x",' * (3 * 1024 * 1024) + b'"x"]}'
        elif mode == "malformed":
            body = b'{"queue_running": [}'
        elif mode == "wrong":
            body = b'{"hello": "I am not ComfyUI"}'
        elif mode == "deep":
            body = b"[" * 100000 + b"]" * 100000
        else:
            body = json.dumps({"queue_running": [], "queue_pending": [], "system": {"comfyui_version": "x"}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def fake() -> Iterator[ThreadingHTTPServer]:
    with http_server(Recorder, seen=[], mode="ok") as server:
        yield server


@pytest.fixture(scope="module")
def home(start_comfyui) -> tuple[Any, dict[str, dict[str, str]]]:
    server = start_comfyui(env=dict(AUTH_ENV))
    return server, household(server.url, {"mallory": "user", "vic": "viewer"})


def fake_url(fake: ThreadingHTTPServer) -> str:
    return f"http://127.0.0.1:{fake.server_address[1]}"


@pytest.mark.parametrize("prefix", ["", "/api"])
@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ROUTES)
def test_only_admins_reach_the_backend_routes(home, prefix: str, method: str, path: str, body: Any) -> None:
    server, people = home
    for who in (None, "mallory", "vic"):
        headers = people[who] if who else {}
        answer = request(method, f"{server.url}{prefix}{path}", body, headers=headers)
        assert answer.status in (401, 403), (who, method, path, answer.status, answer.body)


def test_secrets_are_never_answered_streamed_or_audited(home, fake) -> None:
    server, people = home
    admin = people["admin"]
    path = "/cozygen/api/events?workflows=1"
    with StreamEvents(server.url, admin, path) as watched, StreamEvents(server.url, people["mallory"], path) as user:
        body = {"name": "vault", "url": fake_url(fake), "auth": "basic", "auth_user": "u", "secret": SECRET,
                "enabled": False}  # fmt: skip
        made = post(f"{server.url}/cozygen/api/backends", body, headers=admin)
        assert made.status == 201 and SECRET.encode() not in made.body and made.json()["has_secret"] is True
        backend_id = made.json()["id"]
        url = f"{server.url}/cozygen/api/backends/{backend_id}"
        changed = request("PATCH", url, {"secret": SECRET + "2"}, headers=admin)
        assert changed.status == 200 and SECRET.encode() not in changed.body
        post(f"{server.url}/cozygen/api/backends/{backend_id}/test", {}, headers=admin)
        until(lambda: watched.named("backend.changed"), lambda found: len(found) >= 2)
        assert SECRET not in json.dumps(watched.named("backend.changed"))
        assert watched.named("backend.changed")[0]["has_secret"] is True
    assert user.named("backend.changed") == []  # a user's stream never hears of backends
    for path in ("/cozygen/api/backends", f"/cozygen/api/backends/{backend_id}", f"{SF}/profiles",
                 f"{SF}/profiles/{backend_id}", "/cozygen/api/audit?limit=500", "/cozygen/api/health"):  # fmt: skip
        answer = get(f"{server.url}{path}", headers=admin)
        assert answer.status == 200 and SECRET.encode() not in answer.body, path
    audit = get(f"{server.url}/cozygen/api/audit?limit=500", headers=admin).json()["entries"]
    actions = {(row["action"], row["target"]) for row in audit}
    assert {("backend.create", "vault"), ("backend.update", "vault"), ("backend.test", "vault")} <= actions
    update = next(r for r in audit if r["action"] == "backend.update" and r["target"] == "vault")
    assert update["detail"] == "secret"  # the field's name, never its value
    assert request("DELETE", f"{server.url}/cozygen/api/backends/{backend_id}", headers=admin).status == 200
    assert ("backend.delete", "vault") in {(r["action"], r["target"]) for r in get(
        f"{server.url}/cozygen/api/audit?limit=50", headers=admin).json()["entries"]}  # fmt: skip


def test_a_backend_gets_its_own_credentials_and_never_the_callers(home, fake) -> None:
    server, people = home
    admin = people["admin"]
    made = post(
        f"{server.url}/cozygen/api/backends",
        {"name": "recorder", "url": fake_url(fake), "auth": "bearer", "secret": SECRET, "enabled": False},
        headers=admin,
    )
    assert made.status == 201, made.body
    fake.seen.clear()
    cookie = {**admin, "Cookie": "cozygen_session=phone-user-cookie"}
    tested = post(f"{server.url}/cozygen/api/backends/{made.json()['id']}/test", {}, headers=cookie)
    assert tested.status == 200 and tested.json()["ok"] is True, tested.body
    assert fake.seen, "the backend was not asked"
    for headers in fake.seen:
        assert headers.get("Authorization") == f"Bearer {SECRET}"
        assert "Cookie" not in headers and "phone-user-cookie" not in json.dumps(headers)
        assert admin["Authorization"] not in json.dumps(headers)
    request("DELETE", f"{server.url}/cozygen/api/backends/{made.json()['id']}", headers=admin)


@pytest.mark.parametrize("url", BAD_URLS)
def test_bad_urls_are_400_and_leave_no_backend(home, url: str) -> None:
    server, people = home
    admin = people["admin"]
    for path, body in (
        ("/cozygen/api/backends", {"name": "bad", "url": url}),
        ("/cozygen/api/backends/test", {"url": url}),
        (f"{SF}/profiles", {"name": "bad", "provider": "comfyui", "url": url}),
        (f"{SF}/profiles/test-connection", {"provider": "comfyui", "url": url}),
    ):
        answer = post(f"{server.url}{path}", body, headers=admin)
        assert answer.status == 400, (path, url, answer.status, answer.body)
        assert answer.json().get("code") in ("INVALID_BACKEND_URL", "INVALID_BACKEND"), answer.body
        assert b"pw@" not in answer.body or url not in answer.body.decode(errors="replace")
    listed = get(f"{server.url}/cozygen/api/backends", headers=admin).json()["backends"]
    assert [b["id"] for b in listed] == ["local"]
    audit = get(f"{server.url}/cozygen/api/audit?limit=500", headers=admin)
    assert b":pw@" not in audit.body  # a refused URL's password is not kept in the audit log


@pytest.mark.parametrize(
    "body",
    [
        [], "x", 5, {"name": "a\r\nb", "url": "http://127.0.0.1:9"},
        {"name": "h", "url": "http://127.0.0.1:9", "auth": "bearer", "secret": "tok\r\nX-Evil: 1"},
        {"name": "h", "url": "http://127.0.0.1:9", "auth": "basic", "auth_user": "a:b", "secret": "x"},
        {"name": "h", "url": "http://127.0.0.1:9", "subfolder": "../../etc"},
        {"name": "h", "url": "http://127.0.0.1:9", "subfolder": "/abs"},
        {"name": "h", "url": "http://127.0.0.1:9", "max_jobs": 10**12},
        {"name": "h", "url": "http://127.0.0.1:9", "tags": ["<script>"]},
        {"name": "h", "url": "http://127.0.0.1:9", "id": "local"},
        {"name": "LOCAL", "url": "http://127.0.0.1:9"},
        {"name": "x" * 500, "url": "http://127.0.0.1:9"},
    ],
)  # fmt: skip
def test_bad_fields_are_400(home, body: Any) -> None:
    server, people = home
    answer = post(f"{server.url}/cozygen/api/backends", body, headers=people["admin"])
    assert answer.status == 400, (body, answer.status, answer.body)
    assert answer.json()["code"]


@pytest.mark.parametrize("backend_id", ["..%2F..%2Fetc", "%00", "x" * 5000, "local%2F..", "%27%20OR%201%3D1%20--"])
def test_odd_ids_are_404(home, backend_id: str) -> None:
    server, people = home
    for method in ("GET", "PATCH", "DELETE"):
        body = {"enabled": True} if method == "PATCH" else None
        answer = request(method, f"{server.url}/cozygen/api/backends/{backend_id}", body, headers=people["admin"])
        assert answer.status in (404, 400), (method, backend_id, answer.status, answer.body)


@pytest.mark.parametrize("mode", ["huge", "malformed", "wrong", "deep"])
def test_hostile_answers_are_refused_in_words(home, fake, mode: str) -> None:
    server, people = home
    fake.mode = mode
    try:
        answer = post(f"{server.url}/cozygen/api/backends/test", {"url": fake_url(fake)}, headers=people["admin"])
    finally:
        fake.mode = "ok"
    assert answer.status == 200, answer.body
    assert answer.json()["ok"] is False and answer.json()["error"], answer.body
    assert get(f"{server.url}/cozygen/hello").status == 200  # the server is fine


@pytest.mark.parametrize("name", ["..%2F..%2Fetc%2Fpasswd", "%2Fetc%2Fpasswd", "a%00b.json", "x" * 3000])
def test_the_workflow_check_stays_in_the_workflow_store(home, name: str) -> None:
    server, people = home
    answer = get(f"{server.url}/cozygen/api/backends/local/check?workflow={name}", headers=people["admin"])
    assert answer.status in (400, 404), (name, answer.status, answer.body)
    assert b"root:" not in answer.body


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("a%00b.json", {"backend": "local"}), ("x" * 600, {"backend": "local"}), ("%20", {"backend": "local"}),
        ("a.json", {"backend": 5}), ("a.json", {"backend": ["local"]}), ("a.json", []), ("a.json", {}),
        ("a.json", {"backend": "nowhere"}), ("a.json", {"backend": "%00"}),
    ],
)  # fmt: skip
def test_odd_pins_are_refused_and_nothing_is_pinned(home, name: str, body: Any) -> None:
    server, people = home
    answer = request("PUT", f"{server.url}/cozygen/api/backends/pins/{name}", body, headers=people["admin"])
    assert answer.status in (400, 404), (name, body, answer.status, answer.body)
    assert answer.json()["code"], answer.body
    assert get(f"{server.url}/cozygen/api/backends/pins", headers=people["admin"]).json() == {"pins": []}
