"""The one LLM client (core/llm/client.py) over the aiohttp transport (api/llm/transport.py), against the scripted
fake provider on loopback (tests/llm_server.py): what it sends, what it makes of each answer, its retry, timeouts,
caps and errors, and that closing a stream closes the provider's connection."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import pytest
from llm_server import Calls, Drip, Error, Garbage, Hang, LLMServer, Text, Tool
from loopback import bound
from support import until

from cozygen.api.llm.transport import AiohttpTransport
from cozygen.core.llm import client as client_module
from cozygen.core.llm.client import LLMClient
from cozygen.core.llm.model import Finished, LLMError, LLMTimeout, Provider, TextDelta, ToolCall

T = TypeVar("T")


@pytest.fixture(scope="module")
def server() -> Iterator[LLMServer]:
    with LLMServer(key="sk-test") as llm:
        yield llm


@pytest.fixture
def llm(server: LLMServer) -> LLMServer:
    server.reset()
    return server


def provider(llm: LLMServer, **changes: Any) -> Provider:
    values: dict[str, Any] = dict(id="p1", name="home", kind="openai-compatible", url=llm.v1, key="sk-test",
                                  default_model="fake-model", is_default=True, timeout=5.0)  # fmt: skip
    return Provider(**{**values, **changes})


def run(work: Callable[[LLMClient], Awaitable[T]], **options: Any) -> T:
    async def main() -> T:
        transport = AiohttpTransport()
        try:
            return await work(LLMClient(transport, **options))
        finally:
            await transport.close()

    return asyncio.run(main())


async def collect(client: LLMClient, p: Provider, **kwargs: Any) -> list[Any]:
    return [event async for event in client.stream(p, [{"role": "user", "content": "hi"}], **kwargs)]


def test_a_streamed_answer_arrives_in_order_and_says_what_was_sent(llm: LLMServer) -> None:
    llm.script([Text(["A red ", "fox, ", "snow"])])
    tools = [{"type": "function", "function": {"name": "set_field", "parameters": {"type": "object"}}}]
    events = run(lambda c: collect(c, provider(llm), tools=tools, temperature=0.5, max_tokens=100))
    assert events[:3] == [TextDelta("A red "), TextDelta("fox, "), TextDelta("snow")]
    assert isinstance(events[3], Finished) and events[3].reason == "stop" and events[3].usage["total_tokens"] == 15
    (sent,) = llm.chats
    assert sent.headers["authorization"] == "Bearer sk-test" and "cookie" not in sent.headers
    assert sent.body["model"] == "fake-model" and sent.body["stream"] is True and sent.body["tools"] == tools
    assert sent.body["messages"] == [{"role": "user", "content": "hi"}]
    assert sent.body["temperature"] == 0.5 and sent.body["max_tokens"] == 100


def test_tool_call_deltas_become_whole_calls(llm: LLMServer) -> None:
    args = json.dumps({"field": "prompt", "value": "a cat on a mat"})
    llm.script([Calls([Tool("set_field", args, id="c1", pieces=5), Tool("queue", '{"variations": 2}')], ["ok"])])
    events = run(lambda c: collect(c, provider(llm), model="fake-small"))
    assert events[0] == TextDelta("ok")
    assert events[1] == ToolCall("c1", "set_field", args)
    assert isinstance(events[2], ToolCall) and events[2].name == "queue" and events[2].arguments == '{"variations": 2}'
    assert isinstance(events[3], Finished) and events[3].reason == "tool_calls"
    assert llm.chats[0].body["model"] == "fake-small"


def test_complete_reads_a_whole_answer(llm: LLMServer) -> None:
    llm.script([Text(["a ", "castle"]), Tool("set_field", '{"field": "steps", "value": 20}')])

    async def both(c: LLMClient) -> tuple[Any, Any]:
        return await c.complete(provider(llm), [{"role": "user", "content": "x"}]), await c.complete(
            provider(llm), [{"role": "user", "content": "y"}]
        )

    first, second = run(both)
    assert (first.text, first.reason, first.model, first.tool_calls) == ("a castle", "stop", "fake-model", [])
    assert first.usage == {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
    assert second.reason == "tool_calls" and second.tool_calls[0].name == "set_field"
    assert [seen.body["stream"] for seen in llm.chats] == [False, False]


@pytest.mark.parametrize("streamed", [True, False])
def test_a_bad_key_is_one_error_a_person_can_act_on_and_not_retried(llm: LLMServer, streamed: bool) -> None:
    wrong = provider(llm, key="sk-wrong")
    with pytest.raises(LLMError) as caught:
        if streamed:
            run(lambda c: collect(c, wrong))
        else:
            run(lambda c: c.complete(wrong, [{"role": "user", "content": "x"}]))
    error = caught.value
    assert (error.status, error.code) == (502, "LLM_FAILED")
    assert f"127.0.0.1:{llm.port} answered HTTP 401" in error.message and "API key" in error.message
    assert "sk-wrong" not in error.message and "sk-test" not in error.message
    assert len(llm.chats) == 1


def test_a_503_before_any_byte_is_retried_once(llm: LLMServer) -> None:
    llm.script([Error(503), Text(["fine"])])
    events = run(lambda c: collect(c, provider(llm)), retry_delay=0.01)
    assert events[0] == TextDelta("fine") and len(llm.chats) == 2
    llm.reset()
    llm.script([Error(502), Error(503), Text(["never"])])
    with pytest.raises(LLMError, match="answered HTTP 503"):
        run(lambda c: c.complete(provider(llm), [{"role": "user", "content": "x"}]), retry_delay=0.01)
    assert len(llm.chats) == 2
    llm.reset()
    llm.script([Error(500)])
    with pytest.raises(LLMError, match="HTTP 500"):
        run(lambda c: collect(c, provider(llm)), retry_delay=0.01)
    assert len(llm.chats) == 1


def test_an_unreachable_provider_is_tried_twice_then_named() -> None:
    sock = bound()  # bound, never listening: connections are refused
    port = sock.getsockname()[1]
    try:
        gone = Provider("p", "gone", "ollama", f"http://127.0.0.1:{port}", None, "m", True)
        with pytest.raises(LLMError) as caught:
            run(lambda c: collect(c, gone), retry_delay=0.01)
        assert f"127.0.0.1:{port} could not be reached" in caught.value.message
        assert caught.value.code == "LLM_FAILED"
    finally:
        sock.close()


def test_a_provider_that_hangs_times_out_with_504_and_no_retry(llm: LLMServer) -> None:
    llm.script([Hang()])
    with pytest.raises(LLMTimeout) as caught:
        run(lambda c: collect(c, provider(llm, timeout=0.3)))
    assert (caught.value.status, caught.value.code) == (504, "LLM_TIMEOUT")
    assert "did not answer within 0.3 s" in caught.value.message
    assert len(llm.chats) == 1
    assert until(lambda: llm.aborted, lambda n: n == 1) == 1  # the connection was closed


def test_the_whole_answer_has_a_deadline(llm: LLMServer) -> None:
    llm.script([Drip(["x"] * 50, delay=0.05)])
    with pytest.raises(LLMTimeout, match="did not finish its answer within 0.3 s"):
        run(lambda c: collect(c, provider(llm)), total_timeout=0.3)


@pytest.mark.parametrize("streamed", [True, False])
def test_garbage_is_an_error(llm: LLMServer, streamed: bool) -> None:
    llm.script([Garbage()])
    with pytest.raises(LLMError, match="not a chat-completions stream"):
        if streamed:
            run(lambda c: collect(c, provider(llm)))
        else:
            run(lambda c: c.complete(provider(llm), [{"role": "user", "content": "x"}]))


def test_a_long_answer_is_cut_with_reason_length(llm: LLMServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client_module, "MAX_ANSWER", 10)
    llm.script([Text(["abcdef", "ghijkl", "mnop"])])
    events = run(lambda c: collect(c, provider(llm)))
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "abcdefghij"
    assert isinstance(events[-1], Finished) and events[-1].reason == "length"


def test_a_line_over_64_kb_is_refused(llm: LLMServer) -> None:
    llm.script([Text(["x" * 70_000])])
    with pytest.raises(LLMError, match="a line longer than 64 KB"):
        run(lambda c: collect(c, provider(llm)))


def test_closing_the_stream_closes_the_providers_connection(llm: LLMServer) -> None:
    llm.script([Drip(["one", "two", "three", "four"], delay=0.3)])

    async def first_only(c: LLMClient) -> Any:
        events = c.stream(provider(llm), [{"role": "user", "content": "hi"}])
        first = await events.__anext__()
        await events.aclose()  # type: ignore[attr-defined]
        return first

    assert run(first_only) == TextDelta("one")
    assert until(lambda: (llm.aborted, llm.open_streams), lambda seen: seen == (1, 0)) == (1, 0)


def test_a_cancelled_reader_closes_the_connection(llm: LLMServer) -> None:
    llm.script([Drip(["one", "two", "three"], delay=0.5)])

    async def cancelled(c: LLMClient) -> list[Any]:
        seen: list[Any] = []

        async def read() -> None:
            async for event in c.stream(provider(llm), [{"role": "user", "content": "hi"}]):
                seen.append(event)

        task = asyncio.ensure_future(read())
        while not seen:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return seen

    assert run(cancelled) == [TextDelta("one")]
    assert until(lambda: (llm.aborted, llm.open_streams), lambda seen: seen == (1, 0)) == (1, 0)


def test_models_of_each_kind(llm: LLMServer) -> None:
    names = run(lambda c: c.models(provider(llm)))
    assert names == ["fake-model", "fake-small"]
    assert llm.seen("/v1/models")[0].headers["authorization"] == "Bearer sk-test"
    ollama = provider(llm, kind="ollama", url=llm.url, key=None)
    assert run(lambda c: c.models(ollama)) == ["fake-model", "fake-small"]
    assert len(llm.seen("/api/tags")) == 1
    with pytest.raises(LLMError, match="HTTP 401"):
        run(lambda c: c.models(provider(llm, key=None)))
