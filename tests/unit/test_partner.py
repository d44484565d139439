"""Partner nodes: which class types they are, the partner model list, the check's missing key, and the Comfy API key
that JobService hands to ComfyUI with the prompts of a partner graph only (FakeHost and a real SQLite file), which
ComfyUIHost queues in ComfyUI's ``sensitive`` slot and masks in ComfyUI's request logs."""

from __future__ import annotations

import asyncio
import sys
import types
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from unit.fake_host import FakeHost

from cozygen.api.host import ComfyUIHost
from cozygen.core.comfyui import partner
from cozygen.core.comfyui.claims import Claims
from cozygen.core.events import EventHub
from cozygen.core.graph.fill import Filled
from cozygen.core.graph.parameter import Parameter
from cozygen.core.jobs import records
from cozygen.core.jobs.ratelimit import RateLimiter
from cozygen.core.jobs.service import Caller, JobService
from cozygen.core.jobs.tracker import JobTracker
from cozygen.core.store.db import Database
from cozygen.core.store.migrations import MIGRATIONS

KEY = "comfyui-7f3c2a9d4be1f0a8c6d5e4b3a2918070"
API_NODE = {"input": {"required": {}}, "output": ["IMAGE"], "api_node": True}
LOCAL_NODE = {"input": {"required": {}}, "output": ["IMAGE"], "api_node": False}
OBJECT_INFO = {
    "FluxProUltraImageNode": API_NODE,
    "OpenAIDalle3": API_NODE,
    "EmptyImage": LOCAL_NODE,
    "SaveImage": {"input": {"required": {}}, "output": []},  # no api_node at all: an older ComfyUI's or a V1 node
    "Odd": "not a definition",
}
PARTNER_GRAPH = {
    "1": {"class_type": "FluxProUltraImageNode", "inputs": {"prompt": "a fox", "seed": 1}},
    "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "x"}},
}
LOCAL_GRAPH = {
    "1": {"class_type": "EmptyImage", "inputs": {"width": 8, "height": 8, "batch_size": 1, "color": 0}},
    "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "x"}},
}
ANN = Caller(username="ann", rate_key="user:ann")
SEED = [Parameter(name="seed", label="Seed", type="seed", targets=[("1", "seed")])]


# -- the pure part ----------------------------------------------------------------------------------------------
def test_partner_classes_are_the_definitions_marked_api_node() -> None:
    assert partner.partner_classes(OBJECT_INFO) == {"FluxProUltraImageNode", "OpenAIDalle3"}
    assert partner.partner_classes(None) == frozenset() and partner.partner_classes([]) == frozenset()


def test_a_graph_uses_the_partner_nodes_it_names_read_from_object_info_or_a_set() -> None:
    graph = {**PARTNER_GRAPH, "3": {"class_type": "OpenAIDalle3", "inputs": {}}, "4": dict(PARTNER_GRAPH["1"])}
    assert partner.uses_partner_nodes(graph, OBJECT_INFO) == ["FluxProUltraImageNode", "OpenAIDalle3"]
    assert partner.uses_partner_nodes(graph, {"OpenAIDalle3"}) == ["OpenAIDalle3"]
    assert partner.uses_partner_nodes(LOCAL_GRAPH, OBJECT_INFO) == []
    junk = {"1": "node", "2": {"class_type": 5}, "3": {"inputs": {}}, "4": {"class_type": ["FluxProUltraImageNode"]}}
    assert partner.uses_partner_nodes(junk, OBJECT_INFO) == []
    assert partner.uses_partner_nodes(["FluxProUltraImageNode"], OBJECT_INFO) == []


def test_the_key_goes_only_with_a_partner_graph_and_only_when_one_is_set() -> None:
    assert partner.key_for(PARTNER_GRAPH, OBJECT_INFO, KEY) == KEY
    assert partner.key_for(PARTNER_GRAPH, OBJECT_INFO, f"  {KEY}\t") == KEY
    assert partner.key_for(LOCAL_GRAPH, OBJECT_INFO, KEY) is None
    for unset in ("", "   ", None, 42):
        assert partner.key_for(PARTNER_GRAPH, OBJECT_INFO, unset) is None


def test_the_partner_models_listed_are_those_whose_node_this_comfyui_has() -> None:
    listed = partner.listed_models(OBJECT_INFO)
    assert [m["node"] for m in listed] == ["FluxProUltraImageNode", "OpenAIDalle3"]
    flux, dalle = listed
    assert flux == {
        "id": "flux-pro", "name": "FLUX 1.1 [pro] Ultra", "filename": "flux-pro", "provider": "Black Forest Labs",
        "node": "FluxProUltraImageNode",
    }  # fmt: skip
    assert dalle["id"] == dalle["filename"] == "dall-e-3"  # DreamLayer's own ids where it has one
    assert partner.listed_models(set()) == [] and partner.listed_models({}) == []
    ids = [m.id for m in partner.PARTNER_MODELS]
    assert len(ids) == len(set(ids)) and len({m.node for m in partner.PARTNER_MODELS}) == len(ids)


