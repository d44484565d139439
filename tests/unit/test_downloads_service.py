"""The download queue against a fake ComfyUI (FakeHost), a real SQLite file and the real loopback model server
(tests/model_server.py) speaking the Hugging Face protocol to the real huggingface_hub client."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from model_server import MIB, ModelServer
from unit.fake_host import FakeHost

from cozygen.core import settings as settings_module
from cozygen.core.errors import BadRequest, Conflict, CozyGenError, Forbidden, InsufficientStorage, NotFound
from cozygen.core.events import EventHub
from cozygen.core.models import netguard, records
from cozygen.core.models.service import EVENT, DownloadService
from cozygen.core.models.sources import Source, parse_source
from cozygen.core.store.db import Database
from cozygen.core.store.migrations import MIGRATIONS

VIEW_KEYS = {
    "id", "folder", "name", "source", "label", "state", "done", "total", "percent", "speed", "eta", "sha256",
    "sha256_expected", "error", "code", "warning", "created_by", "created_at", "started_at", "finished_at",
}  # fmt: skip


@dataclass
class World:
    loop: asyncio.AbstractEventLoop
    host: FakeHost
    db: Database
    hub: EventHub
    server: ModelServer
    settings: dict[str, Any]
    tmp: Path
    installed: list[str] = field(default_factory=list)
    services: list[DownloadService] = field(default_factory=list)

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def start(self, **kwargs: Any) -> DownloadService:
        """A started service (a new one, as after a restart of ComfyUI)."""
        service = DownloadService(
            self.db,
            self.host,
            self.hub,
            self.tmp / "data",
            lambda: self.settings,
            self.installed.append,
            hf_endpoint=self.server.url,
            retry_delay=0,
            **kwargs,
        )
        self.run(service.start())
        self.services.append(service)
        return service

    @property
    def service(self) -> DownloadService:
        return self.services[-1]

    def enqueue(self, source: Any, folder: str = "checkpoints", name: str | None = None, **kwargs: Any) -> dict:
        parsed = source if isinstance(source, Source) else parse_source(source)
        return self.run(self.service.enqueue(parsed, folder, name, by="ann", **kwargs))

    def wait(self, download_id: str) -> dict:
        return self.run(asyncio.wait_for(self.service.wait(download_id), 60))

    def until(self, download_id: str, ok: Callable[[dict], bool]) -> dict:
        """The download's view once ``ok`` says yes (the loop runs meanwhile)."""
        return self.eventually(lambda: self.service.get(download_id), ok)

    def eventually(self, read: Callable[[], Any], ok: Callable[[Any], bool]) -> Any:
        async def poll() -> Any:
            while True:
                found = read()
                found = await found if asyncio.iscoroutine(found) else found
                if ok(found):
                    return found
                await asyncio.sleep(0.01)

        return self.run(asyncio.wait_for(poll(), 60))

    def path(self, folder: str, name: str) -> Path:
        return Path(self.host.model_folder_paths(folder)[0]) / name

    def events(self, download_id: str | None = None) -> list[dict]:
        found, _complete = self.hub.since(f"{self.hub.boot}-0")
        return [e.data for e in found if e.kind == EVENT and download_id in (None, e.data["id"])]

    def raises(self, error: type[CozyGenError], coro: Any) -> CozyGenError:
        with pytest.raises(error) as caught:
            self.run(coro)
        return caught.value


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    loop = asyncio.new_event_loop()
    db = Database(tmp_path / "data" / "cozygen.sqlite3")
    db.open(MIGRATIONS)
    host = FakeHost(tmp_path / "comfyui")
    # The test CDN is 127.0.0.2: a private address, allowlisted as an admin would for a LAN mirror.
    values = {**settings_module.defaults(), "download_private_hosts": "127.0.0.2"}
    with ModelServer() as server:
        world = World(loop, host, db, EventHub(), server, values, tmp_path)
        world.start()
        try:
            yield world
        finally:
            for service in world.services:
                loop.run_until_complete(service.stop())
            db.close()
            loop.close()


