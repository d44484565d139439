"""One turn of the assistant's chat, and the confirm and undo of its actions.

A turn is checked before anything streams (:meth:`Assistant.begin`: 400 bad input, 503 ``NO_LLM``, 429 with
``retry_after``); :meth:`Turn.events` then asks the default provider with the tools, streams its text as ``token``
events, checks each tool call (``action`` events for the valid ones, the reason back to the model for the others),
up to ``MAX_ROUNDS`` tool rounds, then the final text, and ends with ``done``. The turn is written to the user's
conversation when it ends; a turn stopped (the phone closed the stream, cancelling the task) keeps the user's
message and the partial answer marked ``cancelled``.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, Callable, Sequence
from typing import TYPE_CHECKING, Any

import orjson

from ..errors import BadRequest, Conflict, CozyGenError, NotFound, RateLimited
from ..graph.parameter import Parameter
from ..jobs.ratelimit import RateLimiter, llm_limiter
from ..llm.model import Finished, Provider, TextDelta, ToolCall
from . import conversation
from .context import system_prompt
from .conversation import ASSISTANT, USER, Message
from .tools import CONFIRMED, SCHEMAS, UNDONE, Action, TagLookup, Toolbox

if TYPE_CHECKING:
    from ..jobs.service import Caller, JobService
    from ..llm.client import LLMClient
    from ..llm.providers import ProviderService
    from ..store.db import Database

log = logging.getLogger("cozygen")
MAX_MESSAGE = 4000  # characters of a user's message
MAX_ROUNDS = 4  # tool rounds per message; then the final text
MAX_TEXT = 32_000  # characters of a turn's answer kept
HISTORY = 20  # messages of the conversation the model reads again
MAX_LIVE = 500  # actions of turns in flight (and just ended) kept in memory for a confirm
Event = tuple[str, dict[str, Any]]


def check_message(message: Any) -> str:
    if not isinstance(message, str) or not message.strip():
        raise BadRequest('send {"workflow", "values", "message": "<text>"}', code="INVALID_MESSAGE")
    if len(message) > MAX_MESSAGE:
        raise BadRequest(f"the message is longer than {MAX_MESSAGE} characters", code="MESSAGE_TOO_LONG")
    return message.strip()


def model_history(messages: Sequence[Message]) -> list[dict[str, Any]]:
    """The user's earlier messages as the model reads them again (actions as a note after the answer)."""
    out = []
    for message in messages[-HISTORY:]:
        text = str(message.content.get("text") or "")
        if message.role == ASSISTANT:
            done = [a.summary for a in message.actions if a.state != UNDONE]
            text = (text + (f"\n[actions: {'; '.join(done)}]" if done else "")).strip() or "(no answer)"
        out.append({"role": message.role, "content": text})
    return out