def test_the_check_reports_the_missing_key_of_a_partner_graph_only() -> None:
    report = {"ok": True, "missing_nodes": [], "missing_models": {}, "invalid_values": []}
    assert partner.key_report(report, LOCAL_GRAPH, OBJECT_INFO, key_set=False) is report
    missing = partner.key_report(report, PARTNER_GRAPH, OBJECT_INFO, key_set=False)
    partner_nodes = ["FluxProUltraImageNode"]
    assert missing == {**report, "ok": False, "partner_nodes": partner_nodes, "missing_key": "comfy_api_key"}
    assert report["ok"] is True  # not changed in place
    present = partner.key_report(report, PARTNER_GRAPH, OBJECT_INFO, key_set=True)
    assert present == {**report, "ok": True, "partner_nodes": ["FluxProUltraImageNode"], "missing_key": None}
    failing = partner.key_report({**report, "ok": False}, PARTNER_GRAPH, OBJECT_INFO, key_set=True)
    assert failing["ok"] is False  # a key does not mend the rest of the check


def test_a_kept_check_follows_the_key_of_the_moment() -> None:
    report = {"ok": True, "missing_nodes": [], "missing_models": {}, "invalid_values": []}
    kept = partner.key_report(report, PARTNER_GRAPH, OBJECT_INFO, key_set=True)
    assert partner.with_key_state(kept, key_set=True) is kept
    assert partner.with_key_state(kept, key_set=False) == {**kept, "ok": False, "missing_key": "comfy_api_key"}
    assert partner.with_key_state(report, key_set=False) is report  # no partner nodes: nothing to say


# -- JobService ----------------------------------------------------------------------------------------------------
@dataclass
class World:
    host: FakeHost
    db: Database
    service: JobService
    loop: asyncio.AbstractEventLoop
    path: Path
    settings: dict[str, Any] = field(default_factory=dict)

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def extras(self) -> list[dict[str, Any]]:
        return [q.extra_data for q in self.host.pending]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    loop = asyncio.new_event_loop()
    host = FakeHost(tmp_path / "comfyui", definitions=dict(OBJECT_INFO))
    db = Database(tmp_path / "jobs.sqlite3")
    db.open(MIGRATIONS)
    tracker = JobTracker(db, EventHub(), drop_prompts=lambda ids: [host.remove_pending(p) for p in ids])
    host.tap_messages(lambda event, data, _sid: tracker.on_message(event, data))
    settings: dict[str, Any] = {"comfy_api_key": KEY}

    async def fill(name: str, values: Any, *_: Any) -> tuple[list[Parameter], Filled]:
        stored = PARTNER_GRAPH if name == "p" else LOCAL_GRAPH
        graph = {k: {**v, "inputs": dict(v["inputs"])} for k, v in stored.items()}
        graph["1"]["inputs"]["seed"] = values.get("seed", 1)
        return SEED, Filled(graph=graph, params=dict(values))

    def partner_key(graph: dict[str, Any]) -> str | None:  # as api/__init__.py wires it
        return partner.key_for(graph, host.partner_nodes(), settings.get("comfy_api_key"))

    service = JobService(
        db, tracker, host, claims=Claims(), limits=RateLimiter(0), fill=fill, client_id_for=lambda j: f"client-{j}",
        partner_key=partner_key,
    )  # fmt: skip
    yield World(host, db, service, loop, tmp_path, settings)
    loop.close()
    db.close()


def test_a_partner_job_carries_the_key_to_comfyui_and_a_local_one_does_not(world: World) -> None:
    job, _ = world.run(world.service.submit(ANN, "p", {"seed": 3}))
    local, _ = world.run(world.service.submit(ANN, "local", {}))
    assert world.extras() == [{"cozygen_job_id": job.id, "api_key_comfy_org": KEY}, {"cozygen_job_id": local.id}]


def test_without_a_key_a_partner_job_is_queued_without_one(world: World) -> None:
    world.settings["comfy_api_key"] = ""
    job, _ = world.run(world.service.submit(ANN, "p", {}))
    assert world.extras() == [{"cozygen_job_id": job.id}]


def test_every_prompt_of_a_job_of_several_images_carries_the_key(world: World) -> None:
    world.run(world.service.submit(ANN, "p", {"seed": 1}, num_images=3))
    assert [e.get("api_key_comfy_org") for e in world.extras()] == [KEY, KEY, KEY]


def test_a_reproduced_or_requeued_job_gets_the_key_stored_now(world: World) -> None:
    job, _ = world.run(world.service.submit(ANN, "p", {}))
    world.settings["comfy_api_key"] = "comfyui-the-new-one"
    again = world.run(world.service.reproduce(ANN, job.id))
    assert world.host.pending[-1].extra_data == {"cozygen_job_id": again.id, "api_key_comfy_org": "comfyui-the-new-one"}
    world.run(world.db.settle())
    # a restart: the tracker forgets, the records say interrupted, ComfyUI's queue is empty; the key was removed
    world.db.submit_write(lambda conn: records.interrupt_unfinished(conn, 0.0)).result()
    world.service.tracker = JobTracker(world.db, EventHub())
    world.host.pending = []
    world.settings["comfy_api_key"] = ""
    done = world.run(world.service.reset())
    assert sorted(j["id"] for j in done["requeued"]) == sorted([job.id, again.id])
    assert world.extras() == [{"cozygen_job_id": j["id"]} for j in done["requeued"]]


