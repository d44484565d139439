"""ComfyUI killed (``kill -9``) under load, then started again on the same folders.

Several threads submit weights-free jobs as fast as they can while an upload is in flight; ComfyUI is killed in
the middle, with jobs still waiting on its queue, and started again. Then: every job CozyGen acknowledged (201)
is there with a true status (completed with its image, or interrupted or failed for what was running or waiting;
never pending or running for ever), no job a client was shown as completed is taken back, the database passes
``PRAGMA integrity_check``, nothing ran twice (no prompt re-run after the restart, no prompt with two sets of
outputs), and the partial file of the killed upload is gone at the next start while a normal file beside it stays.
"""

from __future__ import annotations

import http.client
import json
import socket
import sqlite3
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from support import get, post

ADMIN, PASSWORD = "admin", "crash-test-admin-password"
ENV = {"COZYGEN_AUTH": "on", "COZYGEN_ADMIN_USER": ADMIN, "COZYGEN_ADMIN_PASSWORD": PASSWORD, "COZYGEN_RATE_LIMIT": "0"}
FORM = "cozygen_procedural_form.json"
JSON = {"Content-Type": "application/json"}
SUBMITTERS = 4
KILL_AFTER = 200  # acknowledged jobs before the kill (the submitters go on until it)
WAITING_AT_KILL = 5  # at least this many prompts still on ComfyUI's queue when it dies
FINISHED = {"completed", "failed", "cancelled", "interrupted"}
TIMEOUT = 300.0


@dataclass
class Load:
    """What the submitters saw: acknowledged jobs (job id -> prompt ids), and anything else they were answered."""

    acknowledged: dict[str, list[str]] = field(default_factory=dict)
    refused: list[tuple[int, bytes]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)

    def count(self) -> int:
        with self.lock:
            return len(self.acknowledged)


@dataclass
class Crash:
    server: Any
    headers: dict[str, str]
    load: Load
    shown_completed: set[str]  # jobs a client was shown as completed just before the kill
    abandoned_upload: list[str]  # the .part file(s) the killed upload left
    planted: str  # a partial upload file put in the input folder while ComfyUI was down

    @property
    def url(self) -> str:
        return str(self.server.url)


def submitter(port: int, headers: dict[str, str], worker: int, load: Load) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    n = 0
    while not load.stop.is_set():
        values = {"prompt": f"crash {worker}-{n}", "seed": worker * 1_000_000 + n, "steps": 1, "size": 64}
        body = json.dumps({"workflow": FORM, "values": values}).encode()
        try:
            conn.request(
                "POST", "/cozygen/api/jobs", body=body, headers={**headers, "Content-Type": "application/json"}
            )
            reply = conn.getresponse()
            data = reply.read()
        except (OSError, http.client.HTTPException):
            return  # ComfyUI is gone: what was in flight was never acknowledged
        with load.lock:
            if reply.status == 201:
                job = json.loads(data)["job"]
                load.acknowledged[job["id"]] = job["prompt_ids"]
            else:
                load.refused.append((reply.status, data))
        n += 1


def start_upload(port: int, headers: dict[str, str]) -> socket.socket:
    """An upload whose body is still arriving: its headers and the first bytes of a large image, no more."""
    boundary = uuid.uuid4().hex
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="big.png"\r\n'
        "Content-Type: image/png\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    size = 4 * 1024 * 1024
    request = (
        f"POST /cozygen/upload_image HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        + f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
        + f"Content-Length: {len(head) + size + len(tail)}\r\n\r\n"
    ).encode()
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall(request + head + b"\x89PNG\r\n\x1a\n" + b"\0" * (256 * 1024))
    return sock


def poll(condition, what: str, timeout: float = TIMEOUT) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = condition()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:.0f} s")
        time.sleep(0.02)


def login(url: str) -> dict[str, str]:
    reply = post(f"{url}/cozygen/api/login", {"username": ADMIN, "password": PASSWORD})
    assert reply.status == 200, reply.body
    return {"Authorization": f"Bearer {reply.json()['token']}"}