def hf(repo: str, file: str, revision: str = "main") -> Source:
    return Source("hf", repo, file, revision)


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- Hugging Face ---------------------------------------------------------------------------------------------
def test_an_hf_file_lands_in_its_folder_verified_and_recorded(world: World) -> None:
    sha = world.server.hf_file("owner/repo", "unet/model.safetensors", 3 * MIB + 5)
    queued = world.enqueue(hf("owner/repo", "unet/model.safetensors"))
    assert set(queued) == VIEW_KEYS
    assert (queued["state"], queued["name"], queued["total"], queued["sha256_expected"]) == (
        "queued", "model.safetensors", 3 * MIB + 5, sha,
    )  # fmt: skip
    assert (queued["label"], queued["created_by"], queued["warning"]) == (
        "owner/repo/unet/model.safetensors",
        "ann",
        None,
    )
    done = world.wait(queued["id"])
    assert (done["state"], done["sha256"], done["done"], done["percent"], done["error"]) == (
        "done", sha, 3 * MIB + 5, 100.0, None,
    )  # fmt: skip
    path = world.path("checkpoints", "model.safetensors")
    assert sha256_of(path) == sha
    assert not Path(f"{path}.part").exists()
    assert world.installed == ["checkpoints"]
    hashed = world.db.read(lambda c: c.execute("SELECT * FROM model_hashes WHERE path = ?", (str(path),)).fetchone())
    assert (hashed["sha256"], hashed["size"], hashed["mtime_ns"]) == (sha, path.stat().st_size, path.stat().st_mtime_ns)
    states = [e["state"] for e in world.events(queued["id"])]
    assert states[0] == "queued" and states[-1] == "done" and "running" in states
    assert world.run(world.service.get(queued["id"])) == done


def test_the_hf_token_goes_to_the_endpoint_only_and_is_never_shown(world: World) -> None:
    world.settings["hf_token"] = "hf_s3cret"
    sha = world.server.hf_file("owner/gated", "g.safetensors", 4096, token="hf_s3cret")
    done = world.wait(world.enqueue(hf("owner/gated", "g.safetensors"))["id"])
    assert done["sha256"] == sha
    resolves = world.server.seen("/owner/gated/resolve/main/g.safetensors")
    assert resolves and all(r.headers["authorization"] == "Bearer hf_s3cret" for r in resolves)
    (cdn,) = world.server.seen(f"/cdn/{sha}")
    assert "authorization" not in cdn.headers
    shown = json.dumps([world.events(), world.run(world.service.list())])
    rows = world.db.read(lambda c: [dict(r) for r in c.execute("SELECT * FROM downloads")])
    assert "hf_s3cret" not in shown and "hf_s3cret" not in json.dumps(rows)


def test_a_gated_file_without_a_token_is_refused_at_once(world: World) -> None:
    world.server.hf_file("owner/gated", "g.safetensors", 10, token="t")
    error = world.raises(Forbidden, world.service.enqueue(hf("owner/gated", "g.safetensors"), "loras", None, by="a"))
    assert error.code == "MODEL_GATED" and "hf_token" in error.message
    assert world.run(world.service.list()) == []


@pytest.mark.parametrize(
    "source",
    [
        hf("owner/repo", "missing.safetensors"),
        hf("owner/none", "x.safetensors"),
        hf("owner/repo", "x.safetensors", "v9"),
    ],
)
def test_an_unknown_hf_file_is_not_found(world: World, source: Source) -> None:
    world.server.hf_file("owner/repo", "x.safetensors", 10)
    error = world.raises(NotFound, world.service.enqueue(source, "checkpoints", None, by="a"))
    assert error.code == "MODEL_NOT_FOUND"


def test_a_lying_hf_server_fails_the_hash_and_leaves_nothing(world: World) -> None:
    world.server.hf_file("owner/repo", "lie.safetensors", 2048, sha256="ab" * 32)
    failed = world.wait(world.enqueue(hf("owner/repo", "lie.safetensors"))["id"])
    assert (failed["state"], failed["code"]) == ("failed", "HASH_MISMATCH")
    assert "ab" * 32 in failed["error"]
    path = world.path("checkpoints", "lie.safetensors")
    assert not path.exists() and not Path(f"{path}.part").exists()
    assert world.installed == []


def test_a_file_bigger_than_the_free_space_is_refused_with_507(world: World) -> None:
    world.server.hf_file("owner/repo", "huge.safetensors", 10, content_length=10**15)
    error = world.raises(
        InsufficientStorage, world.service.enqueue(hf("owner/repo", "huge.safetensors"), "loras", None, by="a")
    )
    assert (error.status, error.code) == (507, "NOT_ENOUGH_DISK_SPACE")
    assert error.extra["need"] == 10**15 and 0 <= error.extra["free"] < 10**15


