"""The prompt assistant against a real ComfyUI and a scripted language model on loopback (tests/llm_server.py): what
CozyGen sends the model (the open form, the user's own conversation, the tools, the provider's key only) and what
it does with each answer (text streamed in order, tool calls checked, errors, a hang, garbage, a phone that goes
away mid-answer), the rate limit, confirm and undo of a queued job, and each user's own conversation."""

from __future__ import annotations

import http.client
import json
import socket
from typing import Any
from urllib.parse import urlsplit

import pytest
from llm_server import Calls, Drip, Error, Garbage, Hang, LLMServer, Text, Tool
from support import AUTH_ENV, get, household, post, request, until

FORM = "cozygen_procedural_form.json"
KEY = "sk-assistant-test"
LIMIT = 4  # chat messages a minute per user on this server
TAG_LIST = '1girl,0,6008644,"1girls,sole_female"\nlong_hair,0,4350743,"/lh,longhair"\nsmile,0,2000000,\n'
PATH = "/cozygen/api/assistant/chat"


@pytest.fixture(scope="module")
def llm():
    with LLMServer(key=KEY) as server:
        yield server


@pytest.fixture(scope="module")
def server(start_comfyui):
    return start_comfyui("ComfyUI-CozyGen-assistant", env={**AUTH_ENV, "COZYGEN_LLM_RATE_LIMIT": str(LIMIT)})


@pytest.fixture(scope="module")
def people(server) -> dict[str, dict[str, str]]:
    names = ("ann", "bob", "cat", "dan", "eve", "fay", "gus", "rita")
    return household(server.url, {**dict.fromkeys(names, "user"), "vic": "viewer"})


@pytest.fixture(scope="module")
def ready(server, people, llm) -> None:
    """The tag list in, and the model set up as the old settings' provider (enrich_url), with its key."""
    assert chat(server, people["ann"], "hello")[0] == 503  # nothing set up yet
    folder = server.user_dir / "cozygen" / "tags"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "danbooru.csv").write_text(TAG_LIST)
    settings = {"enrich_url": llm.v1, "enrich_api_key": KEY, "enrich_model": "fake-model", "enrich_timeout": 2}
    changed = request("PATCH", f"{server.url}/cozygen/api/settings", settings, headers=people["admin"])
    assert changed.status == 200, changed.body
    until(lambda: get(f"{server.url}/cozygen/api/tags/search?q=long_h", headers=people["ann"]).json(),
          lambda body: bool(body["items"]) and "partial" not in body)  # fmt: skip


def chat(server, headers: dict[str, str], message: str, values: dict[str, Any] | None = None,
         workflow: str = FORM) -> tuple[int, list[tuple[str, Any]], dict[str, str]]:  # fmt: skip
    """(status, the named events to the end of the stream, headers); an error's JSON body as one ("json", body)."""
    conn, response = open_chat(server, headers, {"workflow": workflow, "values": values or {}, "message": message})
    try:
        if response.status != 200:
            return response.status, [("json", json.loads(response.read()))], dict(response.headers)
        return 200, read_events(response), dict(response.headers)
    finally:
        conn.close()