@pytest.fixture(scope="module")
def crash(start_comfyui) -> Crash:
    server = start_comfyui("ComfyUI-CozyGen-crash", env=dict(ENV))
    headers = login(server.url)
    load = Load()
    threads = [
        threading.Thread(target=submitter, args=(server.port, headers, n, load), daemon=True) for n in range(SUBMITTERS)
    ]
    for thread in threads:
        thread.start()
    upload = start_upload(server.port, headers)
    try:
        abandoned = poll(
            lambda: [p.name for p in server.input_dir.glob(".cozygen-upload-*.part")], "the upload's partial file"
        )
        poll(lambda: load.count() >= KILL_AFTER, f"{KILL_AFTER} acknowledged jobs")
        poll(
            lambda: len(get(f"{server.url}/queue", headers=headers).json()["queue_pending"])
            >= WAITING_AT_KILL + SUBMITTERS,  # even if the last submissions in flight are never acknowledged
            "prompts waiting on ComfyUI's queue",
        )
        shown = get(f"{server.url}/cozygen/api/jobs?status=completed&limit=200", headers=headers)
        assert shown.status == 200, shown.body
        server.kill()
    finally:
        load.stop.set()
        upload.close()
    for thread in threads:
        thread.join(timeout=60)
    planted = ".cozygen-upload-0123456789abcdef.part"  # as a killed upload of an earlier run leaves it
    (server.input_dir / planted).write_bytes(b"half an upload")
    Image.new("RGB", (4, 4), "blue").save(server.input_dir / "keep-me.png")
    server.restart()
    return Crash(server, login(server.url), load, {j["id"] for j in shown.json()["jobs"]}, abandoned, planted)


def jobs_after(crash: Crash) -> dict[str, dict[str, Any]]:
    found = {}
    for job_id in crash.load.acknowledged:
        reply = get(f"{crash.url}/cozygen/api/jobs/{job_id}", headers=crash.headers)
        assert reply.status == 200, f"acknowledged job {job_id} is gone after the crash: {reply.status} {reply.body!r}"
        found[job_id] = reply.json()["job"]
    return found


def embedded_prompt_ids(output: Path) -> Counter[str]:
    """How many output files each prompt id wrote (CozyGen Output embeds it in every PNG it saves)."""
    counts: Counter[str] = Counter()
    for path in output.rglob("*.png"):
        with Image.open(path) as image:
            record = image.info.get("cozygen")
        if record:
            counts[json.loads(record)["prompt_id"]] += 1
    return counts


def test_every_acknowledged_job_survives_with_a_true_status(crash: Crash) -> None:
    assert crash.load.refused == []  # under load every submission was acknowledged (or cut off by the kill)
    assert len(crash.load.acknowledged) >= KILL_AFTER
    found = jobs_after(crash)
    statuses = Counter(job["status"] for job in found.values())
    assert set(statuses) <= FINISHED, statuses  # none left pending or running
    assert statuses["completed"] >= 1 and statuses["interrupted"] >= WAITING_AT_KILL, statuses
    taken_back = {j for j in crash.shown_completed if j in found and found[j]["status"] != "completed"}
    assert taken_back == set()  # what a client was shown as completed stays completed
    for job in found.values():
        assert job["prompt_ids"] == crash.load.acknowledged[job["id"]]
        if job["status"] == "completed":  # its image is there, and it is its own
            assert job["images"], job
            for image in job["images"]:
                path = crash.server.output_dir / image["subfolder"] / image["filename"]
                with Image.open(path) as saved:
                    assert json.loads(saved.info["cozygen"])["prompt_id"] in job["prompt_ids"]
        else:
            assert job["status"] == "interrupted" and job["error"], job  # says why
            assert job["finished_at"] is not None


def test_nothing_ran_twice(crash: Crash) -> None:
    acknowledged_prompts = {p for prompts in crash.load.acknowledged.values() for p in prompts}
    rerun = acknowledged_prompts & set(get(f"{crash.url}/history", headers=crash.headers).json())
    assert rerun == set()  # ComfyUI's history starts empty: nothing was queued again at start
    written = embedded_prompt_ids(crash.server.output_dir)  # every PNG whole: a kill mid-save leaves none cut short
    assert [p for p, n in written.items() if n > 1] == []  # one image per prompt: no prompt ran twice
    found = jobs_after(crash)
    owners = Counter(p for job in found.values() for p in job["prompt_ids"])
    assert [p for p, n in owners.items() if n > 1] == []  # no two jobs share a prompt (one set of outputs each)


def test_the_database_is_intact(crash: Crash) -> None:
    path = crash.server.user_dir / "cozygen" / "cozygen.sqlite3"
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        recorded = {row[0] for row in conn.execute("SELECT id FROM jobs")}
    finally:
        conn.close()
    assert set(crash.load.acknowledged) <= recorded


def test_a_killed_uploads_partial_file_is_removed_at_start_and_others_stay(crash: Crash) -> None:
    left = {p.name for p in crash.server.input_dir.iterdir()}
    assert not left & {*crash.abandoned_upload, crash.planted}
    assert "keep-me.png" in left
    assert not list(crash.server.output_dir.glob(".cozygen-*.part"))  # nor an output the kill cut short
    assert "CozyGen: removed" in crash.server.log()
