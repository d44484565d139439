"""BackendService over a real SQLite file and a fake remote ComfyUI: the registry (local first, never stored,
secrets never answered), health (down after failures, up again, watchers told), the node list cache and events."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from cozygen.core.backends import health as health_module
from cozygen.core.backends import records
from cozygen.core.backends.model import DISABLED, DOWN, LOCAL_ID, UNKNOWN, UP, Backend
from cozygen.core.backends.remote import RemoteError
from cozygen.core.backends.service import EVENT, BackendService
from cozygen.core.errors import BadRequest, Conflict, NotFound
from cozygen.core.events import EventHub
from cozygen.core.store.db import Database

OBJECT_INFO = {
    "EmptyImage": {"input": {"required": {"width": ["INT", {}]}}},
    "CheckpointLoaderSimple": {"input": {"required": {"ckpt_name": [["a.safetensors"], {}]}}},
}


class FakeRemote:
    """A backend's answers, switchable: ``up`` False makes every request fail as an unreachable one would."""

    def __init__(self, backend: Backend, world: dict[str, Any]) -> None:
        self.backend, self.world, self.closed = backend, world, False

    async def get_json(self, path: str, *, params: dict[str, str] | None = None, cap: int = 0) -> Any:
        self.world["requests"].append((self.backend.url, path))
        if not self.world["up"]:
            raise RemoteError(f"backend {self.backend.name} is unreachable")
        if path == "/queue":
            return {"queue_running": [[1]], "queue_pending": [[2], [3]]}
        if path == "/system_stats":
            return {"system": {"comfyui_version": "0.3.75"}}
        if path == "/object_info":
            return OBJECT_INFO
        raise RemoteError("no such route", status=404)

    async def post_json(self, path: str, body: Any, *, cap: int = 0) -> tuple[int, Any]:
        return 200, {}

    async def download(self, params: dict[str, str], dest: Path, *, cap: int = 0) -> int:
        return 0

    async def upload_image(self, source: Path, *, name: str, subfolder: str = "") -> dict[str, Any]:
        return {}

    async def messages(self, client_id: str):  # pragma: no cover - not used here
        if False:
            yield "", None

    async def close(self) -> None:
        self.closed = True


@pytest.fixture
def world(db: Database):
    state: dict[str, Any] = {"up": True, "requests": [], "clients": []}
    hub = EventHub()

    def connect(backend: Backend) -> FakeRemote:
        client = FakeRemote(backend, state)
        state["clients"].append(client)
        return client

    async def local_info() -> dict[str, Any]:
        return {"SaveImage": {}}

    loop = asyncio.new_event_loop()
    service = BackendService(db, hub, connect, local_queue=lambda: (0, 4), local_object_info=local_info)
    loop.run_until_complete(service.start())
    loop.run_until_complete(service.monitor.stop())  # the tests probe by hand
    yield loop, service, state, hub
    loop.run_until_complete(service.stop())
    loop.close()


NEW = {"name": "attic", "url": "http://127.0.0.1:9/", "auth": "bearer", "secret": "s3cret-token", "tags": ["SDXL"]}


def test_local_is_first_always_there_and_never_stored(world, db: Database) -> None:
    loop, service, _, _ = world
    backends = service.backends()
    assert [b.id for b in backends] == [LOCAL_ID] and backends[0].url is None
    assert service.only_local
    rows = loop.run_until_complete(db.execute_fn(lambda conn: conn.execute("SELECT * FROM profiles").fetchall()))
    assert rows == []
    assert service.health(LOCAL_ID).state == UP and service.health(LOCAL_ID).queue_pending == 4
    with pytest.raises(Conflict):
        loop.run_until_complete(service.delete(LOCAL_ID))
    with pytest.raises(BadRequest):
        loop.run_until_complete(service.update(LOCAL_ID, {"url": "http://x"}))