class Assistant:
    """The chat over the default provider, each user's conversation, and the actions' confirm and undo."""

    def __init__(
        self,
        db: Database,
        llm: LLMClient,
        providers: ProviderService,
        jobs: Callable[[], JobService],
        *,
        limits: RateLimiter | None = None,
    ) -> None:
        self.db, self.llm, self.providers, self.jobs = db, llm, providers, jobs
        self.limits = limits if limits is not None else llm_limiter()
        self._live: collections.OrderedDict[str, tuple[str, Action]] = collections.OrderedDict()
        self._busy: set[str] = set()  # actions being confirmed or undone

    async def begin(
        self, *, username: str, rate_key: str, workflow: str, parameters: Sequence[Parameter], values: Any,
        message: Any, tags: TagLookup,
    ) -> Turn:  # fmt: skip
        """A turn ready to stream, or the error to answer instead (400, 503 ``NO_LLM``, 429)."""
        text = check_message(message)
        if not isinstance(values, dict):
            raise BadRequest("values must be an object of field -> value", code="INVALID_VALUES")
        provider = await self.providers.default()
        wait = self.limits.take(rate_key)
        if wait:
            raise RateLimited(f"too many messages to the assistant; try again in {wait} s", retry_after=wait,
                              code="LLM_RATE_LIMITED", extra={"retry_after": wait})  # fmt: skip
        earlier = await self.db.execute_fn(lambda conn: conversation.listing(conn, username))
        toolbox = Toolbox(workflow, parameters, values, tags)
        messages = [
            {"role": "system", "content": system_prompt(workflow, parameters, toolbox.values)},
            *model_history(earlier),
            {"role": "user", "content": text},
        ]
        return Turn(self, provider, username, workflow, text, messages, toolbox)

    # -- conversations -----------------------------------------------------------------------------------
    async def conversation(self, username: str) -> list[dict[str, Any]]:
        found = await self.db.execute_settled(lambda conn: conversation.listing(conn, username))
        return [m.shown() for m in found]

    async def clear(self, username: str) -> int:
        for action_id in [k for k, (owner, _) in self._live.items() if owner == username]:
            del self._live[action_id]
        return await self.db.execute_write_fn(lambda conn: conversation.clear(conn, username))

    def remember(self, username: str, action: Action) -> None:
        self._live[action.id] = (username, action)
        while len(self._live) > MAX_LIVE:
            self._live.popitem(last=False)

    # -- actions -----------------------------------------------------------------------------------------
    async def action(self, username: str, action_id: str) -> Action:
        """The user's action (of a turn in flight or of the conversation), or 404 ``ACTION_NOT_FOUND``."""
        live = self._live.get(action_id)
        if live is not None and live[0] == username:
            return live[1]
        found = await self.db.execute_settled(lambda conn: conversation.find_action(conn, username, action_id))
        action = next((a for a in found[1] if a.id == action_id), None) if found else None
        if action is None:
            raise NotFound(f"no assistant action {action_id[:40]}", code="ACTION_NOT_FOUND")
        self.remember(username, action)
        return action

    async def confirm(self, caller: Caller, action_id: str, values: Any = None) -> list[str]:
        """Queue a proposed ``queue`` action's job(s) as the caller (the form values it was proposed with, or
        ``values`` the phone sends, plus its changes; each variation after the first with new seeds). Confirming
        again answers the same jobs."""
        action = await self.action(caller.username, action_id)
        if action.tool != "queue":
            raise Conflict(f"a {action.tool} action is applied at once: there is nothing to confirm",
                           code="NOTHING_TO_CONFIRM")  # fmt: skip
        if action.state == CONFIRMED:
            return list(action.jobs)
        if action.state == UNDONE:
            raise Conflict("this action was undone: ask the assistant again", code="ACTION_UNDONE")
        if values is not None and not isinstance(values, dict):
            raise BadRequest("values must be an object of field -> value", code="INVALID_VALUES")
        with self._only_once(action):
            base = dict(values if values is not None else action.values)
            service = self.jobs()
            try:
                for n in range(int(action.args.get("variations") or 1)):
                    chosen = {**base, **(action.args.get("changes") or {})}
                    if n:
                        chosen.update(dict.fromkeys(action.seeds, -1))  # a new random seed
                    job, _ = await service.submit(caller, action.workflow, chosen)
                    action.jobs.append(job.id)
            finally:
                if action.jobs:
                    action.state = CONFIRMED
                    await self._save(caller.username, action)
        return list(action.jobs)

    async def undo(self, caller: Caller, action_id: str) -> list[str]:
        """Mark the action undone (the phone restores a field itself); a confirmed ``queue`` action's jobs are
        cancelled if they still wait or run. The jobs cancelled."""
        action = await self.action(caller.username, action_id)
        cancelled: list[str] = []
        with self._only_once(action):
            service = self.jobs() if action.jobs else None
            for job_id in action.jobs:
                try:
                    await service.cancel(caller, job_id)  # type: ignore[union-attr]  # jobs: a service
                except (Conflict, NotFound):  # ended already
                    continue
                cancelled.append(job_id)
            action.state = UNDONE
            await self._save(caller.username, action)
        return cancelled

    @contextlib.contextmanager
    def _only_once(self, action: Action) -> Any:
        if action.id in self._busy:
            raise Conflict("this action is being confirmed or undone already", code="ACTION_BUSY")
        self._busy.add(action.id)
        try:
            yield
        finally:
            self._busy.discard(action.id)

    async def _save(self, username: str, action: Action) -> None:
        copy = Action.from_dict(action.to_dict())  # the writer thread serializes it later
        await self.db.execute_write_fn(lambda conn: conversation.save_action(conn, username, copy))

    def write_turn(self, username: str, messages: list[Message]) -> Any:
        """Queue the turn's messages for the writer (not awaited: a cancelled turn writes too); the future."""
        copies = [Message(m.role, dict(m.content), [Action.from_dict(a.to_dict()) for a in m.actions])
                  for m in messages]  # fmt: skip
        now = time.time()
        return self.db.submit_write(lambda conn: conversation.append(conn, username, copies, now))


