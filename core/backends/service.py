"""The backends CozyGen sends jobs to: the local ComfyUI (``local``, always first, never stored) and the other
ComfyUI servers an admin added. It keeps them in memory (read at start, changed through here), knows each one's
health (core/backends/health.py) and node list (``/object_info``, cached, refreshed every 10 minutes, on add and
test, or when asked), hands out one client per backend, and publishes ``backend.changed`` on the hub (the job
stream gives it to admins only) when a backend's settings or health change."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from ..errors import BadRequest, Conflict, NotFound
from ..events import EventHub
from ..store.db import Database
from . import capabilities, fields, records
from .health import PROBE_TIMEOUT, HealthMonitor, Probe, next_health, probe
from .model import DISABLED, DOWN, LOCAL_ID, UP, Backend, Health
from .remote import Connect, RemoteComfyUI, RemoteError

log = logging.getLogger("cozygen")
EVENT = "backend.changed"
OBJECT_INFO_EVERY = 600.0  # seconds between re-reads of a backend's /object_info
OBJECT_INFO_TIMEOUT = 60.0
Watcher = Callable[[Backend, Health], None]  # called when a backend's health state changes (on the event loop)


class BackendService:
    def __init__(
        self,
        db: Database,
        hub: EventHub,
        connect: Connect,
        *,
        local_queue: Callable[[], tuple[int, int]],
        local_object_info: Callable[[], Awaitable[dict[str, Any]]] | None = None,
        local_version: Callable[[], str | None] = lambda: None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db, self.hub, self.connect = db, hub, connect
        self.local_queue, self.local_object_info, self.local_version = local_queue, local_object_info, local_version
        self.clock = clock
        self._local = records.local_backend({})
        self._remote: dict[str, Backend] = {}
        self._health: dict[str, Health] = {}
        self._failures: dict[str, int] = {}
        self._clients: dict[str, RemoteComfyUI] = {}
        self._info: dict[str, tuple[float, dict[str, Any]]] = {}  # id -> (read at, /object_info)
        self._info_tasks: dict[str, asyncio.Task] = {}
        self._active: dict[str, int] = {}
        self._pins: dict[str, str] = {}  # workflow name -> backend id (an admin's pin)
        self._watchers: list[Watcher] = []
        self.monitor = HealthMonitor(self)

    # -- life ------------------------------------------------------------------------------------------------
    async def start(self) -> None:
        local, remote, pins = await self.db.execute_fn(
            lambda conn: (records.local_settings(conn), records.backends(conn), records.pins(conn))
        )
        self._local = records.local_backend(local)
        self._remote = {b.id: b for b in remote}
        known = {LOCAL_ID, *self._remote}
        self._pins = {w: b for w, b in pins.items() if b in known}
        self.monitor.start()
        for backend in self.backends():  # routing knows what each can run as soon as it can
            if backend.enabled and not (backend.local and self.only_local):
                self.refresh_object_info_soon(backend.id)

    async def stop(self) -> None:
        await self.monitor.stop()
        for task in self._info_tasks.values():
            task.cancel()
        self._info_tasks.clear()
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await _close(client)

    # -- what B2 (dispatch, routing) reads -------------------------------------------------------------------
    def backends(self) -> list[Backend]:
        """Every backend, local first, enabled or not."""
        return [self._local, *self._remote.values()]

    @property
    def only_local(self) -> bool:
        """No other backend is enabled: jobs take today's path, unchanged."""
        return not any(b.enabled for b in self._remote.values())

    def get(self, id_or_name: str) -> Backend:
        """A backend by id, or by name (case-insensitive); 404 ``BACKEND_NOT_FOUND``."""
        if id_or_name == LOCAL_ID or id_or_name.lower() == self._local.name.lower():
            return self._local
        found = self._remote.get(id_or_name)
        if found is not None:
            return found
        wanted = id_or_name.lower()
        for backend in self._remote.values():
            if backend.name.lower() == wanted:
                return backend
        raise NotFound(f"no backend {id_or_name!r}", code="BACKEND_NOT_FOUND")

    # -- workflow pins --------------------------------------------------------------------------------------
    def pins(self) -> dict[str, str]:
        """The workflows an admin pinned: workflow name -> backend id."""
        return dict(self._pins)

    def pin_of(self, workflow: str) -> str | None:
        """The backend a workflow is pinned to (its id), None when it is not."""
        return self._pins.get(workflow) if self._pins else None

    async def set_pin(self, workflow: str, backend: Any) -> Backend | None:
        """Pin a workflow to a backend (its id or name), or unpin it (None or "any"); 404 for an unknown
        backend, 400 for a bad workflow name."""
        if not isinstance(workflow, str) or not workflow.strip() or len(workflow) > 500 or "\x00" in workflow:
            raise BadRequest("a workflow name is required", code="INVALID_WORKFLOW")
        if backend is not None and not isinstance(backend, str):
            raise BadRequest("backend must be the id or the name of a backend, or null", code="INVALID_BACKEND")
        found = None if backend is None or backend.strip().lower() in ("", "any") else self.get(backend.strip())
        pins = dict(self._pins)
        if found is None:
            pins.pop(workflow, None)
        else:
            pins[workflow] = found.id
        await self.db.execute_write_fn(lambda conn: records.save_pins(conn, pins))
        self._pins = pins
        return found

    def health(self, backend_id: str) -> Health:
        backend = self.get(backend_id)
        if not backend.enabled:
            return Health(state=DISABLED)
        if backend.local:
            running, pending = self.local_queue()
            return Health(
                state=UP, checked_at=self.clock(), queue_running=running, queue_pending=pending,
                comfyui_version=self.local_version(),
            )  # fmt: skip
        return self._health.get(backend.id) or Health()

    def client(self, backend_id: str) -> RemoteComfyUI:
        """The one client of a remote backend (made again when its URL or credentials change)."""
        backend = self.get(backend_id)
        if backend.local:
            raise BadRequest("the local ComfyUI is reached through the host, not over HTTP", code="LOCAL_BACKEND")
        client = self._clients.get(backend.id)
        if client is None:
            client = self._clients[backend.id] = self.connect(backend)
        return client

    def object_info(self, backend_id: str) -> dict[str, Any] | None:
        """The backend's last read ``/object_info`` (None until read); a stale one is re-read in the background."""
        backend = self.get(backend_id)
        cached = self._info.get(backend.id)
        if cached is None or self.clock() - cached[0] > OBJECT_INFO_EVERY:
            self.refresh_object_info_soon(backend.id)
        return cached[1] if cached is not None else None

    async def refresh_object_info(self, backend_id: str, *, stale: bool = True) -> dict[str, Any] | None:
        """Read the backend's ``/object_info`` now. When it cannot be read: the copy kept (``stale``), or None."""
        backend = self.get(backend_id)
        try:
            if backend.local:
                if self.local_object_info is None:
                    return None
                info = await self.local_object_info()
            else:
                info = await asyncio.wait_for(self.client(backend.id).get_json("/object_info"), OBJECT_INFO_TIMEOUT)
        except (RemoteError, asyncio.TimeoutError) as exc:
            log.info("CozyGen: backend %s: /object_info not read: %s", backend.name, exc or "timed out")
            cached = self._info.get(backend.id)
            return cached[1] if cached is not None and stale else None
        if not isinstance(info, dict):
            return None
        self._info[backend.id] = (self.clock(), info)
        return info

    async def node_list(self, backend_id: str) -> dict[str, Any] | None:
        """The backend's node list, read now when it never was (the first routed job after a start waits for it)."""
        cached = self._info.get(backend_id)
        return cached[1] if cached is not None else await self.refresh_object_info(backend_id)

    def refresh_object_info_soon(self, backend_id: str) -> None:
        running = self._info_tasks.get(backend_id)
        if running is not None and not running.done():
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        task = loop.create_task(self.refresh_object_info(backend_id), name=f"cozygen-object-info-{backend_id}")
        self._info_tasks[backend_id] = task
        task.add_done_callback(lambda _t: self._info_tasks.pop(backend_id, None))

    def missing(self, backend_id: str, graph: dict[str, Any]) -> list[str]:
        """What the backend lacks to run ``graph`` (empty: it can), from its cached node list."""
        return capabilities.missing(graph, self.object_info(backend_id))

    def active(self, backend_id: str) -> int:
        return self._active.get(backend_id, 0)

    def set_active(self, backend_id: str, count: int) -> None:
        """How many of CozyGen's jobs are on that backend now (dispatch tells): the monitor looks more often."""
        before = self._active.get(backend_id, 0)
        self._active[backend_id] = max(0, count)
        if count and not before:
            self.monitor.soon(backend_id)

    def watch(self, watcher: Watcher) -> None:
        """``watcher(backend, health)`` each time a backend's health state changes (up, down, disabled...)."""
        self._watchers.append(watcher)

    def report_failure(self, backend_id: str, reason: str) -> None:
        """Dispatch saw the backend fail (its socket closed, a request failed): it counts as a failed probe."""
        if backend_id in self._remote:
            self._seen(backend_id, Probe(False, 0.0, error=reason))
            self.monitor.soon(backend_id)

    # -- the monitor's work -----------------------------------------------------------------------------------
    async def check(self, backend_id: str, *, version: bool = False) -> Health:
        """Probe one remote backend now and record what was seen."""
        backend = self.get(backend_id)
        old = self._health.get(backend.id) or Health()
        seen = await probe(self.client(backend.id), timeout=PROBE_TIMEOUT, version=version or not old.comfyui_version)
        return self._seen(backend.id, seen)

    def _seen(self, backend_id: str, seen: Probe) -> Health:
        backend = self._remote.get(backend_id)
        if backend is None:
            return Health()
        old = self._health.get(backend_id) or Health()
        failures = 0 if seen.ok else self._failures.get(backend_id, 0) + 1
        self._failures[backend_id] = failures
        new = next_health(old, seen, failures, self.clock())
        self._health[backend_id] = new
        if new.state == UP and (old.state != UP or backend_id not in self._info):
            self.refresh_object_info_soon(backend_id)
        if new.state != old.state or (new.queue_running, new.queue_pending) != (old.queue_running, old.queue_pending):
            self._publish(backend)
        if new.state != old.state:
            if new.state == DOWN:
                log.warning("CozyGen: backend %s is down: %s", backend.name, new.error)
            elif old.state == DOWN:
                log.info("CozyGen: backend %s answers again", backend.name)
            for watcher in list(self._watchers):
                try:
                    watcher(backend, new)
                except Exception:
                    log.exception("CozyGen: a backend watcher failed")
        return new

    def _publish(self, backend: Backend) -> None:
        self.hub.publish(EVENT, self.view(backend))

    def view(self, backend: Backend) -> dict[str, Any]:
        """A backend as admins read it: its settings (no secret) and its health."""
        health = self.health(backend.id)
        return {
            **backend.public(),
            "health": health.as_dict(),
            "active_jobs": self.active(backend.id),
            "nodes_known": backend.id in self._info,
        }

    # -- what admins change -----------------------------------------------------------------------------------
    async def create(self, body: Any, *, by: str | None) -> Backend:
        checked = fields.parse(body, partial=False)
        checked.setdefault("subfolder", fields.default_subfolder(checked["name"]))
        if not checked["subfolder"]:
            checked["subfolder"] = fields.default_subfolder(checked["name"])
        _check_auth(checked.get("auth", "none"), checked.get("auth_user"), checked.get("secret"))
        values = {**records.backend_columns(checked), "provider": records.COMFYUI, "type": "image"}

        def write(conn: Any) -> Backend:
            if records.name_taken(conn, checked["name"]):
                raise Conflict(f"a backend is already named {checked['name']!r}", code="BACKEND_EXISTS")
            new_id = records.insert(conn, values, by=by)
            return records.to_backend(conn.execute("SELECT * FROM profiles WHERE id = ?", (new_id,)).fetchone())

        backend = await self.db.execute_write_fn(write)
        self._remote[backend.id] = backend
        self._publish(backend)
        if backend.enabled:
            self.monitor.soon(backend.id)
        return backend

    async def update(self, backend_id: str, body: Any) -> Backend:
        backend = self.get(backend_id)
        if backend.local:
            return await self._update_local(body)
        checked = fields.parse(body, partial=True)
        if "subfolder" in checked and not checked["subfolder"]:
            checked["subfolder"] = fields.default_subfolder(checked.get("name", backend.name))
        auth_kind = checked.get("auth", backend.auth_kind)
        if auth_kind == "none":
            checked.update(auth_user=None, secret=None)
        _check_auth(auth_kind, checked.get("auth_user", backend.auth_user), checked.get("secret", backend.secret))
        values = records.backend_columns(checked)

        def write(conn: Any) -> Backend:
            if "name" in checked and records.name_taken(conn, checked["name"], other_than=backend.id):
                raise Conflict(f"a backend is already named {checked['name']!r}", code="BACKEND_EXISTS")
            if not records.update(conn, backend.id, values):
                raise NotFound(f"no backend {backend_id!r}", code="BACKEND_NOT_FOUND")
            return records.to_backend(conn.execute("SELECT * FROM profiles WHERE id = ?", (backend.id,)).fetchone())

        updated = await self.db.execute_write_fn(write)
        self._remote[updated.id] = updated
        if (updated.url, updated.auth_kind, updated.auth_user, updated.secret) != (
            backend.url, backend.auth_kind, backend.auth_user, backend.secret,
        ):  # fmt: skip
            await self._forget_connection(updated.id)
        changed_state = updated.enabled != backend.enabled
        self._publish(updated)
        if changed_state:
            self._notify(updated)
        if updated.enabled:
            self.monitor.soon(updated.id)
        return updated

    async def _update_local(self, body: Any) -> Backend:
        if not isinstance(body, dict):
            raise BadRequest("send a JSON object", code="INVALID_BACKEND")
        allowed = {"enabled", "max_jobs", "tags"}
        refused = sorted(set(body) - allowed)
        if refused:
            raise BadRequest(
                f"the local ComfyUI's {', '.join(refused)} cannot change (only enabled, max_jobs, tags)",
                code="LOCAL_BACKEND",
                extra={"fields": refused},
            )
        checked = {key: fields.CHECKS[key](value) for key, value in body.items()}
        stored = {**self._local.public(), **checked}
        values = {"enabled": stored["enabled"], "max_jobs": stored["max_jobs"], "tags": list(stored["tags"])}
        await self.db.execute_write_fn(lambda conn: records.save_local_settings(conn, values))
        before, self._local = self._local, records.local_backend(values)
        self._publish(self._local)
        if before.enabled != self._local.enabled:
            self._notify(self._local)
        return self._local

    async def delete(self, backend_id: str) -> Backend:
        backend = self.get(backend_id)
        if backend.local:
            raise Conflict("the local ComfyUI cannot be removed; disable it instead", code="LOCAL_BACKEND")
        if self.active(backend.id):
            count = self.active(backend.id)
            raise Conflict(
                f"backend {backend.name} still has {count} job(s); wait or cancel them, or disable it",
                code="BACKEND_BUSY",
            )
        if not await self.db.execute_write_fn(lambda conn: records.delete(conn, backend.id)):
            raise NotFound(f"no backend {backend_id!r}", code="BACKEND_NOT_FOUND")
        self._remote.pop(backend.id, None)
        if backend.id in self._pins.values():  # a pin naming a removed backend is dropped
            pins = {w: b for w, b in self._pins.items() if b != backend.id}
            await self.db.execute_write_fn(lambda conn: records.save_pins(conn, pins))
            self._pins = pins
        await self._forget_connection(backend.id)
        self._health.pop(backend.id, None)
        self._info.pop(backend.id, None)
        self.hub.publish(EVENT, {"id": backend.id, "name": backend.name, "deleted": True})
        self._notify(replace(backend, enabled=False))
        return backend

    async def _forget_connection(self, backend_id: str) -> None:
        client = self._clients.pop(backend_id, None)
        self._failures.pop(backend_id, None)
        if client is not None:
            await _close(client)

    def _notify(self, backend: Backend) -> None:
        health = self.health(backend.id) if backend.id in self._remote or backend.local else Health(state=DISABLED)
        for watcher in list(self._watchers):
            try:
                watcher(backend, health)
            except Exception:
                log.exception("CozyGen: a backend watcher failed")

    # -- tests of a connection --------------------------------------------------------------------------------
    async def test(self, backend_id: str) -> dict[str, Any]:
        """Probe a saved backend now (its version, queue and node list): the result, and its health recorded."""
        backend = self.get(backend_id)
        if backend.local:
            running, pending = self.local_queue()
            info = await self.refresh_object_info(backend.id)
            return {
                "ok": True, "latency_ms": 0.0, "comfyui_version": self.local_version(), "error": None,
                "queue": {"running": running, "pending": pending}, "nodes": len(info or {}),
            }  # fmt: skip
        seen = await probe(self.client(backend.id), version=True)
        self._seen(backend.id, seen)
        info = await self.refresh_object_info(backend.id) if seen.ok else None
        return _result(seen, info)

    async def test_unsaved(self, body: Any) -> dict[str, Any]:
        """Probe a backend an admin is about to add (nothing stored, nothing kept)."""
        if isinstance(body, dict):
            body = {key: value for key, value in body.items() if key in ("url", "auth", "auth_user", "secret")}
        checked = fields.parse(body, partial=True)
        if "url" not in checked:
            raise BadRequest("url: required", code="INVALID_BACKEND_URL", extra={"field": "url"})
        auth_kind = checked.get("auth", "none")
        _check_auth(auth_kind, checked.get("auth_user"), checked.get("secret"))
        backend = Backend(
            id="unsaved", name="(unsaved)", url=checked["url"], auth_kind=auth_kind,
            auth_user=checked.get("auth_user"), secret=checked.get("secret"),
        )  # fmt: skip
        client = self.connect(backend)
        try:
            seen = await probe(client, version=True)
            info = None
            if seen.ok:
                try:
                    info = await asyncio.wait_for(client.get_json("/object_info"), OBJECT_INFO_TIMEOUT)
                except (RemoteError, asyncio.TimeoutError) as exc:
                    seen = Probe(False, seen.latency_ms, error=f"its /object_info could not be read: {exc}")
        finally:
            await _close(client)
        return _result(seen, info if isinstance(info, dict) else None)


def _result(seen: Probe, info: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "ok": seen.ok,
        "latency_ms": seen.latency_ms,
        "comfyui_version": seen.version,
        "error": seen.error,
        "queue": {"running": seen.running, "pending": seen.pending},
        "nodes": len(info) if info is not None else None,
    }


def _check_auth(kind: str, user: str | None, secret: str | None) -> None:
    if kind == "bearer" and not secret:
        raise BadRequest("secret: a bearer token is needed for auth bearer", code="INVALID_BACKEND")
    if kind == "basic" and not user:
        raise BadRequest("auth_user: a user name is needed for auth basic", code="INVALID_BACKEND")


async def _close(client: RemoteComfyUI) -> None:
    try:
        await client.close()
    except Exception:
        log.exception("CozyGen: a backend connection did not close cleanly")