# -- URLs -----------------------------------------------------------------------------------------------------
def test_a_url_downloads_under_its_own_name(world: World) -> None:
    sha = world.server.add_file("my lora.safetensors", MIB + 1)
    view = world.enqueue({"url": world.server.file_url("my%20lora.safetensors")}, "loras")
    assert (view["name"], view["total"], view["sha256_expected"]) == ("my lora.safetensors", None, None)
    done = world.wait(view["id"])
    assert (done["state"], done["sha256"], done["total"]) == ("done", sha, MIB + 1)
    assert sha256_of(world.path("loras", "my lora.safetensors")) == sha


def test_the_civitai_key_goes_to_civitai_only(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    real = socket.getaddrinfo
    monkeypatch.setattr(
        netguard.socket,
        "getaddrinfo",
        lambda host, *a, **k: real("127.0.0.1" if host == "civitai.com" else host, *a, **k),
    )
    world.settings.update(civitai_api_key="civ-key", download_private_hosts="civitai.com 127.0.0.2")
    sha = world.server.add_file("real.safetensors", 5000)
    world.server.add_file("dl", 1, redirect=f"{world.server.cdn_base}/files/real.safetensors")
    url = f"http://civitai.com:{world.server.port}/files/dl"
    done = world.wait(world.enqueue(url, "loras", "civ.safetensors")["id"])
    assert done["sha256"] == sha
    assert world.server.seen("/files/dl")[0].headers["authorization"] == "Bearer civ-key"
    assert "authorization" not in world.server.seen("/files/real.safetensors")[0].headers
    direct = world.wait(world.enqueue(world.server.file_url("real.safetensors"), "loras", "other.safetensors")["id"])
    assert direct["state"] == "done"
    assert all("authorization" not in r.headers for r in world.server.seen("/files/real.safetensors"))


def test_a_url_into_the_network_is_refused_at_once(world: World) -> None:
    world.settings["download_hosts"] = "huggingface.co 192.168.1.10"
    error = world.raises(
        Forbidden, world.service.enqueue(parse_source("http://192.168.1.10/x.safetensors"), "loras", None, by="a")
    )
    assert error.code == "ADDRESS_NOT_ALLOWED"
    error = world.raises(
        Forbidden, world.service.enqueue(parse_source("https://evil.example/x.safetensors"), "loras", None, by="a")
    )
    assert error.code == "HOST_NOT_ALLOWED"
    assert world.run(world.service.list()) == []


def test_a_redirect_into_the_network_fails_the_download(world: World) -> None:
    world.server.add_file("ssrf.safetensors", 1, redirect="http://192.168.1.10/admin")
    failed = world.wait(world.enqueue(world.server.file_url("ssrf.safetensors"), "loras")["id"])
    assert (failed["state"], failed["code"]) == ("failed", "ADDRESS_NOT_ALLOWED")
    assert not world.path("loras", "ssrf.safetensors").exists()


def test_a_given_hash_that_does_not_match_deletes_the_part(world: World) -> None:
    real = world.server.add_file("w.safetensors", 4096)
    failed = world.wait(world.enqueue(world.server.file_url("w.safetensors"), "loras", sha256="0" * 64)["id"])
    assert (failed["state"], failed["code"], failed["sha256_expected"]) == ("failed", "HASH_MISMATCH", "0" * 64)
    assert real in failed["error"] and "0" * 64 in failed["error"]
    path = world.path("loras", "w.safetensors")
    assert not path.exists() and not Path(f"{path}.part").exists()


def test_an_announced_size_beyond_the_disk_fails_the_download(world: World) -> None:
    world.server.add_file("big.safetensors", 10, content_length=10**15)
    failed = world.wait(world.enqueue(world.server.file_url("big.safetensors"), "loras")["id"])
    assert (failed["state"], failed["code"], failed["total"]) == ("failed", "NOT_ENOUGH_DISK_SPACE", 10**15)
    assert "free" in failed["error"]


def test_a_cut_connection_is_resumed_within_the_download(world: World) -> None:
    sha = world.server.add_file("cut.safetensors", 3 * MIB, cut_after=MIB + 7)
    done = world.wait(world.enqueue(world.server.file_url("cut.safetensors"), "loras")["id"])
    assert done["sha256"] == sha
    assert [r.headers.get("range") for r in world.server.seen("/files/cut.safetensors")] == [None, f"bytes={MIB + 7}-"]


def test_a_stale_part_of_another_source_is_not_resumed(world: World) -> None:
    sha = world.server.add_file("s.safetensors", 3000)
    part = Path(f"{world.path('loras', 's.safetensors')}.part")
    part.parent.mkdir(parents=True)
    part.write_bytes(b"left over by something else")
    assert world.wait(world.enqueue(world.server.file_url("s.safetensors"), "loras")["id"])["sha256"] == sha


def test_a_pickle_carries_its_warning(world: World) -> None:
    world.server.add_file("old.ckpt", 100)
    view = world.enqueue(world.server.file_url("old.ckpt"))
    assert "pickle" in view["warning"]
    assert world.wait(view["id"])["warning"] == view["warning"]


# -- what is refused ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("folder", "name", "sha256", "code"),
    [
        ("checkpoints", "../escape.safetensors", None, "INVALID_MODEL_NAME"),
        ("checkpoints", "notes.txt", None, "INVALID_MODEL_NAME"),
        ("nonsense", "a.safetensors", None, "UNKNOWN_FOLDER"),
        ("checkpoints", "a.safetensors", "xyz", "INVALID_SHA256"),
    ],
)
def test_bad_targets_are_refused(world: World, folder: str, name: str, sha256: str | None, code: str) -> None:
    source = parse_source(world.server.file_url("a.safetensors"))
    error = world.raises(BadRequest, world.service.enqueue(source, folder, name, sha256=sha256, by="a"))
    assert error.code == code
    assert world.server.requests == []


