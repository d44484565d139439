"""Helpers shared by the tests: the project as an importable package, and a small HTTP client."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import threading
import time
import types
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT / "scripts"))


def import_project_as(name: str = "cozygen") -> types.ModuleType:
    """Make ``import <name>.core...`` work without running the ComfyUI entry ``__init__.py``."""
    if name not in sys.modules:
        package = types.ModuleType(name)
        package.__path__ = [str(PROJECT)]  # type: ignore[attr-defined]
        sys.modules[name] = package
    return sys.modules[name]


@dataclass
class Reply:
    status: int
    headers: Any
    body: bytes

    @property
    def content_type(self) -> str:
        return (self.headers.get("Content-Type") or "").split(";")[0]

    def json(self) -> Any:
        return json.loads(self.body)


def request(
    method: str,
    url: str,
    body: Any = None,
    *,
    headers: dict[str, str] | None = None,
    raw: bytes | None = None,
    timeout: float = 30,
) -> Reply:
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    all_headers = {"Content-Type": "application/json"} if body is not None else {}
    all_headers.update(headers or {})
    req = urllib.request.Request(url, data=data, method=method, headers=all_headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:
            return Reply(response.status, response.headers, response.read())
    except urllib.error.HTTPError as error:
        return Reply(error.code, error.headers, error.read())


def open_status(method: str, url: str, *, headers: dict[str, str] | None = None, timeout: float = 30) -> Reply:
    """Status and headers only: for event streams, which never end."""
    req = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:
            return Reply(response.status, response.headers, b"")
    except urllib.error.HTTPError as error:
        return Reply(error.code, error.headers, error.read())


def get(url: str, **kwargs: Any) -> Reply:
    return request("GET", url, **kwargs)


def post(url: str, body: Any = None, **kwargs: Any) -> Reply:
    return request("POST", url, body, **kwargs)


def job_done(url: str, headers: dict[str, str], workflow: str, values: dict[str, Any], timeout: float = 90) -> Any:
    """The job, once completed: posted to CozyGen's job API as ``headers``' user (any other end fails)."""
    created = post(f"{url}/cozygen/api/jobs", {"workflow": workflow, "values": values}, headers=headers)
    assert created.status == 201, created.body
    job_id = created.json()["job"]["id"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = get(f"{url}/cozygen/api/jobs/{job_id}", headers=headers).json()["job"]
        if job["status"] == "completed":
            return job
        assert job["status"] in ("pending", "running"), job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish")


# -- a household on a server with auth on ------------------------------------------------------------------------

ADMIN, ADMIN_PASSWORD = "admin", "correct horse battery"
AUTH_ENV = {"COZYGEN_AUTH": "on", "COZYGEN_ADMIN_USER": ADMIN, "COZYGEN_ADMIN_PASSWORD": ADMIN_PASSWORD}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def sign_in(url: str, username: str, password: str) -> str:
    """A session token, as the app's sign-in form gets it."""
    signed = post(f"{url}/cozygen/api/login", {"username": username, "password": password})
    assert signed.status == 200, signed.body
    return signed.json()["token"]


def household(url: str, members: dict[str, str], *, per_user: bool = False) -> dict[str, dict[str, str]]:
    """The admin (ADMIN on AUTH_ENV) and each member made with its role ("user", "viewer"), as Authorization
    headers by name. Each member's password is ``<name>-pass-123``. ``per_user`` makes outputs per user."""
    found = {"admin": bearer(sign_in(url, ADMIN, ADMIN_PASSWORD))}
    for name, role in members.items():
        body = {"username": name, "password": f"{name}-pass-123", "role": role}
        made = post(f"{url}/cozygen/api/users", body, headers=found["admin"])
        assert made.status == 201, made.body
        found[name] = bearer(sign_in(url, name, f"{name}-pass-123"))
    if per_user:
        changed = request(
            "PATCH", f"{url}/cozygen/api/settings", {"gallery_visibility": "per_user"}, headers=found["admin"]
        )
        assert changed.status == 200, changed.body
    return found


