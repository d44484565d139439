"""The restart route over the fake host: 202 first, then CozyGen's parts stopped and the process run again;
409 while prompts run or wait unless forced; audited."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from unit.fake_host import FakeHost

from cozygen.api import system_restart
from cozygen.api.routing import Routes
from cozygen.api.state import CozyGenState
from cozygen.api.system_restart import RestartRoutes
from cozygen.core.accounts import users
from cozygen.core.errors import BadRequest, Conflict
from cozygen.core.restart import parse_force, plan_restart

PATH = "/cozygen/api/system/restart"


def test_plan_refuses_while_prompts_wait_unless_forced() -> None:
    assert plan_restart([], [], force=False).lost == 0
    with pytest.raises(Conflict) as refused:
        plan_restart(["a"], ["b", "c"], force=False)
    assert refused.value.code == "JOBS_ON_QUEUE"
    assert refused.value.extra == {"running_jobs": 1, "queued_jobs": 2}
    forced = plan_restart(["a"], ["b", "c"], force=True)
    assert forced.answer(12.5) == {
        "restarting": True, "running_jobs": 1, "queued_jobs": 2, "jobs_lost": 3, "started_at": 12.5,
    }  # fmt: skip
    assert forced.audit_detail() == "forced, 3 job(s) lost"


@pytest.mark.parametrize("body", [[], {"force": "yes"}, {"force": 1}])
def test_force_must_be_a_boolean(body: Any) -> None:
    with pytest.raises(BadRequest):
        parse_force(body)


def test_force_defaults_to_off() -> None:
    assert parse_force(None) is False and parse_force({}) is False and parse_force({"force": True}) is True


async def serve(state: CozyGenState) -> TestClient:
    table = web.RouteTableDef()
    Routes(table).post(PATH, access="admin")(RestartRoutes(state, started_at=100.0).restart)
    app = web.Application()
    app.add_routes(table)
    client = TestClient(TestServer(app))
    await client.start_server()
    return client


async def restart_flow(root: Path, *, queued: bool) -> tuple[FakeHost, CozyGenState, list[tuple[int, Any]]]:
    host = FakeHost(root)
    state = CozyGenState(host)
    await state.startup()
    db = state.db
    if queued:
        host.enqueue({}, [], prompt_id=host.new_prompt_id())
    client = await serve(state)
    answers = []
    try:
        for body in (None, {"force": True}) if queued else (None,):
            reply = await client.post(PATH, json=body) if body is not None else await client.post(PATH)
            answers.append((reply.status, await reply.json()))
            reply.release()
        await asyncio.sleep(system_restart.GRACE_SECONDS)
        for _ in range(600):  # the restart stops CozyGen's parts first: under load that takes a while
            if host.restarts or not answers or answers[-1][0] != 202:
                break
            await asyncio.sleep(0.05)
    finally:
        await client.close()
    with sqlite3.connect(db.path) as conn:  # closed by the restart: the audit log is read from the file
        conn.row_factory = sqlite3.Row
        entries = users.audit_entries(conn)
    conn.close()
    answers.append((0, [e for e in entries if e["action"] == "system.restart"]))
    return host, state, answers


def test_restart_answers_then_stops_cozygen_and_runs_again(tmp_path: Path) -> None:
    host, state, answers = asyncio.run(restart_flow(tmp_path, queued=False))
    (status, body), (_, audited) = answers
    assert status == 202
    assert body == {"restarting": True, "running_jobs": 0, "queued_jobs": 0, "jobs_lost": 0, "started_at": 100.0}
    assert host.restarts == 1
    assert not state.ready  # the database was closed before the process was replaced
    assert [e["detail"] for e in audited] == ["no job on the queue"]


def test_restart_is_refused_while_a_prompt_waits_unless_forced(tmp_path: Path) -> None:
    host, _state, answers = asyncio.run(restart_flow(tmp_path, queued=True))
    (refused, why), (status, body), (_, audited) = answers
    assert refused == 409 and why["code"] == "JOBS_ON_QUEUE" and why["queued_jobs"] == 1
    assert status == 202 and body["jobs_lost"] == 1
    assert host.restarts == 1
    assert [e["detail"] for e in audited] == ["forced, 1 job(s) lost"]