def test_an_installed_model_is_not_downloaded_again(world: World) -> None:
    path = world.path("checkpoints", "here.safetensors")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"mine")
    error = world.raises(
        Conflict,
        world.service.enqueue(parse_source(world.server.file_url("x")), "checkpoints", "here.safetensors", by="a"),
    )
    assert error.code == "MODEL_EXISTS"
    assert path.read_bytes() == b"mine"


def test_the_same_target_is_queued_once(world: World) -> None:
    world.server.add_file("one.safetensors", 2 * MIB, hold_at=MIB)
    first = world.enqueue(world.server.file_url("one.safetensors"), "loras")
    error = world.raises(
        Conflict, world.service.enqueue(parse_source(world.server.file_url("one.safetensors")), "loras", None, by="b")
    )
    assert error.code == "DOWNLOAD_EXISTS" and error.extra["download"]["id"] == first["id"]
    world.server.release("one.safetensors")
    assert world.wait(first["id"])["state"] == "done"


# -- cancel, concurrency, restarts ----------------------------------------------------------------------------
def test_cancel_stops_a_running_download_and_deletes_its_part(world: World) -> None:
    world.server.add_file("c.safetensors", 3 * MIB, hold_at=MIB)
    view = world.enqueue(world.server.file_url("c.safetensors"), "loras")
    running = world.until(view["id"], lambda v: v["done"] == MIB)
    assert (running["state"], running["total"], running["percent"]) == ("running", 3 * MIB, 33.3)
    progress = world.eventually(
        lambda: world.events(view["id"]), lambda events: any(e["done"] == MIB for e in events)
    )  # the loop samples the transfer: an event tells how far it got
    assert [e for e in progress if e["done"] == MIB][0]["state"] == "running"
    cancelled = world.run(world.service.cancel(view["id"]))
    assert (cancelled["state"], cancelled["code"]) == ("cancelled", "CANCELLED")
    path = world.path("loras", "c.safetensors")
    assert not path.exists() and not Path(f"{path}.part").exists()
    assert world.events(view["id"])[-1]["state"] == "cancelled"
    assert world.raises(Conflict, world.service.cancel(view["id"])).code == "DOWNLOAD_FINISHED"
    assert world.raises(NotFound, world.service.cancel("nope")).code == "DOWNLOAD_NOT_FOUND"
    assert world.raises(NotFound, world.service.get("nope")).code == "DOWNLOAD_NOT_FOUND"
    world.server.release("c.safetensors")