async def run_and_watch(url: str, graph: dict) -> tuple[str, list[dict]]:
    """Queue a prompt with our socket's client_id and collect its messages until it finishes."""
    import aiohttp

    client_id = uuid.uuid4().hex
    messages: list[dict] = []
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(f"{url}/ws?clientId={client_id}") as ws:
            async with session.post(f"{url}/prompt", json={"prompt": graph, "client_id": client_id}) as response:
                assert response.status == 200, await response.text()
                prompt_id = (await response.json())["prompt_id"]
            async with asyncio.timeout(60):
                async for message in ws:
                    if message.type != aiohttp.WSMsgType.TEXT:
                        continue
                    data = json.loads(message.data)
                    if data.get("data", {}).get("prompt_id") not in (None, prompt_id):
                        continue
                    messages.append(data)
                    if data["type"] in ("execution_success", "execution_error", "execution_interrupted"):
                        break
    return prompt_id, messages


def at_once(work: Any, items: list) -> list:
    """``work`` of every item, each in a thread of its own, all let go at the same moment (for races)."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    start = threading.Barrier(len(items))

    def run(item: Any) -> Any:
        start.wait()
        return work(item)

    with ThreadPoolExecutor(len(items)) as pool:
        return list(pool.map(run, items))


class StreamEvents:
    """The events of a server-sent event stream, as (name or None, data), while open (a context manager)."""

    def __init__(self, url: str, headers: dict[str, str], path: str) -> None:
        import http.client
        import threading
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        self._conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
        self._conn.request("GET", path, headers=headers)
        self._response = self._conn.getresponse()
        assert self._response.status == 200
        assert self._response.readline().strip() == b":ok"  # sent once the server follows the hub: none missed
        self.events: list[tuple[str | None, Any]] = []
        self._thread = threading.Thread(target=self._read, daemon=True)

    def _read(self) -> None:
        import http.client

        name = None
        try:
            for raw in iter(self._response.readline, b""):
                line = raw.decode().strip()
                if line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("data: "):
                    self.events.append((name, json.loads(line[6:])))
                elif not line:
                    name = None
        except (OSError, ValueError, http.client.HTTPException):
            pass  # the stream was shut

    def named(self, name: str) -> list[Any]:
        return [data for kind, data in list(self.events) if kind == name]

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        import socket

        if self._conn.sock is not None:
            self._conn.sock.shutdown(socket.SHUT_RDWR)
        self._thread.join(timeout=10)
        self._conn.close()


class GalleryEvents(StreamEvents):
    """The file names of the gallery stream's created/modified events, while open (a context manager)."""

    def __init__(self, url: str, headers: dict[str, str], kind: str = "output") -> None:
        super().__init__(url, headers, f"/cozygen/api/gallery/stream?recursive=true&type={kind}")

    @property
    def names(self) -> list[str]:
        return [
            data["item"]["filename"]
            for _, data in list(self.events)
            if isinstance(data, dict) and data.get("event") in ("created", "modified")
        ]


def load_data(relative: str) -> Any:
    """A JSON fixture below tests/."""
    return json.loads((Path(__file__).resolve().parent / relative).read_text())


def until(read: Callable[[], Any], ok: Callable[[Any], bool], timeout: float = 30.0) -> Any:
    """``read()`` again until ``ok`` says yes or ``timeout`` seconds pass; the last value read (the gallery's watcher
    indexes a new file within moments)."""
    deadline = time.monotonic() + timeout
    while True:
        found = read()
        if ok(found) or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def memory(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (its peak) of a process, in bytes (Linux)."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = int(value.split()[0]) * 1024
    return found


def reset_peak(pid: int) -> bool:
    """Bring a process's VmHWM down to its RSS now (Linux 4.0+); False when not allowed here."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


@contextlib.contextmanager
def http_server(handler: type[BaseHTTPRequestHandler], **state: Any) -> Iterator[ThreadingHTTPServer]:
    """A threaded HTTP server on 127.0.0.1 (a port the system picks) serving ``handler``, for a hostile or recording
    peer; ``state`` is set on the server (what its handler reads and notes: ``self.server.<name>``)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    for name, value in state.items():
        setattr(server, name, value)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
