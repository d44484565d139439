"""The assistant's turn over a scripted model (a fake of LLMClient.stream) and a real SQLite file: what is sent
(the system prompt, the user's own conversation, the tools), streamed text in order, tool rounds with the checks'
answers back to the model, errors, a stopped turn, the rate limit, the conversation's cap, confirm and undo."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest

from cozygen.core.assistant import conversation
from cozygen.core.assistant.conversation import Message
from cozygen.core.assistant.session import MAX_ROUNDS, Assistant
from cozygen.core.assistant.tools import Action
from cozygen.core.errors import BadRequest, Conflict, NotFound, RateLimited
from cozygen.core.graph.parameter import Parameter
from cozygen.core.jobs.ratelimit import RateLimiter, llm_limiter
from cozygen.core.jobs.service import Caller
from cozygen.core.llm.model import Finished, LLMError, NoProvider, Provider, TextDelta, ToolCall
from cozygen.core.store.db import Database
from cozygen.core.store.migrations import MIGRATIONS

PARAMS = [
    Parameter(name="prompt", label="Prompt", type="text", default="a lake"),
    Parameter(name="seed", label="Seed", type="seed", default=42, min=0, max=2**64 - 1),
    Parameter(name="steps", label="Steps", type="int", default=20, min=1, max=100),
]
PROVIDER = Provider(id="p1", name="Home", kind="openai-compatible", url="http://127.0.0.1:1/v1", key=None,
                    default_model="m", is_default=True)  # fmt: skip
ANN = Caller(username="ann", rate_key="user:ann")
BOB = Caller(username="bob", rate_key="user:bob")


class FakeLLM:
    """Answers each stream() with the next scripted list of events; ``hang`` waits forever after its events."""

    def __init__(self) -> None:
        self.answers: list[list[Any]] = []
        self.requests: list[dict[str, Any]] = []
        self.closed = 0

    def stream(self, provider: Provider, messages: list[dict[str, Any]], **options: Any) -> AsyncIterator[Any]:
        self.requests.append({"messages": orjson.loads(orjson.dumps(messages)), **options})
        return self._events(self.answers.pop(0))

    async def _events(self, events: list[Any]) -> AsyncIterator[Any]:
        try:
            for event in events:
                if event == "hang":
                    await asyncio.Event().wait()
                if isinstance(event, Exception):
                    raise event
                yield event
        finally:
            self.closed += 1


class FakeProviders:
    def __init__(self) -> None:
        self.provider: Provider | None = PROVIDER

    async def default(self) -> Provider:
        if self.provider is None:
            raise NoProvider()
        return self.provider


@dataclass
class FakeJobs:
    submitted: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)

    async def submit(self, caller: Caller, workflow: str, values: dict[str, Any]) -> tuple[Any, bool]:
        self.submitted.append((caller.username, workflow, values))
        return type("Job", (), {"id": f"job{len(self.submitted)}"})(), True

    async def cancel(self, caller: Caller, job_id: str) -> Any:
        if job_id == "job1":
            raise Conflict("already completed", code="JOB_FINISHED")
        self.cancelled.append(job_id)
        return None, True


@dataclass
class World:
    db: Database
    llm: FakeLLM
    providers: FakeProviders
    jobs: FakeJobs
    assistant: Assistant
    loop: asyncio.AbstractEventLoop

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def turn(self, message: str = "make it moody", *, user: Caller = ANN, values: Any = None) -> Any:
        async def tags(names: list[str]) -> dict[str, str | None]:
            return {n: n if n in ("smile", "1girl") else None for n in names}

        return self.run(self.assistant.begin(
            username=user.username, rate_key=user.rate_key, workflow="form.json", parameters=PARAMS,
            values={"prompt": "a lake at dawn"} if values is None else values, message=message, tags=tags,
        ))  # fmt: skip

    def chat(self, message: str = "make it moody", *, user: Caller = ANN) -> list[tuple[str, dict[str, Any]]]:
        turn = self.turn(message, user=user)

        async def read() -> list[tuple[str, dict[str, Any]]]:
            return [event async for event in turn.events()]

        return self.run(read())

    def saved(self, username: str = "ann") -> list[Message]:
        self.run(self.db.settle())
        return self.db.read(lambda conn: conversation.listing(conn, username))


@pytest.fixture
def world(tmp_path) -> Iterator[World]:
    loop = asyncio.new_event_loop()
    db = Database(tmp_path / "assistant.sqlite3")
    db.open(MIGRATIONS)
    llm, providers, jobs = FakeLLM(), FakeProviders(), FakeJobs()
    assistant = Assistant(db, llm, providers, lambda: jobs, limits=RateLimiter(0))  # type: ignore[arg-type]
    yield World(db, llm, providers, jobs, assistant, loop)
    db.close()
    loop.close()


def tool(name: str, args: dict[str, Any], call_id: str = "c1") -> ToolCall:
    return ToolCall(call_id, name, orjson.dumps(args).decode())


def test_text_streams_in_order_and_the_turn_is_kept(world: World) -> None:
    world.llm.answers = [[TextDelta("Try "), TextDelta("fog "), TextDelta("and dusk."), Finished("stop")]]
    events = world.chat()
    assert events == [("token", {"text": "Try "}), ("token", {"text": "fog "}), ("token", {"text": "and dusk."}),
                      ("done", {"reason": "stop"})]  # fmt: skip
    sent = world.llm.requests[0]
    assert sent["tools"][0]["function"]["name"] == "set_field"
    system, user = sent["messages"][0], sent["messages"][-1]
    assert system["role"] == "system" and "form.json" in system["content"]
    assert '- prompt (text, "Prompt"): "a lake at dawn"' in system["content"]
    assert '- steps (int, 1..100, "Steps"): 20' in system["content"]
    assert user == {"role": "user", "content": "make it moody"}
    saved = world.saved()
    assert [(m.role, m.content) for m in saved] == [
        ("user", {"text": "make it moody", "workflow": "form.json"}),
        ("assistant", {"text": "Try fog and dusk.", "reason": "stop"}),
    ]


def test_the_model_reads_the_users_own_conversation_only(world: World) -> None:
    world.llm.answers = [[TextDelta("bob's answer"), Finished("stop")], [TextDelta("ok"), Finished("stop")]]
    world.chat("bob's secret castle prompt", user=BOB)
    world.chat("hello")
    messages = world.llm.requests[1]["messages"]
    assert [m["role"] for m in messages] == ["system", "user"]
    assert "castle" not in orjson.dumps(messages).decode()
    world.llm.answers = [[TextDelta("again"), Finished("stop")]]
    world.chat("and now?")
    assert [m["content"] for m in world.llm.requests[2]["messages"][1:]] == ["hello", "ok", "and now?"]


def test_a_tool_call_becomes_an_action_and_its_check_goes_back_to_the_model(world: World) -> None:
    world.llm.answers = [
        [TextDelta("Setting."), tool("set_field", {"field": "steps", "value": 30}, "a"),
         tool("set_field", {"field": "steps", "value": 900}, "b"), tool("insert_tags", {"tags": ["smile", "zz"]}, "c"),
         Finished("tool_calls")],
        [TextDelta(" Done."), Finished("stop")],
    ]  # fmt: skip
    events = world.chat()
    kinds = [k for k, _ in events]
    assert kinds == ["token", "action", "action", "token", "done"]
    first, tags = events[1][1], events[2][1]
    assert first["tool"] == "set_field" and first["args"] == {"field": "steps", "value": 30} and not first["confirm"]
    assert tags["args"] == {"field": "prompt", "tags": ["smile"], "value": "a lake at dawn, smile"}
    second = world.llm.requests[1]["messages"]
    assert second[-4]["role"] == "assistant" and [c["id"] for c in second[-4]["tool_calls"]] == ["a", "b", "c"]
    replies = {m["tool_call_id"]: orjson.loads(m["content"]) for m in second[-3:]}
    assert replies["a"] == {"ok": True, "field": "steps", "value": 30}
    assert replies["b"] == {"ok": False, "error": "steps: 900 is above the maximum 100"}
    assert replies["c"]["refused"] == {"zz": "not in the tag list"}
    saved = world.saved()[-1]
    assert saved.content["text"] == "Setting. Done." and [a.id for a in saved.actions] == [first["id"], tags["id"]]


def test_tool_rounds_stop_after_the_limit_with_a_last_request_without_tools(world: World) -> None:
    call = tool("set_field", {"field": "steps", "value": 5})
    world.llm.answers = [[call, Finished("tool_calls")] for _ in range(MAX_ROUNDS)]
    world.llm.answers.append([TextDelta("that is all"), call, Finished("stop")])
    events = world.chat()
    assert [k for k, _ in events].count("action") == MAX_ROUNDS
    assert len(world.llm.requests) == MAX_ROUNDS + 1
    assert world.llm.requests[-1]["tools"] is None and events[-1] == ("done", {"reason": "stop"})


def test_a_provider_failing_mid_answer_is_an_error_event_and_the_turn_is_kept(world: World) -> None:
    world.llm.answers = [[TextDelta("Half"), LLMError("the LLM at 127.0.0.1:1 answered garbage")]]
    events = world.chat()
    assert events[-2:] == [("error", {"code": "LLM_FAILED", "message": "the LLM at 127.0.0.1:1 answered garbage"}),
                           ("done", {"reason": "error"})]  # fmt: skip
    assert world.saved()[-1].content == {"text": "Half", "reason": "error", "error": "LLM_FAILED"}


def test_a_stopped_turn_closes_the_providers_stream_and_keeps_the_partial_answer(world: World) -> None:
    world.llm.answers = [[TextDelta("Once upon"), "hang"]]
    turn = world.turn("tell me a story")

    async def read_then_stop() -> list[Any]:
        seen = []
        task = asyncio.ensure_future(_collect(turn.events(), seen))
        while not seen:
            await asyncio.sleep(0.001)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return seen

    assert world.run(read_then_stop()) == [("token", {"text": "Once upon"})]
    assert world.llm.closed == 1
    saved = world.saved()
    assert saved[0].content["text"] == "tell me a story"
    assert saved[1].content == {"text": "Once upon", "reason": "cancelled", "cancelled": True}


def test_a_turn_closed_between_two_tokens_closes_the_providers_stream(world: World) -> None:
    world.llm.answers = [[TextDelta("one"), TextDelta("two"), Finished("stop")]]
    turn = world.turn()

    async def first_then_close() -> Any:
        events = turn.events()
        first = await events.__anext__()
        await events.aclose()  # as the handler does when a write to the phone fails
        return first

    assert world.run(first_then_close()) == ("token", {"text": "one"})
    assert world.llm.closed == 1
    assert world.saved()[1].content["cancelled"] is True


async def _collect(events: AsyncIterator[Any], into: list[Any]) -> None:
    async for event in events:
        into.append(event)


def test_bad_messages_no_provider_and_the_rate_limit_come_before_the_stream(world: World) -> None:
    with pytest.raises(BadRequest, match="longer than 4000"):
        world.turn("x" * 4001)
    with pytest.raises(BadRequest):
        world.turn("   ")
    with pytest.raises(BadRequest, match="values must be an object"):
        world.turn(values=[1])
    world.assistant.limits = RateLimiter(1)
    world.providers.provider = None
    with pytest.raises(NoProvider):
        world.turn()  # spends no token
    world.providers.provider = PROVIDER
    world.turn()
    with pytest.raises(RateLimited) as limited:
        world.turn()
    assert limited.value.retry_after >= 1 and limited.value.status == 429
    world.turn(user=BOB)  # per user


def test_the_limit_comes_from_the_environment() -> None:
    assert llm_limiter({}).per_minute == 20
    assert llm_limiter({"COZYGEN_LLM_RATE_LIMIT": "5"}).per_minute == 5
    assert not llm_limiter({"COZYGEN_LLM_RATE_LIMIT": "0"}).enabled
    assert llm_limiter({"COZYGEN_LLM_RATE_LIMIT": "lots"}).per_minute == 20


def test_the_conversation_keeps_the_newest_50_messages_within_64_kb(world: World) -> None:
    def add(texts: list[str]) -> None:
        world.run(world.db.execute_write_fn(lambda conn: conversation.append(
            conn, "ann", [Message("user", {"text": t}) for t in texts], 1.0)))  # fmt: skip

    add([f"m{n}" for n in range(60)])
    saved = world.saved()
    assert len(saved) == 50 and saved[0].content["text"] == "m10" and saved[-1].content["text"] == "m59"
    add(["x" * 20_000 for _ in range(4)])
    assert [len(m.content["text"]) for m in world.saved()] == [20_000] * 3
    world.run(world.assistant.clear("ann"))
    assert world.saved() == []


def queue_turn(world: World, variations: int = 3, user: Caller = ANN) -> dict[str, Any]:
    world.llm.answers = [[tool("queue", {"variations": variations, "changes": {"steps": 8}}), Finished("tool_calls")],
                         [TextDelta("Confirm to run."), Finished("stop")]]  # fmt: skip
    return next(data for kind, data in world.chat(user=user) if kind == "action")


def test_confirm_queues_the_variations_with_new_seeds_once(world: World) -> None:
    action = queue_turn(world)
    assert action["confirm"] is True and action["args"] == {"variations": 3, "changes": {"steps": 8}}
    with pytest.raises(NotFound):
        world.run(world.assistant.confirm(BOB, action["id"]))  # not bob's
    jobs = world.run(world.assistant.confirm(ANN, action["id"]))
    assert jobs == ["job1", "job2", "job3"]
    assert world.jobs.submitted == [
        ("ann", "form.json", {"prompt": "a lake at dawn", "steps": 8}),
        ("ann", "form.json", {"prompt": "a lake at dawn", "steps": 8, "seed": -1}),
        ("ann", "form.json", {"prompt": "a lake at dawn", "steps": 8, "seed": -1}),
    ]
    assert world.run(world.assistant.confirm(ANN, action["id"])) == jobs  # again: the same jobs
    assert len(world.jobs.submitted) == 3
    kept = world.saved()[-1].actions[0]
    assert kept.state == "confirmed" and kept.jobs == jobs


def test_a_confirm_after_a_restart_finds_the_action_in_the_conversation(world: World) -> None:
    action = queue_turn(world, variations=1)
    fresh = Assistant(world.db, world.llm, world.providers, lambda: world.jobs, limits=RateLimiter(0))  # type: ignore[arg-type]
    assert world.run(fresh.confirm(ANN, action["id"], {"prompt": "now", "seed": 3})) == ["job1"]
    assert world.jobs.submitted == [("ann", "form.json", {"prompt": "now", "seed": 3, "steps": 8})]


def test_undo_cancels_the_jobs_still_running_and_an_undone_proposal_cannot_be_confirmed(world: World) -> None:
    action = queue_turn(world)
    world.run(world.assistant.confirm(ANN, action["id"]))
    assert world.run(world.assistant.undo(ANN, action["id"])) == ["job2", "job3"]  # job1 had finished
    assert world.saved()[-1].actions[0].state == "undone"
    other = queue_turn(world, variations=1)
    world.run(world.assistant.undo(ANN, other["id"]))
    with pytest.raises(Conflict, match="undone"):
        world.run(world.assistant.confirm(ANN, other["id"]))
    world.llm.answers = [[tool("set_field", {"field": "steps", "value": 9}), Finished("tool_calls")],
                         [Finished("stop")]]  # fmt: skip
    applied = next(d for k, d in world.chat() if k == "action")
    with pytest.raises(Conflict, match="nothing to confirm"):
        world.run(world.assistant.confirm(ANN, applied["id"]))


def test_actions_round_trip_through_the_store() -> None:
    action = Action("act1", "queue", {"variations": 2}, "queue 2 jobs", True, state="proposed", workflow="w",
                    values={"a": 1}, seeds=["seed"])  # fmt: skip
    assert Action.from_dict(orjson.loads(orjson.dumps(action.to_dict()))) == action
    assert "values" not in action.shown() and action.shown()["state"] == "proposed"
