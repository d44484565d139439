"""The seeds' chat routes under attack, on a ComfyUI of their own (auth on): only admins reach the provider settings
and Ollama's load and unload (also through ComfyUI's /api mirror), users chat and viewers only read; a provider's
key is never answered nor audited; a provider's hostile answers (huge, malformed, endlessly deep, not JSON) are
refused in words with no 5xx but the provider's own 502; odd model names and bodies are 400s."""

from __future__ import annotations

import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from support import AUTH_ENV, get, household, http_server, post, request

SECRET = "sk-llm-SECRET-key-5c1e"
SF = "/cozygen/compat/spoonfeeder/api"
AIP = "/cozygen/compat/aiplayground/v1/chat/completions"
HELLO = [{"role": "user", "content": "hi"}]
ADMIN_ROUTES = [
    ("GET", f"{SF}/settings", None),
    ("GET", f"{SF}/settings/ollama", None),
    ("PUT", f"{SF}/settings/ollama", {"endpointUrl": "http://127.0.0.1:9"}),
    ("DELETE", f"{SF}/settings/ollama", None),
    ("POST", f"{SF}/settings/ollama/test", None),
    ("POST", f"{SF}/models/x/load", None),
    ("POST", f"{SF}/models/x/unload", None),
]
USER_ROUTES = [("POST", f"{SF}/chat", {"messages": HELLO}), ("POST", AIP, {"messages": HELLO})]
HOSTILE = {
    "huge": b'{"models": [' + b'{"name": "x"},' * (600 * 1024) + b'{"name": "y"}]}',
    "malformed": b'{"models": [}',
    "deep": b"[" * 100000 + b"]" * 100000,
    "html": b"<html>not json</html>",
    "wrong": b'{"models": "all of them", "data": 5}',
}


class Hostile(BaseHTTPRequestHandler):
    """An "Ollama" answering every request with the server's ``mode`` body, recording the headers it got."""

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.server.seen.append(dict(self.headers))  # type: ignore[attr-defined]
        body = HOSTILE[self.server.mode]  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def hostile() -> Iterator[ThreadingHTTPServer]:
    with http_server(Hostile, seen=[], mode="malformed") as server:
        yield server


@pytest.fixture(scope="module")
def home(start_comfyui, hostile) -> tuple[Any, dict[str, dict[str, str]]]:
    server = start_comfyui("ComfyUI-CozyGen-llm-security", env=dict(AUTH_ENV))
    people = household(server.url, {"mallory": "user", "vic": "viewer"})
    url = f"http://127.0.0.1:{hostile.server_address[1]}"
    made = request("PUT", f"{server.url}{SF}/settings/ollama", {"endpointUrl": url, "apiKey": SECRET},
                   headers=people["admin"])  # fmt: skip
    assert made.status == 200, made.body
    return server, people


@pytest.mark.parametrize("prefix", ["", "/api"])
@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ROUTES)
def test_only_admins_reach_settings_and_loading(home, prefix: str, method: str, path: str, body: Any) -> None:
    server, people = home
    for who in (None, "mallory", "vic"):
        answer = request(method, f"{server.url}{prefix}{path}", body, headers=people[who] if who else {})
        assert answer.status in (401, 403), (who, method, path, answer.status, answer.body)


@pytest.mark.parametrize("prefix", ["", "/api"])
@pytest.mark.parametrize(("method", "path", "body"), USER_ROUTES)
def test_viewers_and_strangers_do_not_chat(home, prefix: str, method: str, path: str, body: Any) -> None:
    server, people = home
    assert request(method, f"{server.url}{prefix}{path}", body).status == 401
    assert request(method, f"{server.url}{prefix}{path}", body, headers=people["vic"]).status == 403