def open_chat(server, headers: dict[str, str], body: dict[str, Any]) -> tuple[Any, Any]:
    parts = urlsplit(server.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    conn.request("POST", PATH, json.dumps(body), {**headers, "Content-Type": "application/json"})
    return conn, conn.getresponse()


def read_events(response: Any, stop_after: int | None = None) -> list[tuple[str, Any]]:
    events: list[tuple[str, Any]] = []
    name = ""
    for raw in iter(response.readline, b""):
        line = raw.decode().rstrip("\n")
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: "):
            events.append((name, json.loads(line[6:])))
            if stop_after is not None and len(events) >= stop_after:
                break
    return events


def named(events: list[tuple[str, Any]], kind: str) -> list[Any]:
    return [data for name, data in events if name == kind]


def test_text_streams_in_order_from_a_model_told_the_form_and_nothing_else(server, people, llm, ready) -> None:
    llm.reset()
    llm.script([Drip(["A misty ", "lake, ", "soft light."], delay=0.05)])
    status, events, headers = chat(server, people["ann"], "make it moodier", {"prompt": "a lake", "steps": 9})
    assert status == 200 and headers["Content-Type"].startswith("text/event-stream")
    assert "".join(d["text"] for d in named(events, "token")) == "A misty lake, soft light."
    assert events[-1] == ("done", {"reason": "stop"})
    sent = llm.chats[-1]
    assert sent.headers["authorization"] == f"Bearer {KEY}"  # the provider's key, never the user's token
    assert people["ann"]["Authorization"].split()[1] not in json.dumps(sent.headers) and "cookie" not in sent.headers
    body = sent.body
    assert body["stream"] is True and body["model"] == "fake-model"
    assert [t["function"]["name"] for t in body["tools"]] == ["set_field", "insert_tags", "queue"]
    system = body["messages"][0]["content"]
    assert f"The open workflow is {FORM!r}" in system
    assert '- prompt (text, "Prompt"): "a lake"' in system and '- steps (int, 1..50, "Steps"): 9' in system
    assert "- size (int, 64..1024" in system
    assert body["messages"][-1] == {"role": "user", "content": "make it moodier"}


def test_the_model_reads_the_users_own_conversation_only(server, people, llm, ready) -> None:
    llm.reset()
    llm.script([Text(["noted"]), Text(["hi bob"]), Text(["hi cat"])])
    assert chat(server, people["bob"], "my secret heron prompt")[0] == 200
    assert chat(server, people["bob"], "and again")[0] == 200
    assert chat(server, people["cat"], "hello")[0] == 200
    assert [m["content"] for m in llm.chats[1].body["messages"][1:]] == ["my secret heron prompt", "noted", "and again"]
    assert "heron" not in json.dumps(llm.chats[2].body)
    mine = get(f"{server.url}/cozygen/api/assistant/conversation", headers=people["cat"]).json()["messages"]
    assert [(m["role"], m["text"]) for m in mine] == [("user", "hello"), ("assistant", "hi cat")]
    assert "heron" not in json.dumps(mine)
    cleared = request("DELETE", f"{server.url}/cozygen/api/assistant/conversation", headers=people["bob"])
    assert cleared.status == 200 and cleared.json() == {"removed": 4}
    assert get(f"{server.url}/cozygen/api/assistant/conversation", headers=people["bob"]).json() == {"messages": []}


def test_tool_calls_become_actions_and_wrong_ones_go_back_to_the_model_with_the_reason(server, people, llm,
                                                                                       ready) -> None:  # fmt: skip
    llm.reset()
    llm.script([
        Calls([Tool("set_field", '{"field": "steps", "value": 30}', id="a"),
               Tool("set_field", '{"field": "steps", "value": 999}', id="b"),
               Tool("set_field", '{"field": "lora_strength", "value": 1}', id="c"),
               Tool("insert_tags", '{"tags": ["longhair", "1girl", "glitter_robot_horse"]}', id="d")],
              text=["On it."]),
        Text([" Done."]),
    ])  # fmt: skip
    status, events, _ = chat(server, people["dan"], "more steps and long hair", {"prompt": "portrait"})
    assert status == 200
    actions = named(events, "action")
    assert [(a["tool"], a["args"]) for a in actions] == [
        ("set_field", {"field": "steps", "value": 30}),
        ("insert_tags", {"field": "prompt", "tags": ["long_hair", "1girl"], "value": "portrait, long hair, 1girl"}),
    ]
    assert not any(a["confirm"] for a in actions)
    assert "".join(d["text"] for d in named(events, "token")) == "On it. Done."
    second = llm.chats[1].body["messages"]
    replies = {m["tool_call_id"]: json.loads(m["content"]) for m in second if m["role"] == "tool"}
    assert replies["a"] == {"ok": True, "field": "steps", "value": 30}
    assert replies["b"] == {"ok": False, "error": "steps: 999 is above the maximum 50"}
    assert replies["c"]["ok"] is False and "no field 'lora_strength'; its fields are: prompt" in replies["c"]["error"]
    assert replies["d"]["refused"] == {"glitter_robot_horse": "not in the tag list"}
    kept = get(f"{server.url}/cozygen/api/assistant/conversation", headers=people["dan"]).json()["messages"][-1]
    assert [a["id"] for a in kept["actions"]] == [a["id"] for a in actions]


@pytest.mark.parametrize(
    ("answer", "code", "says"),
    [(Error(401), "LLM_FAILED", "answered HTTP 401"), (Error(500, "boom"), "LLM_FAILED", "HTTP 500"),
     (Garbage(), "LLM_FAILED", ""), (Hang(), "LLM_TIMEOUT", "")],
)  # fmt: skip
def test_a_provider_that_errs_hangs_or_answers_garbage_ends_the_stream_in_words(server, people, llm, ready, answer,
                                                                                code, says) -> None:  # fmt: skip
    llm.reset()
    llm.script([answer, answer])  # a 5xx is tried once more
    status, events, _ = chat(server, people["eve"], "hello?")
    assert status == 200
    error = named(events, "error")[0]
    assert error["code"] == code and says in error["message"], error
    assert KEY not in error["message"]
    assert events[-1] == ("done", {"reason": "error"})


def test_a_phone_that_goes_away_stops_the_models_answer_at_once(server, people, llm, ready) -> None:
    llm.reset()
    llm.script([Drip([f"word{n} " for n in range(200)], delay=0.1)])
    conn, response = open_chat(server, people["fay"], {"workflow": FORM, "values": {}, "message": "a long story"})
    assert response.status == 200
    assert read_events(response, stop_after=2)[0] == ("token", {"text": "word0 "})
    conn.sock.shutdown(socket.SHUT_RDWR)
    conn.close()
    # the model's stream is closed long before the 20 s its answer takes (a hang of an earlier test may count too)
    assert until(lambda: (llm.open_streams, llm.aborted), lambda seen: seen == (0, seen[1]) and seen[1] >= 1,
                 timeout=10)[0] == 0  # fmt: skip
    kept = until(lambda: get(f"{server.url}/cozygen/api/assistant/conversation", headers=people["fay"]).json(),
                 lambda body: len(body["messages"]) == 2)["messages"]  # fmt: skip
    assert kept[0]["text"] == "a long story"
    assert kept[1]["cancelled"] is True and kept[1]["text"].startswith("word0 ")


def test_bad_input_an_unknown_workflow_and_the_rate_limit_come_before_the_stream(server, people, llm, ready) -> None:
    llm.reset()
    assert chat(server, people["gus"], "x" * 4001)[:2] == (400, [("json", {
        "error": "the message is longer than 4000 characters", "code": "MESSAGE_TOO_LONG"})])  # fmt: skip
    assert chat(server, people["gus"], "hi", workflow="no_such_flow.json")[0] == 404
    assert chat(server, people["gus"], "hi", values=[1])[0] == 400  # type: ignore[arg-type]
    assert chat(server, people["vic"], "hi")[0] == 403  # viewers do not generate
    assert post(f"{server.url}{PATH}", {"workflow": FORM, "message": "hi"}).status == 401
    assert llm.chats == []
    for _ in range(LIMIT):
        assert chat(server, people["rita"], "again")[0] == 200
    status, body, headers = chat(server, people["rita"], "again")
    assert status == 429 and body[0][1]["code"] == "LLM_RATE_LIMITED"
    assert int(headers["Retry-After"]) >= 1
    assert chat(server, people["gus"], "still fine")[0] == 200  # per user


def test_a_queue_action_runs_only_when_its_user_confirms_and_undo_cancels(server, people, llm, ready) -> None:
    llm.reset()
    changes = '{"variations": 2, "changes": {"steps": 2, "size": 64}}'
    llm.script([Calls([Tool("queue", changes)]), Text(["Confirm to run them."])])
    status, events, _ = chat(server, people["ann"], "make two", {"prompt": "a cat", "seed": 5})
    action = named(events, "action")[0]
    assert action["tool"] == "queue" and action["confirm"] is True
    assert action["args"] == {"variations": 2, "changes": {"steps": 2, "size": 64}}
    url = f"{server.url}/cozygen/api/assistant/actions/{action['id']}"
    assert post(f"{url}/confirm", headers=people["bob"]).status == 404  # not bob's
    confirmed = post(f"{url}/confirm", headers=people["ann"])
    assert confirmed.status == 200, confirmed.body
    jobs = confirmed.json()["jobs"]
    assert len(jobs) == 2
    seen = [get(f"{server.url}/cozygen/api/jobs/{j}", headers=people["ann"]).json()["job"] for j in jobs]
    assert all(j["username"] == "ann" and j["workflow"] == FORM for j in seen)
    assert seen[0]["params"]["seed"] == 5 and seen[1]["params"]["seed"] != 5  # a new seed for the variation
    assert seen[0]["params"]["steps"] == 2 and seen[0]["params"]["prompt"] == "a cat"
    assert post(f"{url}/confirm", headers=people["ann"]).json()["jobs"] == jobs  # again: the same jobs
    undone = post(f"{url}/undo", headers=people["ann"])
    assert undone.status == 200
    for job_id in jobs:
        job_url = f"{server.url}/cozygen/api/jobs/{job_id}"
        job = until(lambda: get(job_url, headers=people["ann"]).json()["job"],  # noqa: B023 (called at once)
                    lambda j: j["status"] not in ("pending", "running"))  # fmt: skip
        if job["status"] == "cancelled":
            assert job_id in undone.json()["jobs"]  # undo names every job it stopped
        else:  # it had ended, or ComfyUI finished it before the interrupt reached it
            assert job["status"] in ("completed", "interrupted"), job
    assert post(f"{server.url}/cozygen/api/assistant/actions/act0123456789abcdef/confirm",
                headers=people["ann"]).status == 404  # fmt: skip
