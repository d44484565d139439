"""The model download queue: enqueue, a scheduler running at most ``download_concurrency`` at once, cancel,
history, and ``download.changed`` events on the job hub.

A download is recorded ``queued`` before ``enqueue`` answers (after its COMMIT). The scheduler claims the oldest
(``running``), resolves its source (Hugging Face metadata, or the URL checked by the download guard), and runs the
transfer in a thread; the loop only samples its progress (an event at most 4 times a second while bytes move). A
finished file is fsynced in its ``.part``, hard-linked (or renamed) to its name without replacing anything, its
directory fsynced, and the row committed ``done`` before anyone is told; then ``on_installed(folder)`` lets ComfyUI
see it. A stop puts running downloads back to ``queued`` with their ``.part`` kept: the next start resumes them.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import os
import re
import shutil
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from ..errors import BadRequest, Conflict, CozyGenError, HostNotReady, InsufficientStorage, NotFound
from ..events import EventHub
from ..host import Host
from ..store.db import Database
from . import hashing, hf, netguard, partfile, records, transfer
from .sources import Source, default_name, parse_source
from .targets import Target, pickle_warning, resolve_target

T = TypeVar("T")

log = logging.getLogger("cozygen")
EVENT = "download.changed"
SPACE_MARGIN = 64 << 20  # bytes left free beyond a download's own
TICK = 0.25  # seconds between progress samples (and at most one event each)
SPEED_WINDOW = 5.0  # seconds of samples the speed is averaged over
_SHA256 = re.compile(r"[0-9a-f]{64}")
_DELETE_PART = frozenset({"HASH_MISMATCH", "SIZE_MISMATCH"})  # a .part that can never become the file


@dataclass(eq=False)
class _Live:
    """A running download: its row, the transfer's progress, and how to stop it."""

    row: dict[str, Any]
    progress: transfer.Progress
    cancel: transfer.Cancel = field(default_factory=transfer.Cancel)
    reason: str | None = None  # "cancel" (by a person) or "stop" (the server stops)
    task: asyncio.Task | None = None
    ended: asyncio.Future | None = None  # its view once it ends
    samples: deque[tuple[float, int]] = field(default_factory=lambda: deque(maxlen=int(SPEED_WINDOW / TICK) + 1))

    def speed(self) -> float | None:
        if len(self.samples) < 2:
            return None
        (t0, d0), (t1, d1) = self.samples[0], self.samples[-1]
        return (d1 - d0) / (t1 - t0) if t1 - t0 >= 0.2 else None


@dataclass(frozen=True)
class _Outcome:
    state: str  # done | failed | cancelled | queued (stopped)
    result: transfer.Result | None = None
    error: str | None = None
    code: str | None = None


def human_bytes(n: float, *, base: int = 1000, space: str = " ") -> str:
    """``1.2 GB`` (``base=1024, space=""``: AI Playground's ``1.1GB``)."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < base or unit == "TB":
            return f"{n:.0f}{space}{unit}" if unit == "B" else f"{n:.1f}{space}{unit}"
        n /= base
    return f"{n:.1f}{space}TB"


def free_bytes(directory: str) -> int:
    """Free space of the disk ``directory`` is (or will be) on: its nearest existing ancestor's."""
    path = Path(directory)
    while not path.exists() and path != path.parent:
        path = path.parent
    return shutil.disk_usage(path).free