def test_the_key_is_never_answered_nor_audited(home, hostile) -> None:
    server, people = home
    admin = people["admin"]
    for path in (f"{SF}/settings", f"{SF}/settings/ollama", f"{SF}/models", f"{SF}/profiles",
                 "/cozygen/api/audit?limit=500"):  # fmt: skip
        answer = get(f"{server.url}{path}", headers=admin)
        assert answer.status == 200 and SECRET.encode() not in answer.body, path
        assert SECRET[-8:].encode() not in answer.body, path  # not even most of it
    audit = get(f"{server.url}/cozygen/api/audit?limit=500", headers=admin).json()["entries"]
    made = next(r for r in audit if r["action"] == "llm.provider.create")
    assert made["target"] == "Ollama" and made["detail"] == "api_key,url"  # the fields' names, never the key
    hostile.mode = "html"
    for path, body in ((f"{SF}/chat", {"provider": "ollama", "messages": HELLO}), (AIP, {"messages": HELLO})):
        answer = post(f"{server.url}{path}", body, headers=people["mallory"])
        assert answer.status in (502, 503) and SECRET.encode() not in answer.body, (path, answer.body)
    hostile.seen.clear()
    get(f"{server.url}{SF}/models/x/status", headers={**admin, "Cookie": "cozygen_session=phone-cookie"})
    for headers in hostile.seen:  # the provider's own key, never the caller's credentials
        assert admin["Authorization"] not in json.dumps(headers) and "phone-cookie" not in json.dumps(headers)


@pytest.mark.parametrize("mode", sorted(HOSTILE))
def test_hostile_provider_answers_are_refused_in_words(home, hostile, mode: str) -> None:
    server, people = home
    hostile.mode = mode
    listed = get(f"{server.url}{SF}/models", headers=people["vic"])
    assert listed.status == 200 and isinstance(listed.json()["data"], list), listed.body  # nothing live to list
    for method, path in (("GET", "status"), ("POST", "load")):
        answer = request(method, f"{server.url}{SF}/models/x/{path}", headers=people["admin"])
        assert answer.status in (200, 502), (mode, path, answer.status, answer.body)
        assert answer.json()["success"] is (answer.status == 200)
        if answer.status == 502:
            assert answer.json()["error"] and answer.json()["code"]
    for path, body in ((f"{SF}/chat", {"provider": "ollama", "messages": HELLO}),
                       (AIP, {"messages": HELLO}), (AIP, {"messages": HELLO, "stream": True})):  # fmt: skip
        answer = post(f"{server.url}{path}", body, headers=people["mallory"])
        assert answer.status in (200, 502), (mode, path, answer.status, answer.body[:300])
        if answer.status == 200:  # a stream that began: it ends with an error line, never [DONE]
            assert b'"error"' in answer.body and b"[DONE]" not in answer.body


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", f"{SF}/models/bad%0Aname/load", None),
        ("GET", f"{SF}/models/{'x' * 300}/status", None),
        ("PUT", f"{SF}/settings/comfyui", {"apiKey": "x"}),
        ("PUT", f"{SF}/settings/..%2F..%2Fetc", {"apiKey": "x"}),
        ("PUT", f"{SF}/settings/openai", {"apiKey": "tok\r\nX-Evil: 1"}),
        ("PUT", f"{SF}/settings/openai", {"apiKey": 5}),
        ("PUT", f"{SF}/settings/ollama", {"endpointUrl": "file:///etc/passwd"}),
        ("PUT", f"{SF}/settings/ollama", {"endpointUrl": "http://u:pw@127.0.0.1:9"}),
        ("PUT", f"{SF}/settings/ollama", {"defaultModel": ["x"]}),
        ("PUT", f"{SF}/settings/ollama", []),
        ("POST", f"{SF}/chat", {"messages": [{"role": "user", "content": {"$gt": ""}}]}),
        ("POST", f"{SF}/chat", {"profileId": ["x"], "messages": HELLO}),
        ("POST", AIP, {"messages": HELLO, "tools": [{"type": "function", "function": {"name": 5}}]}),
        ("POST", AIP, {"messages": HELLO, "max_tokens": 10**9}),
        ("POST", AIP, {"messages": HELLO, "model": "m\x00"}),
    ],
)  # fmt: skip
def test_odd_requests_are_400s(home, method: str, path: str, body: Any) -> None:
    server, people = home
    answer = request(method, f"{server.url}{path}", body, headers=people["admin"])
    assert answer.status in (400, 404), (method, path, answer.status, answer.body)
    assert answer.json()
    listed = get(f"{server.url}{SF}/settings", headers=people["admin"]).json()["data"]
    assert {e["provider"] for e in listed} == {"ollama"}  # nothing made by a refused request