class Turn:
    """One message of the user's and the answer to it, streamed."""

    def __init__(
        self, assistant: Assistant, provider: Provider, username: str, workflow: str, text: str,
        messages: list[dict[str, Any]], toolbox: Toolbox,
    ) -> None:  # fmt: skip
        self.assistant, self.provider, self.username = assistant, provider, username
        self.workflow, self.text, self.messages, self.toolbox = workflow, text, messages, toolbox
        self.answer: list[str] = []
        self.actions: list[Action] = []
        self.answered = 0  # characters of the answer

    async def events(self) -> AsyncGenerator[Event, None]:
        ended: dict[str, Any] | None = None
        try:
            reason = "stop"
            try:
                for round_ in range(MAX_ROUNDS + 1):
                    calls: list[ToolCall] = []
                    asked = self._round(calls, tools=round_ < MAX_ROUNDS)
                    try:
                        async for kind, data in asked:
                            if kind == "done":
                                reason = data["reason"]
                            else:
                                yield kind, data
                    finally:  # this turn closed at a yield closes the provider's stream too
                        await asked.aclose()
                    if not calls:
                        break
                    for call in calls:
                        outcome = await self.toolbox.run(call)
                        if outcome.action is not None:
                            self.actions.append(outcome.action)
                            self.assistant.remember(self.username, outcome.action)
                            yield "action", outcome.action.to_event()
                        self.messages.append({"role": "tool", "tool_call_id": call.id,
                                              "content": orjson.dumps(outcome.reply).decode()})  # fmt: skip
            except CozyGenError as error:
                ended = {"reason": "error", "error": error.code}
                await self._write(ended)
                yield "error", {"code": error.code, "message": error.message}
                yield "done", {"reason": "error"}
                return
            ended = {"reason": reason}
            await self._write(ended)
            yield "done", {"reason": reason}
        finally:
            if ended is None:  # stopped: the phone went away, or the task was cancelled
                self._write_now({"reason": "cancelled", "cancelled": True})

    async def _round(self, calls: list[ToolCall], *, tools: bool) -> AsyncGenerator[Event, None]:
        """One request to the provider: its text as ``token`` events, its tool calls into ``calls`` (and on the
        messages as the assistant's turn), its finish reason as a last ``done``."""
        said: list[str] = []
        reason = "stop"
        stream = self.assistant.llm.stream(self.provider, self.messages, tools=SCHEMAS if tools else None)
        try:
            async for event in stream:
                if isinstance(event, TextDelta) and event.text:
                    room = MAX_TEXT - self.answered
                    piece = event.text[: max(0, room)]
                    if piece:
                        said.append(piece)
                        self.answer.append(piece)
                        self.answered += len(piece)
                        yield "token", {"text": piece}
                elif isinstance(event, ToolCall) and tools:
                    calls.append(event)
                elif isinstance(event, Finished):
                    reason = event.reason
        finally:  # closed at once when the turn stops: the provider's connection with it
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                await aclose()
        if calls:
            self.messages.append({
                "role": "assistant", "content": "".join(said) or None,
                "tool_calls": [{"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                               for c in calls],
            })  # fmt: skip
        yield "done", {"reason": reason}

    def _messages(self, ended: dict[str, Any]) -> list[Message]:
        answer: dict[str, Any] = {"text": "".join(self.answer), **ended}
        return [Message(USER, {"text": self.text, "workflow": self.workflow}),
                Message(ASSISTANT, answer, self.actions)]  # fmt: skip

    async def _write(self, ended: dict[str, Any]) -> None:
        await asyncio.wrap_future(self.assistant.write_turn(self.username, self._messages(ended)))

    def _write_now(self, ended: dict[str, Any]) -> None:
        future = self.assistant.write_turn(self.username, self._messages(ended))
        future.add_done_callback(_log_failure)


def _log_failure(future: Any) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.error("CozyGen: a stopped assistant turn could not be written: %s", future.exception())