def test_the_key_is_in_no_record_view_or_export(world: World) -> None:
    job, _ = world.run(world.service.submit(ANN, "p", {"seed": 9}, num_images=2))
    world.run(world.service.reproduce(ANN, job.id))
    world.host.start()
    world.host.finish(job.prompt_id)
    world.run(world.db.settle())
    assert world.host.pending or world.host.history  # the key went to ComfyUI...
    shown = [
        world.service.view(job),
        world.service.views([job]),
        world.run(world.service.export(records.Filters())),
        world.run(world.service.history(records.Filters(), before=None, limit=10)),
    ]
    assert KEY not in repr(shown)
    world.db.close()  # ...and into no byte of the database (its WAL checkpointed into the file on close)
    files = [p for p in world.path.iterdir() if p.name.startswith("jobs.sqlite3")]
    assert files and not [p.name for p in files if KEY.encode() in p.read_bytes()]
    world.db.open(MIGRATIONS)  # the fixture closes it again


# -- ComfyUIHost: the sensitive slot and the request logs ----------------------------------------------------------
class FakeQueue:
    def __init__(self) -> None:
        self.items: list[tuple[Any, ...]] = []

    def put(self, item: tuple[Any, ...]) -> None:
        self.items.append(item)


def comfyui_host(monkeypatch: pytest.MonkeyPatch, *, sensitive: bool) -> tuple[ComfyUIHost, Any]:
    server = types.SimpleNamespace(number=7, prompt_queue=FakeQueue())
    execution = types.SimpleNamespace()
    if sensitive:  # ComfyUI 0.3.68 and later
        execution.SENSITIVE_EXTRA_DATA_KEYS = ("auth_token_comfy_org", "api_key_comfy_org")
    monkeypatch.setattr(ComfyUIHost, "server", staticmethod(lambda: server))
    monkeypatch.setattr(ComfyUIHost, "_execution", staticmethod(lambda: execution))
    return ComfyUIHost(), server


def test_the_host_queues_the_key_in_comfyuis_sensitive_slot(monkeypatch: pytest.MonkeyPatch) -> None:
    host, server = comfyui_host(monkeypatch, sensitive=True)
    extra = {"cozygen_job_id": "j", "api_key_comfy_org": KEY}
    assert host.enqueue({"1": {}}, ["1"], prompt_id="p", client_id="c", extra_data=extra) == 7
    number, prompt_id, _, shown, outputs, sensitive = server.prompt_queue.items[0]
    assert (number, prompt_id, outputs, sensitive) == (7, "p", ["1"], {"api_key_comfy_org": KEY})
    assert KEY not in repr(shown) and shown["cozygen_job_id"] == "j" and shown["client_id"] == "c"
    assert extra["api_key_comfy_org"] == KEY  # the caller's dict is left alone
    host.enqueue({"1": {}}, ["1"], prompt_id="q", extra_data={"cozygen_job_id": "k"})
    assert server.prompt_queue.items[1][5] == {}


def test_a_comfyui_without_a_sensitive_slot_is_refused_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    host, server = comfyui_host(monkeypatch, sensitive=False)
    with pytest.raises(RuntimeError, match="0.3.68"):
        host.enqueue({"1": {}}, ["1"], prompt_id="p", extra_data={"api_key_comfy_org": KEY})
    assert server.prompt_queue.items == [] and server.number == 7  # nothing queued, no number used
    host.enqueue({"1": {}}, ["1"], prompt_id="p", extra_data={"cozygen_job_id": "j"})
    assert len(server.prompt_queue.items[0]) == 5


def test_the_host_masks_the_key_headers_in_comfyuis_request_logs(monkeypatch: pytest.MonkeyPatch) -> None:
    host = ComfyUIHost()
    name = "comfy_api_nodes.util.request_logger"
    monkeypatch.delitem(sys.modules, name, raising=False)
    assert host.mask_partner_logs() is False  # partner nodes not loaded
    written: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
    logger = types.ModuleType(name)
    logger.log_request_response = lambda *a, **k: written.append((a, k))  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, name, logger)
    assert host.mask_partner_logs() is True and host.mask_partner_logs() is True  # wrapped once
    headers = {"Accept": "application/json", "X-API-KEY": KEY, "authorization": f"Bearer {KEY}"}
    logger.log_request_response(operation_id="op", request_method="POST", request_url="u", request_headers=headers)
    logger.log_request_response("op", "GET", "u", dict(headers), None, None, 200, {"X-Api-Key": KEY})
    assert KEY not in repr(written)
    assert written[0][1]["request_headers"] == {"Accept": "application/json", "X-API-KEY": "<hidden>",
                                                "authorization": "<hidden>"}  # fmt: skip
    assert written[1][0][7] == {"X-Api-Key": "<hidden>"} and written[1][0][:3] == ("op", "GET", "u")
    assert headers["X-API-KEY"] == KEY  # ComfyUI still sends it