def test_downloads_run_two_at_once_and_the_rest_wait(world: World) -> None:
    for name in ("a.safetensors", "b.safetensors", "c.safetensors"):
        world.server.add_file(name, 2 * MIB, hold_at=MIB)
    views = [
        world.enqueue(world.server.file_url(name), "loras")
        for name in ("a.safetensors", "b.safetensors", "c.safetensors")
    ]
    world.until(views[0]["id"], lambda v: v["done"] == MIB)
    world.until(views[1]["id"], lambda v: v["done"] == MIB)
    assert world.run(world.service.get(views[2]["id"]))["state"] == "queued"
    assert world.server.count("/files/c.safetensors") == 0
    cancelled = world.run(world.service.cancel(views[2]["id"]))  # a queued one: cancelled at once
    assert cancelled["state"] == "cancelled"
    for name in ("a.safetensors", "b.safetensors"):
        world.server.release(name)
    assert [world.wait(v["id"])["state"] for v in views] == ["done", "done", "cancelled"]
    assert world.server.count("/files/c.safetensors") == 0
    listed = world.run(world.service.list())
    assert [v["id"] for v in listed] == [v["id"] for v in reversed(views)]


def test_one_at_a_time_when_the_setting_says_so(world: World) -> None:
    world.settings["download_concurrency"] = 1
    world.server.add_file("first.safetensors", 2 * MIB, hold_at=MIB)
    world.server.add_file("second.safetensors", 1000)
    first = world.enqueue(world.server.file_url("first.safetensors"), "loras")
    second = world.enqueue(world.server.file_url("second.safetensors"), "loras")
    world.until(first["id"], lambda v: v["done"] == MIB)
    assert world.run(world.service.get(second["id"]))["state"] == "queued"
    world.server.release("first.safetensors")
    assert world.wait(second["id"])["state"] == "done"
    assert world.run(world.service.get(first["id"]))["state"] == "done"


def test_a_stop_keeps_the_part_and_the_next_start_resumes_it(world: World) -> None:
    sha = world.server.hf_file("owner/repo", "r.safetensors", 3 * MIB, hold_at=2 * MIB)
    view = world.enqueue(hf("owner/repo", "r.safetensors"))
    world.until(view["id"], lambda v: v["done"] == 2 * MIB)
    world.run(world.service.stop())
    stopped = world.run(world.service.get(view["id"]))
    assert (stopped["state"], stopped["done"]) == ("queued", 2 * MIB)
    part = Path(f"{world.path('checkpoints', 'r.safetensors')}.part")
    assert part.stat().st_size == 2 * MIB
    world.server.release("owner/repo/r.safetensors")
    world.start()
    done = world.wait(view["id"])
    assert (done["state"], done["sha256"]) == ("done", sha)
    assert world.server.seen(f"/cdn/{sha}")[-1].headers["range"] == f"bytes={2 * MIB}-"


def test_downloads_left_running_by_a_crash_are_resumed(world: World) -> None:
    sha = world.server.add_file("crash.safetensors", 2 * MIB + 9)
    path = world.path("loras", "crash.safetensors")
    path.parent.mkdir(parents=True)
    Path(f"{path}.part").write_bytes(world.server.data("crash.safetensors", 0, MIB))
    row = {
        "id": "crashed",
        "folder": "loras",
        "name": "crash.safetensors",
        "source_json": json.dumps({"url": world.server.file_url("crash.safetensors")}),
        "state": "queued",
        "created_at": 1.0,
    }
    world.db.submit_write(lambda conn: records.insert_download(conn, row)).result()
    world.db.submit_write(lambda conn: conn.execute("UPDATE downloads SET state = 'running'")).result()
    world.run(world.service.stop())
    world.start()
    done = world.wait("crashed")
    assert (done["state"], done["sha256"]) == ("done", sha)
    assert [r.headers.get("range") for r in world.server.seen("/files/crash.safetensors")] == [f"bytes={MIB}-"]
    assert os.path.getsize(path) == 2 * MIB + 9


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice values are Linux's")
def test_transfers_run_at_a_lower_priority_than_the_loop(world: World) -> None:
    world.server.add_file("nice.safetensors", 2 * MIB, hold_at=MIB)
    view = world.enqueue(world.server.file_url("nice.safetensors"), "loras")
    world.until(view["id"], lambda v: v["done"] == MIB)
    mine = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    threads = [t for t in threading.enumerate() if t.name.startswith("cozygen-download") and t.native_id]
    assert {t.name.split("_")[0] for t in threads} >= {"cozygen-download", "cozygen-download-hash"}
    assert all(os.getpriority(os.PRIO_PROCESS, t.native_id) > mine for t in threads if t.native_id is not None)
    world.server.release("nice.safetensors")
    assert world.wait(view["id"])["state"] == "done"
