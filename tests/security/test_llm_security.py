"""The language-model provider routes under attack, on a ComfyUI of their own (auth on): only admins change, test
or read a provider (also through ComfyUI's /api mirror); keys are never answered nor audited; bad URLs and fields
are 400s with nothing stored (never a 5xx); a provider's hostile answers (huge, not JSON, endless, hanging) end in
words, and the event loop keeps answering meanwhile."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from llm_server import Hang, LLMServer
from support import AUTH_ENV, get, household, http_server, post, request

API = "/cozygen/api/llm"
KEY = "sk-llm-SECRET-5e2d81"
ADMIN_ROUTES = [
    ("POST", f"{API}/providers", {"name": "x", "kind": "ollama"}),
    ("POST", f"{API}/providers/test", {"kind": "ollama", "url": "http://127.0.0.1:9"}),
    ("GET", f"{API}/providers/p1", None),
    ("PATCH", f"{API}/providers/p1", {"name": "y"}),
    ("DELETE", f"{API}/providers/p1", None),
    ("POST", f"{API}/providers/p1/default", None),
    ("POST", f"{API}/providers/p1/test", None),
    ("GET", f"{API}/providers/p1/models", None),
]
BAD_URLS = [
    "file:///etc/passwd", "ftp://127.0.0.1/", "http://admin:pw@127.0.0.1:8080/v1", "http://127.0.0.1:8080/v1?x=1",
    "http://", "127.0.0.1:8080", "http://127.0.0.1:8080\r\nX: 1", "http://127.0.0.1:99999", "javascript:alert(1)",
    "http://h/../../x", 5, ["http://h"],
]  # fmt: skip


@pytest.fixture(scope="module")
def cozygen(start_comfyui):
    return start_comfyui("ComfyUI-CozyGen-llm-security", env=dict(AUTH_ENV))


@pytest.fixture(scope="module")
def people(cozygen) -> dict[str, dict[str, str]]:
    return household(cozygen.url, {"bob": "user", "vera": "viewer"})


class Hostile(BaseHTTPRequestHandler):
    """A "provider" whose model list is what the server's ``mode`` says."""

    def do_GET(self) -> None:
        mode = self.server.mode  # type: ignore[attr-defined]
        if mode == "huge":
            body = b'{"object": "list", "data": [' + b'{"id": "m"},' * (1024 * 1024) + b'{"id": "m"}]}'
        elif mode == "deep":
            body = b"[" * 100000 + b"]" * 100000
        elif mode == "html":
            body = b"<html>login page</html>"
        else:
            body = b'{"data": "not a list"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def hostile() -> Iterator[ThreadingHTTPServer]:
    with http_server(Hostile, mode="huge") as server:
        yield server


@pytest.mark.parametrize("prefix", ["", "/api"])
def test_only_admins_reach_the_provider_routes(cozygen, people, prefix: str) -> None:
    for method, path, body in ADMIN_ROUTES:
        for who in ("bob", "vera"):
            reply = request(method, f"{cozygen.url}{prefix}{path}", body, headers=people[who])
            assert reply.status == 403, (who, method, path, reply.status)
            assert reply.json()["code"] == "ROLE_REQUIRED"
        assert request(method, f"{cozygen.url}{prefix}{path}", body).status == 401
    assert get(f"{cozygen.url}{prefix}{API}/providers", headers=people["admin"]).json() == {"providers": []}


def test_bad_urls_and_fields_are_400s_with_nothing_stored(cozygen, people) -> None:
    for url in BAD_URLS:
        made = post(f"{cozygen.url}{API}/providers", {"name": "x", "kind": "openai-compatible", "url": url},
                    headers=people["admin"])  # fmt: skip
        assert made.status == 400 and made.json()["code"] == "INVALID_PROVIDER", (url, made.body)
        tested = post(f"{cozygen.url}{API}/providers/test", {"kind": "openai-compatible", "url": url},
                      headers=people["admin"])  # fmt: skip
        assert tested.status == 400, (url, tested.body)
    for body in ({"kind": "x" * 10000}, {"name": "x" * 100000, "kind": "ollama"}, {"name": ["x"], "kind": "ollama"},
                 {"name": "x", "kind": "ollama", "timeout": 1e308}, {"name": "x", "kind": "ollama", "timeout": "5"},
                 {"name": "x", "kind": "ollama", "api_key": "k" * 100000}, {"name": "x", "kind": "ollama", "id": "a"},
                 {"name": "x", "kind": "ollama", "default_model": "m\x00"}):  # fmt: skip
        made = post(f"{cozygen.url}{API}/providers", body, headers=people["admin"])
        assert made.status == 400 and made.json()["code"] == "INVALID_PROVIDER", (str(body)[:80], made.body[:200])
    assert post(f"{cozygen.url}{API}/providers", [1], headers=people["admin"]).status == 400
    weird = get(f"{cozygen.url}{API}/providers/..%2F..%2Fetc", headers=people["admin"])
    assert weird.status == 404
    assert get(f"{cozygen.url}{API}/providers", headers=people["admin"]).json() == {"providers": []}


def test_hostile_answers_end_in_words(cozygen, people, hostile) -> None:
    url = f"http://127.0.0.1:{hostile.server_address[1]}/v1"
    for mode, words in (("huge", "more than"), ("deep", "not a JSON object"), ("html", "not a JSON object"),
                        ("wrong", "no model array")):  # fmt: skip
        hostile.mode = mode  # type: ignore[attr-defined]
        tested = post(f"{cozygen.url}{API}/providers/test", {"kind": "openai-compatible", "url": url},
                      headers=people["admin"])  # fmt: skip
        assert tested.status == 200 and tested.json()["ok"] is False, (mode, tested.body[:300])
        assert words in tested.json()["error"], (mode, tested.json()["error"])


def test_a_hanging_provider_never_blocks_the_loop_and_keys_stay_secret(cozygen, people) -> None:
    with LLMServer(key=KEY) as llm:
        body = {"name": "slow", "kind": "openai-compatible", "url": llm.v1, "api_key": KEY, "timeout": 1}
        made = post(f"{cozygen.url}{API}/providers", body, headers=people["admin"])
        assert made.status == 201 and KEY.encode() not in made.body
        llm.script([Hang()])
        outcome: dict[str, Any] = {}
        pending = threading.Thread(target=lambda: outcome.update(reply=post(
            f"{cozygen.url}/cozygen/api/prompts/enrich", {"prompt": "a fox"}, headers=people["bob"])))  # fmt: skip
        pending.start()
        for _ in range(5):
            assert get(f"{cozygen.url}/cozygen/hello").status == 200  # the loop answers while the provider hangs
        pending.join(60)
        reply = outcome["reply"]
        assert reply.status == 200 and reply.json()["source"] == "template"
        assert "did not answer within 1 s" in reply.json()["warning"] and KEY not in reply.body.decode()
        assert llm.chats[0].headers["authorization"] == f"Bearer {KEY}"
        assert people["bob"]["Authorization"] not in llm.chats[0].headers.values()
        assert "cookie" not in llm.chats[0].headers
    for reply in (get(f"{cozygen.url}{API}/providers", headers=people["admin"]),
                  get(f"{cozygen.url}{API}/status", headers=people["bob"]),
                  get(f"{cozygen.url}/cozygen/api/audit?limit=500", headers=people["admin"])):  # fmt: skip
        assert reply.status == 200 and KEY.encode() not in reply.body