def test_local_may_be_disabled_and_that_survives_a_restart(world, db: Database) -> None:
    loop, service, state, hub = world
    loop.run_until_complete(service.update(LOCAL_ID, {"enabled": False}))
    assert service.health(LOCAL_ID).state == DISABLED
    again = BackendService(db, hub, lambda b: FakeRemote(b, state), local_queue=lambda: (0, 0))
    loop.run_until_complete(again.start())
    try:
        assert again.get(LOCAL_ID).enabled is False
    finally:
        loop.run_until_complete(again.stop())


def test_create_keeps_the_secret_out_of_every_answer_and_event(world) -> None:
    loop, service, _, hub = world

    async def create() -> Any:
        sub = hub.subscribe()
        backend = await service.create(NEW, by="admin")
        event = await asyncio.wait_for(sub.queue.get(), 1)
        return backend, event

    backend, event = loop.run_until_complete(create())
    assert backend.url == "http://127.0.0.1:9" and backend.tags == ("sdxl",)
    assert backend.subfolder == "backends/attic"
    view = service.view(backend)
    assert view["has_secret"] is True and "s3cret" not in repr(view)
    assert event.kind == EVENT and "s3cret" not in repr(event.data)
    assert service.get("ATTIC").id == backend.id  # by name, case-insensitive
    assert not service.only_local


def test_bad_fields_are_refused_and_names_are_unique(world) -> None:
    loop, service, _, _ = world
    loop.run_until_complete(service.create(NEW, by=None))
    with pytest.raises(Conflict):
        loop.run_until_complete(service.create({**NEW, "name": "Attic"}, by=None))
    for bad in (
        {**NEW, "url": "ftp://x"},
        {**NEW, "url": "http://u:p@host"},
        {**NEW, "name": "local"},
        {**NEW, "auth": "bearer", "secret": None, "name": "b"},
        {**NEW, "name": "c", "extra": 1},
        {"name": "d"},
    ):
        with pytest.raises(BadRequest):
            loop.run_until_complete(service.create(bad, by=None))


def test_update_changes_only_what_is_sent_and_a_new_url_gets_a_new_client(world) -> None:
    loop, service, state, _ = world
    backend = loop.run_until_complete(service.create(NEW, by=None))
    first = service.client(backend.id)
    assert service.client(backend.id) is first
    updated = loop.run_until_complete(service.update(backend.id, {"max_jobs": 3}))
    assert updated.max_jobs == 3 and updated.secret == "s3cret-token" and service.client(backend.id) is first
    moved = loop.run_until_complete(service.update(backend.id, {"url": "http://127.0.0.2:9"}))
    assert moved.url == "http://127.0.0.2:9" and first.closed and service.client(backend.id) is not first
    cleared = loop.run_until_complete(service.update(backend.id, {"auth": "none"}))
    assert cleared.secret is None and cleared.auth_kind == "none"


def test_delete_forgets_it_and_refuses_while_jobs_run_there(world) -> None:
    loop, service, _, _ = world
    backend = loop.run_until_complete(service.create(NEW, by=None))
    service.set_active(backend.id, 1)
    with pytest.raises(Conflict):
        loop.run_until_complete(service.delete(backend.id))
    service.set_active(backend.id, 0)
    loop.run_until_complete(service.delete(backend.id))
    with pytest.raises(NotFound):
        service.get(backend.id)


def test_down_after_failures_up_again_and_watchers_told(world, monkeypatch) -> None:
    loop, service, state, _ = world
    backend = loop.run_until_complete(service.create(NEW, by=None))
    seen: list[str] = []
    service.watch(lambda b, h: seen.append(h.state))
    assert loop.run_until_complete(service.check(backend.id)).state == UP
    assert service.health(backend.id).queue_pending == 2 and service.health(backend.id).comfyui_version == "0.3.75"
    state["up"] = False
    states = [loop.run_until_complete(service.check(backend.id)).state for _ in range(health_module.FAILURES)]
    assert states[-1] == DOWN and states[0] == (UP if health_module.FAILURES > 1 else DOWN)
    assert "unreachable" in (service.health(backend.id).error or "")
    state["up"] = True
    assert loop.run_until_complete(service.check(backend.id)).state == UP
    assert seen == [UP, DOWN, UP]
    service.report_failure(backend.id, "socket closed")
    service.report_failure(backend.id, "socket closed")
    assert service.health(backend.id).state == DOWN