def check_sha256(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not _SHA256.fullmatch(value.strip().lower()):
        raise BadRequest("sha256 is the file's SHA-256: 64 hexadecimal digits", code="INVALID_SHA256")
    return value.strip().lower()


class DownloadService:
    """The queue over the ``downloads`` table (``data_dir`` is the data folder; the ``.part`` files live beside
    their targets, so a rename never crosses disks)."""

    def __init__(
        self,
        db: Database,
        host: Host,
        hub: EventHub,
        data_dir: Path,
        settings: Callable[[], Mapping[str, Any]],
        on_installed: Callable[[str], None],
        *,
        hf_endpoint: str | None = None,
        free: Callable[[str], int] = free_bytes,
        retry_delay: float = 1.0,
    ) -> None:
        self._db, self._host, self._hub, self.data_dir = db, host, hub, data_dir
        self._settings, self._on_installed = settings, on_installed
        self._hf_endpoint = hf_endpoint  # None: HF_ENDPOINT from the environment at each use
        self._free, self._retry_delay = free, retry_delay
        self._live: dict[str, _Live] = {}
        self._waiters: dict[str, list[asyncio.Future]] = {}
        self._wake: asyncio.Event | None = None
        self._scheduler: asyncio.Task | None = None
        self._stopping = False

    # -- lifecycle ---------------------------------------------------------------------------------------------
    async def start(self) -> None:
        """Put what the last run left ``running`` back in the queue (their ``.part`` resumes) and start."""
        requeued = await self._db.execute_write_fn(records.requeue_running)
        if requeued:
            log.info("CozyGen: %d model download(s) left running by the last run are queued again", requeued)
        self._stopping = False
        self._wake = asyncio.Event()
        self._scheduler = asyncio.create_task(self._schedule(), name="cozygen-downloads")
        self._wake.set()

    async def stop(self) -> None:
        """Stop the running transfers (back to ``queued``, their ``.part`` kept) and the scheduler."""
        self._stopping = True
        for live in list(self._live.values()):
            live.reason = "stop"
            live.cancel.set()
        tasks = [live.task for live in list(self._live.values()) if live.task is not None]
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._scheduler is not None:
            self._scheduler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._scheduler
            self._scheduler = None
        for futures in self._waiters.values():
            for future in futures:
                if not future.done():
                    future.set_exception(HostNotReady("the download queue stopped; it resumes when CozyGen starts"))
        self._waiters.clear()

    # -- what the routes call ----------------------------------------------------------------------------------
    async def enqueue(
        self, source: Source, folder: Any, name: Any, *, sha256: Any = None, by: str | None
    ) -> dict[str, Any]:
        """Queue a download (validated, recorded and committed) and return its view.

        409 ``MODEL_EXISTS`` when the file is there, 409 ``DOWNLOAD_EXISTS`` (``extra.download``) when it is queued
        or running already; a Hugging Face file is looked up first (404 ``MODEL_NOT_FOUND``, 403 ``MODEL_GATED``,
        507 ``NOT_ENOUGH_DISK_SPACE``); a URL's host and addresses are checked (403)."""
        wanted = default_name(source) if name is None else name
        target = await asyncio.to_thread(resolve_target, self._host, folder, wanted)  # realpath: file system
        expected = check_sha256(sha256)
        settings = self._settings()
        if source.kind == "url":
            policy = self._policy(settings)
            _scheme, host, port = netguard.check_start(source.url, policy)
            await asyncio.to_thread(netguard.resolve, host, port, policy)
        if await asyncio.to_thread(os.path.lexists, target.path):
            raise Conflict(f"{target.folder}/{target.name} is already installed", code="MODEL_EXISTS")
        await self._refuse_active(target)
        total = None
        if source.kind == "hf":
            remote = await asyncio.to_thread(hf.resolve, source, _secret(settings, "hf_token"), base=self._endpoint())
            total, expected = remote.size, expected or remote.sha256
        source_json = json.dumps(source.as_dict(), sort_keys=True)
        await asyncio.to_thread(self._prepare_part, target, source_json, total)
        row = {
            "id": uuid.uuid4().hex,
            "folder": target.folder,
            "name": target.name,
            "source_json": source_json,
            "sha256_expected": expected,
            "total": total,
            "done": 0,
            "state": "queued",
            "warning": pickle_warning(target.name),
            "created_by": by,
            "created_at": time.time(),
        }
        existing = await self._db.execute_write_fn(lambda conn: records.insert_download(conn, row))
        if existing is not None:
            raise self._exists(dict(existing))
        view = self._view(row)
        self._hub.publish(EVENT, view)
        if self._wake is not None:
            self._wake.set()
        return view

    async def list(self, limit: int = 100) -> list[dict[str, Any]]:
        """Queue and history, newest first; running ones with live progress."""
        limit = max(1, min(int(limit), 1000))
        rows = await self._db.execute_settled(lambda conn: records.recent_downloads(conn, limit))
        return [self._view(dict(row)) for row in rows]

    async def get(self, download_id: str) -> dict[str, Any]:
        return self._view(await self._row(download_id))

    async def cancel(self, download_id: str) -> dict[str, Any]:
        """Cancel a queued or running download (its ``.part`` is deleted); 404 unknown, 409 finished."""
        for _ in range(3):
            live = self._live.get(download_id)
            if live is not None:
                live.reason = "cancel"
                live.cancel.set()
                assert live.ended is not None
                view: dict[str, Any] = await asyncio.shield(live.ended)
                return view
            row = await self._row(download_id)
            if row["state"] in records.FINAL:
                raise Conflict(
                    f"this download is {row['state']} already",
                    code="DOWNLOAD_FINISHED",
                    extra={"download": self._view(row)},
                )
            if row["state"] == "queued":
                at = time.time()
                if await self._db.execute_write_fn(
                    functools.partial(records.cancel_queued, download_id=download_id, at=at)
                ):
                    target = await self._target_or_none(row)
                    if target is not None:
                        await asyncio.to_thread(_remove, target.part_path)
                    return self._ended(await self._row(download_id))
            await asyncio.sleep(0)  # claimed by the scheduler meanwhile: it is live now
        return await self.get(download_id)

    async def wait(self, download_id: str) -> dict[str, Any]:
        """The download's view once it is done, failed or cancelled."""
        view = await self.get(download_id)
        if view["state"] in records.FINAL:
            return view
        future = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(download_id, []).append(future)
        view = await self.get(download_id)  # it may have ended between the two reads
        if view["state"] in records.FINAL:
            return view
        result: dict[str, Any] = await future
        return result

    # -- the scheduler -----------------------------------------------------------------------------------------
    def _concurrency(self) -> int:
        value = self._settings().get("download_concurrency", 2)
        return max(1, min(8, value)) if isinstance(value, int) and not isinstance(value, bool) else 2

    async def _schedule(self) -> None:
        assert self._wake is not None
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                while not self._stopping and len(self._live) < self._concurrency():
                    skip = list(self._live)
                    row = await self._db.execute_settled(functools.partial(records.next_queued, skip=skip))
                    if row is None:
                        break
                    await self._begin(dict(row))
            except Exception:  # the database failed: the next wake-up (an enqueue, an end) tries again
                log.exception("CozyGen: the download queue could not start a download")

    async def _begin(self, row: dict[str, Any]) -> None:
        live = _Live(row, transfer.Progress(row["done"] or 0, row["total"]))
        live.ended = asyncio.get_running_loop().create_future()
        self._live[row["id"]] = live  # before the claim: a cancel meanwhile finds it
        at = time.time()
        if not await self._db.execute_write_fn(lambda conn: records.claim(conn, row["id"], at)):
            del self._live[row["id"]]  # cancelled before it started
            live.ended.set_result(self._view(await self._row(row["id"])))
            return
        row.update(state="running", started_at=at, error=None, code=None)
        live.task = asyncio.create_task(self._run(live), name=f"cozygen-download-{row['id']}")

    async def _run(self, live: _Live) -> None:
        self._hub.publish(EVENT, self._view(live.row))
        ticker = asyncio.create_task(self._tick(live))
        try:
            outcome = await self._transfer(live)
        except CozyGenError as exc:
            outcome = _Outcome("failed", error=exc.message, code=exc.code)
        except Exception as exc:
            log.exception("CozyGen: model download %s failed", live.row["id"])
            outcome = _Outcome("failed", error=f"unexpected error: {type(exc).__name__}: {exc}", code="INTERNAL")
        finally:
            ticker.cancel()
        if outcome.state != "done" and live.reason is not None:
            outcome = _Outcome("queued") if live.reason == "stop" else _Outcome("cancelled", code="CANCELLED")
        try:
            await self._settle(live, outcome)
        finally:
            self._live.pop(live.row["id"], None)
            if self._wake is not None:
                self._wake.set()

    async def _tick(self, live: _Live) -> None:
        sent = -1
        while True:
            done = live.progress.done
            live.samples.append((time.monotonic(), done))
            if done != sent:
                sent = done
                self._hub.publish(EVENT, self._view(live.row))
            await asyncio.sleep(TICK)

    async def _transfer(self, live: _Live) -> _Outcome:
        row, settings = live.row, self._settings()
        source = parse_source(json.loads(row["source_json"]))
        target = await asyncio.to_thread(resolve_target, self._host, row["folder"], row["name"])
        policy = self._policy(settings)
        if source.kind == "hf":
            remote = await asyncio.to_thread(hf.resolve, source, _secret(settings, "hf_token"), base=self._endpoint())
            url, headers, size, sha256 = remote.url, remote.headers, remote.size, remote.sha256
        else:
            netguard.check_start(source.url, policy)
            url, headers, size, sha256 = source.url, self._url_headers(source.url, settings), None, None
        if live.cancel.is_set():
            return _Outcome("cancelled")
        if size != row["total"] or (sha256 and not row["sha256_expected"]):
            await self._db.execute_write_fn(lambda conn: records.set_remote(conn, row["id"], size, sha256))
            row.update(
                total=size if size is not None else row["total"], sha256_expected=row["sha256_expected"] or sha256
            )
        fetch = functools.partial(
            transfer.fetch,
            url,
            headers,
            target.part_path,
            policy=policy,
            expected_size=size,
            expected_sha256=row["sha256_expected"],
            progress=live.progress,
            cancel=live.cancel,
            check_space=lambda need: self._check_space(target, need),
            retry_delay=self._retry_delay,
        )
        result = await in_daemon_thread(fetch)
        await asyncio.to_thread(_install, target)
        return _Outcome("done", result=result)

    async def _settle(self, live: _Live, outcome: _Outcome) -> None:
        """Record how a running download ended, then tell: the row is committed before any event or answer."""
        row, progress, at = live.row, live.progress, time.time()
        download_id, target = row["id"], await self._target_or_none(row)
        if outcome.state == "queued":
            await self._db.execute_write_fn(
                lambda conn: records.requeue(conn, download_id, progress.done, progress.total)
            )
            row.update(state="queued", started_at=None, done=progress.done)
            view = self._view(row, live=False)
            self._hub.publish(EVENT, view)
            assert live.ended is not None
            live.ended.set_result(view)
            return
        if target is not None and (outcome.state == "cancelled" or outcome.code in _DELETE_PART):
            await asyncio.to_thread(_remove, target.part_path)
        result = outcome.result
        if outcome.state == "done" and result is not None and target is not None:
            stamp = await asyncio.to_thread(hashing.stamp_of, target.path)

            def record(conn: Any) -> None:
                size, sha256 = result.size, result.sha256
                records.finish(conn, download_id, "done", at=at, done=size, total=size, size=size, sha256=sha256)
                if stamp is not None:
                    hashing.store(conn, stamp, result.sha256, at)

            try:  # before the row says done: whoever reads "done" finds the model in ComfyUI's lists
                await asyncio.to_thread(self._on_installed, row["folder"])
            except Exception:
                log.exception("CozyGen: refreshing ComfyUI's %s list failed", row["folder"])
            await self._db.execute_write_fn(record)
            row.update(state="done", done=result.size, total=result.size, size=result.size, sha256=result.sha256)
        else:
            error = outcome.error or ("cancelled" if outcome.state == "cancelled" else "failed")
            done = 0 if target is None or outcome.state == "cancelled" else progress.done

            def fail(conn: Any) -> None:
                records.finish(
                    conn,
                    download_id,
                    outcome.state,
                    at=at,
                    done=done,
                    total=progress.total,
                    error=error,
                    code=outcome.code,
                )

            await self._db.execute_write_fn(fail)
            row.update(state=outcome.state, done=done, error=error, code=outcome.code, total=progress.total)
        row["finished_at"] = at
        self._ended(row, live)

    def _ended(self, row: Mapping[str, Any], live: _Live | None = None) -> dict[str, Any]:
        """Tell everyone a download ended: the event, its canceller and its waiters."""
        view = self._view(row, live=False)
        self._hub.publish(EVENT, view)
        if live is not None and live.ended is not None and not live.ended.done():
            live.ended.set_result(view)
        for future in self._waiters.pop(row["id"], []):
            if not future.done():
                future.set_result(view)
        return view

    # -- helpers -----------------------------------------------------------------------------------------------
    def _endpoint(self) -> str:
        return self._hf_endpoint or hf.endpoint()

    def _policy(self, settings: Mapping[str, Any]) -> netguard.Policy:
        return netguard.policy_from_settings(settings, self._hf_endpoint or hf.configured_endpoint())

    @staticmethod
    def _url_headers(url: str, settings: Mapping[str, Any]) -> dict[str, str]:
        """The Civitai key, for civitai.com and its subdomains only."""
        key = _secret(settings, "civitai_api_key")
        host = (urlsplit(url).hostname or "").rstrip(".")
        if key and (host == "civitai.com" or host.endswith(".civitai.com")):
            return {"Authorization": f"Bearer {key}"}
        return {}

    def _check_space(self, target: Target, need: int) -> None:
        free = self._free(target.directory)
        if need + SPACE_MARGIN > free:
            raise InsufficientStorage(
                f"{target.name} needs {human_bytes(need)} more but only {human_bytes(free)} is free on that disk "
                f"(CozyGen keeps {human_bytes(SPACE_MARGIN)} spare); free some space and try again",
                code="NOT_ENOUGH_DISK_SPACE",
                extra={"need": need, "free": free},
            )

    def _prepare_part(self, target: Target, source_json: str, total: int | None) -> None:
        """Keep a ``.part`` only when it is of this same source (resume); check the space the rest needs.
        Blocking."""

        def previous(conn: Any) -> Any:
            if records.active_download(conn, target.folder, target.name) is not None:
                return None  # queued meanwhile by another request: its insert wins, this one will be refused
            return records.newest_download(conn, target.folder, target.name, records.FINAL) or False

        found = self._db.read(previous)
        if found is False or (found is not None and found["source_json"] != source_json):
            _remove(target.part_path)
        if total is not None:
            have = os.path.getsize(target.part_path) if os.path.exists(target.part_path) else 0
            self._check_space(target, max(0, total - have))

    async def _refuse_active(self, target: Target) -> None:
        active = await self._db.execute_settled(lambda conn: records.active_download(conn, target.folder, target.name))
        if active is not None:
            raise self._exists(dict(active))

    def _exists(self, row: dict[str, Any]) -> Conflict:
        return Conflict(
            f"{row['folder']}/{row['name']} is being downloaded already ({row['state']})",
            code="DOWNLOAD_EXISTS",
            extra={"download": self._view(row)},
        )

    async def _row(self, download_id: Any) -> dict[str, Any]:
        row = (
            await self._db.execute_settled(lambda conn: records.get_download(conn, download_id))
            if isinstance(download_id, str)
            else None
        )
        if row is None:
            raise NotFound(f"no download {str(download_id)[:64]!r}", code="DOWNLOAD_NOT_FOUND")
        return dict(row)

    async def _target_or_none(self, row: Mapping[str, Any]) -> Target | None:
        try:
            return await asyncio.to_thread(resolve_target, self._host, row["folder"], row["name"])
        except CozyGenError:
            return None

    def _view(self, row: Mapping[str, Any], *, live: bool = True) -> dict[str, Any]:
        current = self._live.get(row["id"]) if live else None
        state = row["state"]
        done = current.progress.done if current is not None else row["done"] or 0
        total = (current.progress.total if current is not None else None) or row["total"]
        speed = current.speed() if current is not None and state == "running" else None
        source = parse_source(json.loads(row["source_json"]))
        if state == "done":
            percent: float | None = 100.0
        else:
            percent = round(min(100.0, done * 100 / total), 1) if total else None
        return {
            "id": row["id"],
            "folder": row["folder"],
            "name": row["name"],
            "source": source.as_dict(),
            "label": source.label,
            "state": state,
            "done": done,
            "total": total,
            "percent": percent,
            "speed": round(speed, 1) if speed is not None else None,
            "eta": round((total - done) / speed, 1) if speed and total and total > done else None,
            "sha256": row.get("sha256"),
            "sha256_expected": row.get("sha256_expected"),
            "error": row.get("error"),
            "code": row.get("code"),
            "warning": row.get("warning"),
            "created_by": row.get("created_by"),
            "created_at": row["created_at"],
            "started_at": row.get("started_at"),
            "finished_at": row.get("finished_at"),
        }


def in_daemon_thread(work: Callable[[], T]) -> asyncio.Future[T]:
    """Run ``work`` in a daemon thread of its own at a lower priority. Not an executor: Python joins an executor's
    threads at exit, so a transfer (an hour long, or stalled) would hold ComfyUI's Ctrl+C until it ended; a daemon
    thread is dropped, its ``.part`` stays and resumes at the next start. Never the loop's shared pool either: a
    thread cannot raise its priority back (partfile.lower_priority)."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(result: Any, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)

    def run() -> None:
        partfile.lower_priority()
        result, error = None, None
        try:
            result = work()
        except BaseException as exc:  # handed to the awaiting task
            error = exc
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nobody waits any more
            loop.call_soon_threadsafe(settle, result, error)

    threading.Thread(target=run, name="cozygen-download", daemon=True).start()
    return future


def _secret(settings: Mapping[str, Any], name: str) -> str | None:
    value = settings.get(name)
    return value if isinstance(value, str) and value else None


def _remove(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def _install(target: Target) -> None:
    """Give the fsynced ``.part`` its name without replacing a file there (409 ``MODEL_EXISTS``) and fsync the
    directory. Blocking."""
    try:
        os.link(target.part_path, target.path)  # fails when the name is taken: nothing is overwritten
    except FileExistsError:
        _remove(target.part_path)
        raise Conflict(f"{target.folder}/{target.name} appeared while it downloaded", code="MODEL_EXISTS") from None
    except OSError:  # no hard links here (FAT, some network shares): check, then rename
        if os.path.lexists(target.path):
            _remove(target.part_path)
            raise Conflict(f"{target.folder}/{target.name} appeared while it downloaded", code="MODEL_EXISTS") from None
        os.replace(target.part_path, target.path)
    else:
        os.unlink(target.part_path)
    _fsync_directory(target.directory)


def _fsync_directory(directory: str) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return  # Windows: a directory cannot be opened; its rename is durable on its own
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
