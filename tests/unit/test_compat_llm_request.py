"""The seeds' chat routes, alone: what a request may hold (messages, model, numbers, tools) and how events become
OpenAI's chunks and completions."""

from __future__ import annotations

import json

import pytest

from cozygen.api.compat import aiplayground_chat, llm_request
from cozygen.api.compat.spoonfeeder import settings
from cozygen.core.errors import BadRequest, CozyGenError, TooLarge
from cozygen.core.llm.model import Completion, Finished, TextDelta, ToolCall


def test_messages_keep_roles_and_text_and_join_text_parts() -> None:
    found = llm_request.messages([
        {"role": "system", "content": "be brief", "name": "ignored"},
        {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
    ])  # fmt: skip
    assert found == [{"role": "system", "content": "be brief"}, {"role": "user", "content": "a\nb"}]


def test_a_tool_round_passes_where_tools_are_allowed() -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    history = [{"role": "assistant", "content": None, "tool_calls": [call]},
               {"role": "tool", "tool_call_id": "c1", "content": '{"ok": true}'}]  # fmt: skip
    assert llm_request.messages(history, roles=llm_request.OPENAI_ROLES) == [
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "content": '{"ok": true}', "tool_call_id": "c1"},
    ]
    with pytest.raises(BadRequest):
        llm_request.messages(history)  # Spoon Feeder's chat: system, user, assistant only


@pytest.mark.parametrize(
    "bad",
    [None, [], "hi", [{"role": "user"}], [{"role": "root", "content": "x"}], [{"role": "user", "content": 3}],
     [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "http://x"}}]}],
     [{"role": "tool", "content": "x"}], [{"role": "assistant", "content": None, "tool_calls": [{"id": 1}]}]],
)  # fmt: skip
def test_odd_messages_are_400s(bad) -> None:
    with pytest.raises(BadRequest):
        llm_request.messages(bad, roles=llm_request.OPENAI_ROLES)


def test_too_much_text_or_too_many_messages_is_413() -> None:
    with pytest.raises(TooLarge):
        llm_request.messages([{"role": "user", "content": "x" * (llm_request.MAX_TEXT + 1)}])
    with pytest.raises(TooLarge):
        llm_request.messages([{"role": "user", "content": "x"}] * (llm_request.MAX_MESSAGES + 1))


def test_numbers_model_and_tools_are_checked() -> None:
    assert llm_request.temperature(0) == 0.0 and llm_request.temperature(None) is None
    assert llm_request.max_tokens(100) == 100 and llm_request.model_name("") is None
    for bad in (True, -0.1, 2.5, "1"):
        with pytest.raises(BadRequest):
            llm_request.temperature(bad)
    for bad in (0, 1.5, True, llm_request.MAX_TOKENS + 1):
        with pytest.raises(BadRequest):
            llm_request.max_tokens(bad)
    for bad in (3, "x" * 300, "bad\nname"):
        with pytest.raises(BadRequest):
            llm_request.model_name(bad)
    tool = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
    assert llm_request.tools([tool]) == [tool] and llm_request.tools([]) is None
    for bad in ("x", [1], [{"type": "function"}], [{"function": {"name": "f"}}], [tool] * 33):
        with pytest.raises(BadRequest):
            llm_request.tools(bad)


def test_events_become_openai_chunks() -> None:
    chunks = aiplayground_chat.Chunks("m", include_usage=True)
    start = json.loads(chunks.start()[6:])
    assert start["object"] == "chat.completion.chunk" and start["model"] == "m"
    assert start["choices"] == [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]
    assert chunks.of(TextDelta("")) == []
    text = json.loads(chunks.of(TextDelta("hi"))[0][6:])
    assert text["choices"][0]["delta"] == {"content": "hi"} and text["id"] == start["id"]
    calls = [json.loads(chunks.of(ToolCall(f"c{i}", "f", "{}"))[0][6:]) for i in range(2)]
    assert [c["choices"][0]["delta"]["tool_calls"][0]["index"] for c in calls] == [0, 1]
    end, usage = (json.loads(line[6:]) for line in chunks.of(Finished("tool_calls", {"total_tokens": 3})))
    assert end["choices"][0]["finish_reason"] == "tool_calls" and end["choices"][0]["delta"] == {}
    assert usage["choices"] == [] and usage["usage"] == {"total_tokens": 3}


def test_a_completion_in_openais_shape() -> None:
    done = Completion("", [ToolCall("c1", "f", '{"a": 1}')], "tool_calls", None, "")
    body = aiplayground_chat.completion_body(done, "asked", answer_id="chatcmpl-x", created=1)
    assert body["model"] == "asked" and body["usage"] is None
    assert body["choices"][0]["message"] == {
        "role": "assistant", "content": None,
        "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}}],
    }  # fmt: skip
    said = aiplayground_chat.completion_body(Completion("", [], "stop", None, "m"), "asked", answer_id="x", created=1)
    assert said["choices"][0]["message"]["content"] == "" and said["model"] == "m"


def test_openai_error_shape_and_key_mask() -> None:
    error = aiplayground_chat.openai_error(CozyGenError("nope"))
    assert error == {"error": {"message": "nope", "type": "api_error", "code": "INTERNAL", "param": None}}
    assert aiplayground_chat.openai_error(BadRequest("x"))["error"]["type"] == "invalid_request_error"
    assert settings.masked("sk-abcdef-7890") == "...7890"
    assert settings.masked("short") == "****" and settings.masked(None) is None
