"""The seeds' chat routes against a real ComfyUI with CozyGen (auth on) and a scripted LLM on loopback
(tests/llm_server.py): AI Playground's OpenAI-compatible chat completions (streaming and not) and Spoon Feeder's
chat, models (Ollama's load, unload and status; 501 for another kind) and provider settings. Each test asserts what
CozyGen sent to the provider (the messages, the model, the provider's own key and never the caller's credentials)
and what the client gets back, in the seed's shapes.

The requests are the real clients': Spoon Feeder's ``frontend/src/services/api.ts`` (models, settings) and
``pages/Conversations.tsx`` (chat: ``{provider, model, messages, profileId}``, reads ``data.content``), read from
datajango/lmspoonfeeder; AI Playground's is OpenAI's protocol. None of their code is copied here.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from llm_server import Drip, Error, Garbage, Hang, LLMServer, Text, Tool
from support import AUTH_ENV, get, household, post, request, until

SF = "/cozygen/compat/spoonfeeder/api"
AIP = "/cozygen/compat/aiplayground/v1/chat/completions"
KEY = "sk-test-key-7890abcd"
RATE = 40  # LLM calls a minute per user on each mount (the tests' own calls stay well under it)
HELLO = [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Say hello"}]


@pytest.fixture(scope="module")
def llm() -> Iterator[LLMServer]:
    with LLMServer(key=KEY) as server:
        yield server


@pytest.fixture(scope="module")
def server(start_comfyui):
    return start_comfyui("ComfyUI-CozyGen-compat-llm", env={**AUTH_ENV, "COZYGEN_LLM_RATE_LIMIT": str(RATE)})


@pytest.fixture(scope="module")
def people(server) -> dict[str, dict[str, str]]:
    return household(server.url, {"sam": "user", "vic": "viewer", "rita": "user"})


@pytest.fixture(scope="module")
def providers(server, people, llm) -> dict[str, str]:
    """An openai-compatible provider with a key and an Ollama one, made through Spoon Feeder's settings as its
    Settings page saves them (the first made is the default); their ids by kind."""
    admin = people["admin"]
    made = request("PUT", f"{server.url}{SF}/settings/openai-compatible",
                   {"apiKey": KEY, "endpointUrl": llm.v1, "defaultModel": "fake-model"}, headers=admin)  # fmt: skip
    assert made.status == 200, made.body
    assert made.json() == {"success": True, "message": "Settings for openai-compatible updated",
                           "data": made.json()["data"]}  # fmt: skip
    made = request("PUT", f"{server.url}{SF}/settings/ollama", {"endpointUrl": llm.url, "apiKey": KEY}, headers=admin)
    assert made.status == 200, made.body
    return {e["provider"]: e["id"] for e in get(f"{server.url}{SF}/settings", headers=admin).json()["data"]}


def no_secret(reply: Any) -> None:
    assert KEY.encode() not in reply.body


# -- AI Playground: POST v1/chat/completions --------------------------------------------------------------------


def stream_lines(server, headers: dict[str, str], body: dict[str, Any], *, stop_after: int | None = None) -> list:
    """The ``data:`` payloads of a streamed answer (JSON parsed, ``[DONE]`` kept), the connection closed after
    ``stop_after`` of them when given."""
    parts = urlsplit(server.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.request("POST", AIP, json.dumps(body), {**headers, "Content-Type": "application/json"})
        reply = conn.getresponse()
        assert reply.status == 200, reply.read()
        assert reply.headers["Content-Type"].startswith("text/event-stream")
        found: list[Any] = []
        while stop_after is None or len(found) < stop_after:
            line = reply.readline()
            if not line:
                break
            if line.startswith(b"data: "):
                payload = line[6:].strip()
                found.append("[DONE]" if payload == b"[DONE]" else json.loads(payload))
        return found
    finally:
        conn.close()


def test_ai_playground_streams_the_default_providers_tokens_in_order(server, people, providers, llm) -> None:
    llm.reset()
    llm.script([Text(["Hel", "lo", " there"], usage={"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10})])
    body = {"model": "fake-small", "messages": HELLO, "stream": True, "temperature": 0.3, "max_tokens": 50,
            "stream_options": {"include_usage": True}}  # fmt: skip
    lines = stream_lines(server, people["sam"], body)
    assert lines[-1] == "[DONE]"
    chunks = lines[:-1]
    assert all(c["object"] == "chat.completion.chunk" and c["id"] == chunks[0]["id"] for c in chunks)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == "Hello there"
    finishes = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"] and c["choices"][0]["finish_reason"]]
    assert finishes == ["stop"]
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["total_tokens"] == 10
    sent = llm.chats[-1]
    assert sent.body["messages"] == HELLO and sent.body["stream"] is True
    assert sent.body["model"] == "fake-small"  # the provider lists it
    assert sent.body["temperature"] == 0.3 and sent.body["max_tokens"] == 50
    assert sent.headers["authorization"] == f"Bearer {KEY}"  # the provider's key, never the caller's token
    assert people["sam"]["Authorization"] not in json.dumps(sent.headers)
    assert "cookie" not in sent.headers


def test_ai_playground_answers_whole_with_the_default_model_for_an_unlisted_one(server, people, providers, llm):
    llm.reset()
    llm.script([Text(["Paris."])])
    reply = post(f"{server.url}{AIP}", {"model": "no-such-model", "messages": HELLO}, headers=people["sam"])
    assert reply.status == 200, reply.body
    answer = reply.json()
    assert answer["object"] == "chat.completion" and answer["id"].startswith("chatcmpl-")
    assert answer["choices"] == [{"index": 0, "message": {"role": "assistant", "content": "Paris."},
                                  "finish_reason": "stop"}]  # fmt: skip
    assert answer["usage"]["total_tokens"] == 15
    assert llm.chats[-1].body["model"] == "fake-model"  # not listed: the provider's default model
    assert llm.chats[-1].body.get("stream") in (None, False)


def test_ai_playground_relays_a_tool_call_whole(server, people, providers, llm) -> None:
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
    llm.reset()
    llm.script([Tool("get_weather", '{"city": "Oslo"}', id="call_1", pieces=4)])
    lines = stream_lines(server, people["sam"], {"messages": HELLO, "stream": True, "tools": tools})
    assert llm.chats[-1].body["tools"] == tools
    calls = [c["choices"][0]["delta"]["tool_calls"] for c in lines[:-1] if c["choices"][0]["delta"].get("tool_calls")]
    assert calls == [[{"index": 0, "id": "call_1", "type": "function",
                       "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}}]]  # fmt: skip
    assert lines[-2]["choices"][0]["finish_reason"] == "tool_calls"


@pytest.mark.parametrize(
    ("answer", "status", "code"),
    [(Error(401), 502, "LLM_FAILED"), (Error(500), 502, "LLM_FAILED"), (Garbage(), 502, "LLM_FAILED")],
)
def test_ai_playground_says_why_a_provider_failed_in_openais_shape(server, people, providers, llm, answer, status,
                                                                  code) -> None:  # fmt: skip
    for stream in (False, True):
        llm.reset()
        llm.script([answer, answer])  # one retry is allowed for a 5xx before any byte
        reply = post(f"{server.url}{AIP}", {"messages": HELLO, "stream": stream}, headers=people["sam"])
        assert reply.status == status, reply.body  # streamed too: it failed before its first token
        error = reply.json()["error"]
        assert error["code"] == code and error["type"] == "api_error" and error["message"]
        no_secret(reply)


def test_ai_playground_checks_the_request_in_openais_shape(server, people, providers) -> None:
    image = [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]
    wizard = [{"role": "wizard", "content": "x"}]
    bodies = ({}, {"messages": []}, {"messages": wizard}, {"messages": HELLO, "stream": "yes"},
              {"messages": HELLO, "temperature": 9}, {"messages": image})  # fmt: skip
    for body in bodies:
        reply = post(f"{server.url}{AIP}", body, headers=people["sam"])
        assert reply.status == 400, (body, reply.body)
        assert reply.json()["error"]["type"] == "invalid_request_error"
    huge = [{"role": "user", "content": "x" * 60_000}] * 2
    assert post(f"{server.url}{AIP}", {"messages": huge}, headers=people["sam"]).status == 413
    assert post(f"{server.url}{AIP}", {"messages": HELLO}, headers=people["vic"]).status == 403  # a viewer
    assert post(f"{server.url}{AIP}", {"messages": HELLO}).status == 401


def test_closing_the_stream_closes_the_providers(server, people, providers, llm) -> None:
    llm.reset()
    llm.script([Drip(["tick "] * 100, delay=0.1)])
    lines = stream_lines(server, people["sam"], {"messages": HELLO, "stream": True}, stop_after=3)
    assert len(lines) == 3
    assert until(lambda: llm.aborted, lambda n: n >= 1, timeout=15) >= 1
    assert until(lambda: llm.open_streams, lambda n: n == 0, timeout=15) == 0


def test_leaving_before_the_first_token_closes_the_providers_request(server, people, providers, llm) -> None:
    llm.reset()
    llm.script([Hang()])
    parts = urlsplit(server.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=1.5)
    try:
        body = json.dumps({"messages": HELLO, "stream": True})
        conn.request("POST", AIP, body, {**people["sam"], "Content-Type": "application/json"})
        with pytest.raises(TimeoutError):
            conn.getresponse()  # the provider never answers: nothing to send yet
    finally:
        conn.close()
    assert until(lambda: llm.aborted, lambda n: n >= 1, timeout=15) >= 1  # long before its 60 s first-token wait


def test_each_users_llm_calls_are_limited_in_one_bucket(server, people, providers, llm) -> None:
    """Past COZYGEN_LLM_RATE_LIMIT calls a minute, a user's call is a 429 with Retry-After before any model is
    asked, on every route that asks one (both mounts and the assistant spend the same bucket); another user is not
    held back."""
    asked = len(llm.chats)
    replies = [post(f"{server.url}{AIP}", {"messages": HELLO}, headers=people["rita"]) for _ in range(RATE + 10)]
    statuses = [r.status for r in replies]
    assert 429 in statuses and set(statuses) == {200, 429}, statuses
    limited = replies[statuses.index(429)]
    assert int(limited.headers["Retry-After"]) >= 1
    assert "LLM_RATE_LIMITED" in limited.body.decode()
    assert len(llm.chats) - asked == statuses.count(200)  # a refused call never reached the model
    asked = len(llm.chats)
    others = [
        (f"{SF}/chat", {"provider": "ollama", "messages": HELLO}),
        ("/cozygen/api/assistant/chat", {"workflow": "cozygen_procedural_demo.json", "values": {}, "message": "hi"}),
    ]
    for path, body in others:
        refused = post(f"{server.url}{path}", body, headers=people["rita"])
        assert refused.status == 429 and "LLM_RATE_LIMITED" in refused.body.decode(), (path, refused.body)
    assert len(llm.chats) == asked
    assert post(f"{server.url}{AIP}", {"messages": HELLO}, headers=people["sam"]).status == 200


# -- Spoon Feeder: chat ----------------------------------------------------------------------------------------


def test_spoonfeeder_chat_answers_as_the_client_and_the_seed_read_it(server, people, providers, llm) -> None:
    llm.reset()
    llm.script([Text(["The capital ", "is Paris."])])
    history = [*HELLO, {"role": "assistant", "content": "Hello."}, {"role": "user", "content": "Capital of France?"}]
    body = {"provider": "openai-compatible", "model": "fake-small", "messages": history,
            "profileId": providers["openai-compatible"]}  # fmt: skip
    reply = post(f"{server.url}{SF}/chat", body, headers=people["sam"])
    assert reply.status == 200, reply.body
    data = reply.json()["data"]
    assert reply.json()["success"] is True
    assert data["role"] == "assistant" and data["content"] == "The capital is Paris."  # the real client
    assert data["response"] == "The capital is Paris." and data["provider"] == "openai-compatible"  # the seed
    assert data["model"] == "fake-small" and data["usage"]["total_tokens"] == 15
    sent = llm.chats[-1]
    assert sent.body["messages"] == history and sent.body["model"] == "fake-small"
    assert sent.headers["authorization"] == f"Bearer {KEY}"


def test_spoonfeeder_chat_picks_the_provider_of_a_kind(server, people, providers, llm) -> None:
    llm.reset()
    llm.script([Text(["from ollama"])])
    reply = post(f"{server.url}{SF}/chat", {"provider": "ollama", "model": "fake-model", "messages": HELLO},
                 headers=people["sam"])  # fmt: skip
    assert reply.status == 200, reply.body
    assert reply.json()["data"]["content"] == "from ollama" and reply.json()["data"]["provider"] == "ollama"
    assert llm.chats[-1].path == "/v1/chat/completions"  # Ollama's OpenAI-compatible chat, at its root's /v1
    assert llm.chats[-1].headers["authorization"] == f"Bearer {KEY}"
    missing = post(f"{server.url}{SF}/chat", {"provider": "gemini", "model": "x", "messages": HELLO},
                   headers=people["sam"])  # fmt: skip
    assert missing.status == 503 and missing.json()["code"] == "NO_LLM"
    assert missing.json()["success"] is False and missing.json()["statusCode"] == 503


def test_spoonfeeder_chat_errors_in_the_seeds_shape(server, people, providers, llm) -> None:
    sam = people["sam"]
    bad = post(f"{server.url}{SF}/chat", {"provider": "ollama", "model": "x", "messages": []}, headers=sam)
    assert bad.status == 400 and bad.json()["success"] is False and bad.json()["statusCode"] == 400
    assert post(f"{server.url}{SF}/chat", {"provider": "comfyui", "messages": HELLO}, headers=sam).status == 400
    unknown = post(f"{server.url}{SF}/chat", {"profileId": "nope", "messages": HELLO}, headers=sam)
    assert unknown.status == 404 and unknown.json()["success"] is False
    llm.reset()
    llm.script([Error(401)])
    refused = post(f"{server.url}{SF}/chat", {"provider": "openai-compatible", "messages": HELLO}, headers=sam)
    assert refused.status == 502 and refused.json()["code"] == "LLM_FAILED"
    assert "API key" in refused.json()["error"]
    no_secret(refused)
    assert post(f"{server.url}{SF}/chat", {"messages": HELLO}, headers=people["vic"]).status == 403


# -- Spoon Feeder: models ---------------------------------------------------------------------------------------


def test_spoonfeeder_lists_every_providers_models(server, people, providers, llm) -> None:
    reply = get(f"{server.url}{SF}/models", headers=people["vic"])
    assert reply.status == 200, reply.body
    models = reply.json()["data"]
    by_provider = {(m["provider"], m["name"]): m for m in models}
    assert set(by_provider) == {(kind, name) for kind in ("openai-compatible", "ollama")
                                for name in ("fake-model", "fake-small")}  # fmt: skip
    for model in models:  # every field the real Models page reads
        assert isinstance(model["name"], str) and isinstance(model["size"], str)
        assert isinstance(model["loaded"], bool) and "chat" in model["capabilities"]
        assert isinstance(model["description"], str) and isinstance(model["parameters"], str)
    assert by_provider[("ollama", "fake-model")]["size"] == "1.0 MB"
    assert by_provider[("ollama", "fake-model")]["parameters"] == "1B"
    one = get(f"{server.url}{SF}/models/{quote('fake-small', safe='')}", headers=people["vic"])
    assert one.status == 200 and one.json()["data"]["name"] == "fake-small"
    missing = get(f"{server.url}{SF}/models/nope", headers=people["vic"])
    assert missing.status == 404 and missing.json()["statusCode"] == 404


def test_ollama_models_load_and_unload_and_say_so(server, people, providers, llm) -> None:
    admin, name = people["admin"], quote("fake-small", safe="")
    loaded = post(f"{server.url}{SF}/models/{name}/load", headers=admin)
    assert loaded.status == 200, loaded.body
    assert loaded.json() == {"success": True, "message": "Model fake-small loaded successfully"}
    assert llm.seen("/api/generate")[-1].body == {"model": "fake-small", "keep_alive": -1}
    status = get(f"{server.url}{SF}/models/{name}/status", headers=people["vic"]).json()["data"]
    assert status["name"] == "fake-small" and status["loaded"] is True and status["sizeVram"] == "1.0 MB"
    listed = {(m["provider"], m["name"]): m for m in get(f"{server.url}{SF}/models", headers=admin).json()["data"]}
    assert listed[("ollama", "fake-small")]["loaded"] is True
    unloaded = post(f"{server.url}{SF}/models/{name}/unload", headers=admin)
    assert unloaded.status == 200 and unloaded.json()["message"] == "Model fake-small unloaded successfully"
    assert llm.seen("/api/generate")[-1].body == {"model": "fake-small", "keep_alive": 0}
    assert get(f"{server.url}{SF}/models/{name}/status", headers=admin).json()["data"]["loaded"] is False
    missing = post(f"{server.url}{SF}/models/nope/load", headers=admin)
    assert missing.status == 404 and missing.json()["code"] == "MODEL_NOT_FOUND"
    assert post(f"{server.url}{SF}/models/{name}/load", headers=people["sam"]).status == 403


def test_another_kind_cannot_load_models_and_says_so(server, people, providers) -> None:
    query = f"?profileId={providers['openai-compatible']}"
    for method, path in (("POST", "load"), ("POST", "unload"), ("GET", "status")):
        reply = request(method, f"{server.url}{SF}/models/fake-model/{path}{query}", headers=people["admin"])
        assert reply.status == 501, reply.body
        body = reply.json()
        assert body["success"] is False and body["statusCode"] == 501 and body["code"] == "NOT_SUPPORTED"
        assert "only an Ollama provider can" in body["error"]


# -- Spoon Feeder: settings -------------------------------------------------------------------------------------


def test_settings_map_onto_the_provider_of_a_kind(server, people, providers, llm) -> None:
    admin = people["admin"]
    entry = get(f"{server.url}{SF}/settings/openai-compatible", headers=admin)
    assert entry.status == 200, entry.body
    data = entry.json()["data"]
    assert data["id"] == providers["openai-compatible"] and data["apiKey"] == "...abcd"
    assert data["endpointUrl"] == llm.v1 and data["defaultModel"] == "fake-model"
    no_secret(entry)
    tested = post(f"{server.url}{SF}/settings/openai-compatible/test", headers=admin)
    assert tested.status == 200, tested.body
    result = tested.json()["data"]
    assert result["connected"] is True and result["model"] == "fake-model" and "fake-small" in result["models"]
    assert isinstance(result["latency"], int)
    after = get(f"{server.url}{SF}/settings/openai-compatible", headers=admin).json()["data"]
    assert after["status"] == "connected" and after["lastTested"]
    kept = request("PUT", f"{server.url}{SF}/settings/openai-compatible", {"apiKey": "...abcd"}, headers=admin)
    assert kept.status == 200  # the mask sent back keeps the key: the provider still answers
    assert post(f"{server.url}{SF}/settings/openai-compatible/test", headers=admin).json()["data"]["connected"]
    listed = get(f"{server.url}{SF}/settings", headers=admin).json()["data"]
    assert {e["provider"] for e in listed} >= {"openai-compatible", "ollama"}
    assert all(KEY not in json.dumps(e) for e in listed)


def test_settings_of_a_keyed_kind_are_made_tested_and_removed(server, people, providers, llm) -> None:
    admin, url = people["admin"], f"{server.url}{SF}/settings/claude"
    nothing = get(url, headers=admin)
    assert nothing.status == 404 and nothing.json()["statusCode"] == 404
    needs_key = request("PUT", url, {"endpointUrl": llm.v1}, headers=admin)
    assert needs_key.status == 400 and "apiKey is required" in needs_key.json()["error"]
    wrong = request("PUT", url, {"apiKey": "sk-wrong-key-0000", "endpointUrl": llm.v1}, headers=admin)
    assert wrong.status == 200, wrong.body
    failed = post(f"{url}/test", headers=admin).json()["data"]
    assert failed["connected"] is False and failed["error"] and failed["message"] == failed["error"]
    assert get(url, headers=admin).json()["data"]["status"] == "error"
    fixed = request("PUT", url, {"apiKey": KEY}, headers=admin)
    assert fixed.status == 200
    assert post(f"{url}/test", headers=admin).json()["data"]["connected"] is True
    assert llm.seen("/v1/models")[-1].headers.get("x-api-key") == KEY  # claude's header
    gone = request("DELETE", url, headers=admin)
    assert gone.json() == {"success": True, "message": "Settings for claude deleted"}
    assert get(url, headers=admin).status == 404


def test_settings_are_admins_and_kinds_are_checked(server, people, providers) -> None:
    for who in ("sam", "vic"):
        assert get(f"{server.url}{SF}/settings", headers=people[who]).status == 403
        assert request("PUT", f"{server.url}{SF}/settings/ollama", {"endpointUrl": "http://127.0.0.1:9"},
                       headers=people[who]).status == 403  # fmt: skip
        assert post(f"{server.url}{SF}/settings/ollama/test", headers=people[who]).status == 403
        assert request("DELETE", f"{server.url}{SF}/settings/ollama", headers=people[who]).status == 403
    bad = request("PUT", f"{server.url}{SF}/settings/comfyui", {"apiKey": "x"}, headers=people["admin"])
    assert bad.status == 400 and bad.json()["code"] == "INVALID_PROVIDER"
    bad_url = request("PUT", f"{server.url}{SF}/settings/ollama", {"endpointUrl": "file:///etc/passwd"},
                      headers=people["admin"])  # fmt: skip
    assert bad_url.status == 400