def test_node_list_is_read_cached_and_used_by_missing(world) -> None:
    loop, service, state, _ = world
    backend = loop.run_until_complete(service.create(NEW, by=None))
    assert service.health(backend.id).state == UNKNOWN
    result = loop.run_until_complete(service.test(backend.id))
    assert result["ok"] and result["nodes"] == 2 and result["comfyui_version"] == "0.3.75"
    reads = [r for r in state["requests"] if r[1] == "/object_info"]
    assert service.object_info(backend.id) == OBJECT_INFO
    assert [r for r in state["requests"] if r[1] == "/object_info"] == reads  # cached: no new read
    graph = {"1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "b.safetensors"}},
             "2": {"class_type": "KSampler", "inputs": {}}}  # fmt: skip
    assert service.missing(backend.id, graph) == [
        "file b.safetensors (CheckpointLoaderSimple.ckpt_name)",
        "node KSampler",
    ]


def test_an_unsaved_test_stores_nothing_and_a_bad_url_is_refused(world, db: Database) -> None:
    loop, service, state, _ = world
    result = loop.run_until_complete(service.test_unsaved({"url": "http://127.0.0.1:9", "name": "ignored"}))
    assert result["ok"] and state["clients"][-1].closed
    state["up"] = False
    failed = loop.run_until_complete(service.test_unsaved({"url": "http://127.0.0.1:9"}))
    assert failed["ok"] is False and "unreachable" in failed["error"]
    with pytest.raises(BadRequest):
        loop.run_until_complete(service.test_unsaved({"url": "file:///etc/passwd"}))
    count = loop.run_until_complete(db.execute_fn(lambda c: c.execute("SELECT count(*) FROM profiles").fetchone()[0]))
    assert count == 0


def test_disabled_backends_are_not_probed(world) -> None:
    loop, service, state, _ = world
    backend = loop.run_until_complete(service.create({**NEW, "enabled": False}, by=None))
    loop.run_until_complete(service.monitor.tick())
    assert not [r for r in state["requests"] if r[1] == "/queue"]
    loop.run_until_complete(service.update(backend.id, {"enabled": True}))
    loop.run_until_complete(service.monitor.tick())
    assert [r for r in state["requests"] if r[1] == "/queue"]
    loop.run_until_complete(service.update(backend.id, {"enabled": False}))
    state["requests"].clear()
    service.monitor.soon(backend.id)
    loop.run_until_complete(service.monitor.tick())
    assert not [r for r in state["requests"] if r[1] == "/queue"]
    assert service.health(backend.id).state == DISABLED


def test_a_workflow_pin_is_kept_across_a_restart_and_dropped_with_its_backend(world, db: Database) -> None:
    loop, service, state, hub = world
    backend = loop.run_until_complete(service.create(NEW, by=None))
    assert loop.run_until_complete(service.set_pin("blur.json", "ATTIC")) == backend  # a name, any case
    assert service.pin_of("blur.json") == backend.id and service.pin_of("other.json") is None
    with pytest.raises(NotFound):
        loop.run_until_complete(service.set_pin("other.json", "cellar"))
    with pytest.raises(BadRequest):
        loop.run_until_complete(service.set_pin("", backend.id))
    again = BackendService(db, hub, lambda b: FakeRemote(b, state), local_queue=lambda: (0, 0))
    loop.run_until_complete(again.start())
    try:
        assert again.pins() == {"blur.json": backend.id}
    finally:
        loop.run_until_complete(again.stop())
    loop.run_until_complete(service.delete(backend.id))
    assert service.pins() == {}
    assert loop.run_until_complete(db.execute_fn(records.pins)) == {}
    loop.run_until_complete(service.set_pin("blur.json", "local"))
    assert loop.run_until_complete(service.set_pin("blur.json", None)) is None and service.pins() == {}
