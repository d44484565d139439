"""A real HTTP server on a loopback socket that serves model files as Hugging Face and plain hosts do.

It runs aiohttp on its own event loop in a thread, so blocking clients (the real ``huggingface_hub``, urllib3,
curl) and async code can both use it::

    with ModelServer() as server:
        sha = server.add_file("a.safetensors", 3 * MIB, cut_after=MIB)  # GET server.file_url("a.safetensors")
        sha = server.hf_file("owner/repo", "unet/b.safetensors", 4096)  # HF_ENDPOINT=server.url
        ...
        server.requests                    # every request seen: method, path, headers (names lowercased)
        server.count("/files/a.safetensors")

Routes:

- ``HEAD|GET /{owner}/{name}/resolve/{revision}/{path}``: the Hugging Face resolve protocol, closely enough for
  ``hf_hub_url`` + ``get_hf_file_metadata``: an LFS file answers 302 to ``{cdn_base}/cdn/<sha256>`` with
  ``X-Repo-Commit``, ``ETag`` and ``X-Linked-Etag`` = ``"<sha256>"``, ``X-Linked-Size``; a non-LFS file
  (``lfs=False``) answers 200 itself with a git-style ``ETag``. Unknown repo → 404 ``X-Error-Code: RepoNotFound``,
  unknown revision → 404 ``RevisionNotFound``, unknown file → 404 ``EntryNotFound``, a gated file (``token=``)
  without ``Authorization: Bearer <token>`` → 401 ``GatedRepo``.
- ``HEAD|GET /cdn/<sha256>`` and ``/files/<name>``: the bytes, with ``Range`` (206 + ``Content-Range``, 416 past
  the end), ``ETag``, ``Content-Disposition``, ``Accept-Ranges``.

Files are generated from a seed (never downloaded): ``size_or_bytes`` is an int (that many seeded bytes, made as
they are sent, so gigabytes cost no memory), ``bytes``, or a ``Path`` served from disk (with ``sendfile`` when the
file has no knobs: the benchmark's source). Each file has knobs
(:class:`Knobs`, set with ``add_file``/``hf_file`` or changed later with :meth:`ModelServer.set`):

- ``cut_after=N``: close the connection after N bytes of a response's body; ``cuts`` times (``None``: always);
- ``hold_at=N``: stop sending at offset N until :meth:`ModelServer.release` (a deterministic "mid-transfer");
- ``throttle=B``: at most B bytes a second;
- ``sha256="..."``: announce this hash instead of the real one (a lying server);
- ``content_length=N``: announce N bytes (Content-Length, X-Linked-Size) whatever is sent (e.g. a huge file);
- ``chunked=True``: no Content-Length at all (chunked transfer encoding): a body of unknown size;
- ``redirect="http://..."``: answer 302 to that URL instead of the file (SSRF tests);
- ``status=N``: answer that status with no file; ``ranges=False``: ignore ``Range`` (always 200, whole file);
- ``token="..."``: refuse (401) a request without ``Authorization: Bearer <token>`` (not on ``/cdn/``: a CDN's URL
  is signed; ``status`` is the only knob that applies there);
- ``content_disposition="..."``: that header instead of ``attachment; filename="<base name>"``.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Self

from aiohttp import web
from loopback import Seen, Served, bound

MIB = 1 << 20
BLOCK = MIB  # generated files are made of 1 MiB blocks, each a different rotation of one seeded block
SEND = 256 * 1024  # bytes per write


@dataclass(frozen=True)
class Knobs:
    cut_after: int | None = None
    cuts: int | None = 1
    hold_at: int | None = None
    throttle: int | None = None
    sha256: str | None = None
    content_length: int | None = None
    chunked: bool = False
    redirect: str | None = None
    status: int | None = None
    ranges: bool = True
    token: str | None = None
    content_disposition: str | None = None


class Blob:
    """A file's bytes: generated from a seed, held in memory, or read from disk."""

    def __init__(self, source: int | bytes | Path, seed: int) -> None:
        self.data = source if isinstance(source, bytes) else None
        self.path = source if isinstance(source, Path) else None
        if self.data is not None:
            self.size = len(self.data)
        elif self.path is not None:
            self.size = self.path.stat().st_size
        else:
            assert isinstance(source, int) and source >= 0, source
            self.size = source
        self.block = random.Random(seed).randbytes(BLOCK) if isinstance(source, int) else b""
        self.sha256 = self._hash()

    def chunks(self, start: int, end: int, size: int = SEND) -> Iterator[bytes]:
        """The bytes [start, end) in pieces of at most ``size``."""
        if self.path is not None:
            with open(self.path, "rb") as f:
                f.seek(start)
                while start < end:
                    piece = f.read(min(size, end - start))
                    if not piece:
                        return
                    start += len(piece)
                    yield piece
            return
        while start < end:
            n = min(size, end - start)
            yield self.read(start, n)
            start += n

    def read(self, offset: int, n: int) -> bytes:
        if self.data is not None:
            return self.data[offset : offset + n]
        if self.path is not None:
            with open(self.path, "rb") as f:
                f.seek(offset)
                return f.read(n)
        parts, end = [], min(offset + n, self.size)
        while offset < end:
            index, within = divmod(offset, BLOCK)
            turn = (index * 7919) % BLOCK
            rotated = self.block[turn:] + self.block[:turn] if turn else self.block
            take = min(BLOCK - within, end - offset)
            parts.append(rotated[within : within + take])
            offset += take
        return b"".join(parts)

    def _hash(self) -> str:
        digest = hashlib.sha256()
        for piece in self.chunks(0, self.size, 8 * MIB):
            digest.update(piece)
        return digest.hexdigest()


@dataclass
class File:
    name: str
    blob: Blob
    knobs: Knobs
    cuts_done: int = 0
    release: asyncio.Event | None = None  # made on the server's loop when held

    @property
    def announced_sha256(self) -> str:
        return self.knobs.sha256 or self.blob.sha256

    @property
    def announced_size(self) -> int:
        return self.blob.size if self.knobs.content_length is None else self.knobs.content_length


@dataclass
class HfRepo:
    files: dict[str, dict[str, File]] = field(default_factory=dict)  # revision -> path -> file
    lfs: dict[str, bool] = field(default_factory=dict)  # path -> whether it is an LFS file


class ModelServer:
    """The server (a context manager): ``url``, files added with :meth:`add_file` and :meth:`hf_file`.

    The same routes also listen on ``127.0.0.2`` (same port) when that loopback address can be bound, and the HF
    resolve route redirects LFS files there (``cdn_base``): like huggingface.co and its CDN, the endpoint and the
    CDN are two hosts, so the real client does not follow the redirect (and a token is not meant for the CDN).
    ``separate_cdn=False`` (or no 127.0.0.2) redirects to ``url`` itself; the real client then follows it.
    """

    def __init__(self, *, separate_cdn: bool = True) -> None:
        self._separate_cdn = separate_cdn
        self._cdn_host: str | None = None
        self._lock = threading.Lock()
        self._files: dict[str, File] = {}  # /files/<name>
        self._blobs: dict[str, File] = {}  # /cdn/<sha256> (the served sha, as announced)
        self._repos: dict[str, HfRepo] = {}
        self.requests: list[Seen] = []
        self._served = Served("model server", on_stop=self._release_all)
        self.port = 0

    # -- lifecycle ------------------------------------------------------------------------------------------
    def __enter__(self) -> Self:
        sock = bound()
        self.port = sock.getsockname()[1]
        socks = [sock]
        if self._separate_cdn:
            try:
                socks.append(bound("127.0.0.2", self.port))
            except OSError:
                pass
            else:
                self._cdn_host = "127.0.0.2"
        self._served.start(self._app, socks)
        return self

    def __exit__(self, *_exc: object) -> None:
        self._served.stop()

    def _app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/cdn/{sha}", self._cdn)
        app.router.add_route("*", "/files/{name:.+}", self._file)
        app.router.add_route("*", "/{owner}/{repo}/resolve/{revision}/{path:.+}", self._resolve)
        return app

    async def _release_all(self) -> None:
        with self._lock:  # let held responses end, or the shutdown waits for them
            files = [*self._files.values(), *self._blobs.values()]
            for file in files:
                file.knobs = replace(file.knobs, hold_at=None)
        for file in files:
            if file.release is not None:
                file.release.set()

    # -- what a test sets up --------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """The base URL, ``http://127.0.0.1:<port>`` (use it as HF_ENDPOINT)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def cdn_base(self) -> str:
        """Where LFS files are redirected: ``http://127.0.0.2:<port>``, or ``url``."""
        return f"http://{self._cdn_host}:{self.port}" if self._cdn_host else self.url

    def file_url(self, name: str) -> str:
        return f"{self.url}/files/{name}"

    def hf_url(self, repo: str, path: str, revision: str = "main") -> str:
        return f"{self.url}/{repo}/resolve/{revision}/{path}"

    def add_file(self, name: str, size_or_bytes: int | bytes | Path, *, seed: int | None = None, **knobs: Any) -> str:
        """Serve a file at ``/files/<name>`` (and ``/cdn/<sha>``); returns its real sha256."""
        file = File(name, Blob(size_or_bytes, _seed(name, seed)), Knobs(**knobs))
        with self._lock:
            self._files[name] = file
            self._blobs[file.announced_sha256] = file
        return file.blob.sha256

    def hf_file(
        self,
        repo: str,
        path: str,
        data: int | bytes | Path,
        *,
        revision: str = "main",
        lfs: bool = True,
        seed: int | None = None,
        **knobs: Any,
    ) -> str:
        """Serve ``path`` of the Hugging Face repo ``owner/name`` at ``revision``; returns its real sha256."""
        file = File(path, Blob(data, _seed(f"{repo}/{path}", seed)), Knobs(**knobs))
        with self._lock:
            entry = self._repos.setdefault(repo, HfRepo())
            entry.files.setdefault(revision, {})[path] = file
            entry.lfs[path] = lfs
            self._blobs[file.announced_sha256] = file
        return file.blob.sha256

    def hf_repo(self, repo: str) -> None:
        """Make an (empty) repo exist: its unknown files answer EntryNotFound rather than RepoNotFound."""
        with self._lock:
            self._repos.setdefault(repo, HfRepo()).files.setdefault("main", {})

    def set(self, name: str, **knobs: Any) -> None:
        """Change the knobs of a file (``name`` as given to add_file, or ``owner/repo/path`` of an HF file)."""
        file = self._find(name)
        with self._lock:
            file.knobs = replace(file.knobs, **knobs)
            file.cuts_done = 0

    def release(self, name: str) -> None:
        """Let a file held at ``hold_at`` go on (and stop holding it)."""
        file = self._find(name)
        with self._lock:
            file.knobs = replace(file.knobs, hold_at=None)
            event = file.release
        if event is not None:
            self._served.call(event.set)

    def data(self, name: str, start: int = 0, end: int | None = None) -> bytes:
        """The bytes served for ``name`` (or ``owner/repo/path``), ``[start, end)``: a test's expected content."""
        blob = self._find(name).blob
        stop = blob.size if end is None else min(end, blob.size)
        return blob.read(start, max(0, stop - start))

    def count(self, path: str, method: str | None = None) -> int:
        """How many requests had this exact path (and method, when given)."""
        return sum(1 for r in list(self.requests) if r.path == path and method in (None, r.method))

    def seen(self, path: str) -> list[Seen]:
        return [r for r in list(self.requests) if r.path == path]

    def _find(self, name: str) -> File:
        with self._lock:
            if name in self._files:
                return self._files[name]
            for repo, entry in self._repos.items():
                for files in entry.files.values():
                    for path, file in files.items():
                        if f"{repo}/{path}" == name:
                            return file
        raise KeyError(name)

    # -- handlers -------------------------------------------------------------------------------------------
    def _record(self, request: web.Request) -> None:
        headers = {k.lower(): v for k, v in request.headers.items()}
        self.requests.append(Seen(request.method, request.path, request.query_string, headers))

    async def _file(self, request: web.Request) -> web.StreamResponse:
        self._record(request)
        with self._lock:
            file = self._files.get(request.match_info["name"])
        if file is None:
            return web.Response(status=404, text="no such file")
        return await self._send(request, file)

    async def _cdn(self, request: web.Request) -> web.StreamResponse:
        self._record(request)
        with self._lock:
            file = self._blobs.get(request.match_info["sha"])
        if file is None:
            return web.Response(status=404, text="no such blob")
        if file.knobs.status is not None:  # a CDN signs its URLs: no token, no redirect; only a failing status
            return web.Response(status=file.knobs.status, text=f"status {file.knobs.status} as asked")
        return await self._send(request, file, knobs_checked=True)

    async def _resolve(self, request: web.Request) -> web.StreamResponse:
        self._record(request)
        repo = f"{request.match_info['owner']}/{request.match_info['repo']}"
        revision, path = request.match_info["revision"], request.match_info["path"]
        with self._lock:
            entry = self._repos.get(repo)
            files = entry.files.get(revision) if entry else None
            file = files.get(path) if files is not None else None
            lfs = entry.lfs.get(path, True) if entry else True
        if entry is None:
            return _hf_error(404, "RepoNotFound", f"Repository Not Found for url: {request.url}.")
        if files is None:
            return _hf_error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
        if file is None:
            return _hf_error(404, "EntryNotFound", f'{path} does not exist on "{revision}"')
        refused = self._refused(request, file)
        if refused is not None:
            return refused
        commit = hashlib.sha1(f"{repo}@{revision}".encode()).hexdigest()
        if not lfs:
            return await self._send(request, file, extra={"X-Repo-Commit": commit}, knobs_checked=True, lfs=False)
        headers = {
            "Location": f"{self.cdn_base}/cdn/{file.announced_sha256}",
            "X-Repo-Commit": commit,
            "ETag": f'"{file.announced_sha256}"',
            "X-Linked-Etag": f'"{file.announced_sha256}"',
            "X-Linked-Size": str(file.announced_size),
            "Accept-Ranges": "bytes",
        }
        return web.Response(status=302, headers=headers)

    def _refused(self, request: web.Request, file: File) -> web.StreamResponse | None:
        knobs = file.knobs
        if knobs.token is not None and request.headers.get("Authorization") != f"Bearer {knobs.token}":
            return _hf_error(401, "GatedRepo", "Access to this file is restricted. You must be authenticated.")
        if knobs.redirect is not None:
            return web.Response(status=302, headers={"Location": knobs.redirect})
        if knobs.status is not None:
            return web.Response(status=knobs.status, text=f"status {knobs.status} as asked")
        return None

    async def _send(
        self,
        request: web.Request,
        file: File,
        *,
        extra: dict[str, str] | None = None,
        knobs_checked: bool = False,
        lfs: bool = True,
    ) -> web.StreamResponse:
        if not knobs_checked:
            refused = self._refused(request, file)
            if refused is not None:
                return refused
        knobs, size = file.knobs, file.blob.size
        if file.blob.path is not None and knobs == Knobs() and lfs:  # a plain file on disk: sendfile, Range and all
            disposition = f'attachment; filename="{file.name.rsplit("/", 1)[-1]}"'
            headers = {"Content-Disposition": disposition, **(extra or {})}
            return _HashedFileResponse(file.blob.sha256, file.blob.path, chunk_size=SEND, headers=headers)
        start, end, status = 0, size, 200
        wanted = request.headers.get("Range") if knobs.ranges else None
        if wanted:
            match = re.fullmatch(r"bytes=(\d+)-(\d*)", wanted.strip())
            if match is None:
                return web.Response(status=400, text="bad Range")
            start = int(match.group(1))
            end = min(size, int(match.group(2)) + 1) if match.group(2) else size
            if start >= size:
                return web.Response(status=416, headers={"Content-Range": f"bytes */{size}"})
            status = 206
        etag = f'"{file.announced_sha256}"' if lfs else f'"{hashlib.sha1(file.blob.sha256.encode()).hexdigest()}"'
        headers = {
            "ETag": etag,
            "Accept-Ranges": "bytes" if knobs.ranges else "none",
            "Content-Type": "application/octet-stream",
            "Content-Disposition": knobs.content_disposition
            or f'attachment; filename="{file.name.rsplit("/", 1)[-1]}"',
            **(extra or {}),
        }
        announced = end - start if knobs.content_length is None else knobs.content_length - start
        if status == 206:
            total = size if knobs.content_length is None else knobs.content_length
            headers["Content-Range"] = f"bytes {start}-{start + announced - 1}/{total}"
        response = web.StreamResponse(status=status, headers=headers)
        if knobs.chunked:
            response.enable_chunked_encoding()
        else:
            response.content_length = announced
        await response.prepare(request)
        if request.method == "HEAD":
            return response
        try:
            await self._stream(request, response, file, start, end)
        except ConnectionError:  # the client went away (a cancelled download)
            pass
        return response

    async def _stream(
        self, request: web.Request, response: web.StreamResponse, file: File, start: int, end: int
    ) -> None:
        knobs = file.knobs
        cut = start + knobs.cut_after if knobs.cut_after is not None and start + knobs.cut_after < end else None
        if cut is not None and knobs.cuts is not None and file.cuts_done >= knobs.cuts:
            cut = None
        offset = start
        loop = asyncio.get_running_loop()
        began = loop.time()
        for piece in file.blob.chunks(start, end):
            if cut is not None and offset + len(piece) >= cut:
                piece = piece[: cut - offset]
            hold = file.knobs.hold_at
            if hold is not None and offset <= hold < offset + len(piece):
                head, piece = piece[: hold - offset], piece[hold - offset :]
                if head:
                    await response.write(head)
                    offset += len(head)
                await self._hold(file)
            await response.write(piece)
            offset += len(piece)
            if cut is not None and offset >= cut:
                with self._lock:
                    file.cuts_done += 1
                _cut(request)
                return
            if knobs.throttle:
                ahead = (offset - start) / knobs.throttle - (loop.time() - began)
                if ahead > 0:
                    await asyncio.sleep(ahead)
        await response.write_eof()

    async def _hold(self, file: File) -> None:
        with self._lock:
            if file.release is None or file.release.is_set():
                file.release = asyncio.Event()
            event = file.release
            held = file.knobs.hold_at is not None
        if held:
            await event.wait()


class _HashedFileResponse(web.FileResponse):
    """aiohttp's file response (sendfile, Range) with the file's SHA-256 as its ETag, as a CDN sends it."""

    def __init__(self, sha256: str, *args: Any, **kwargs: Any) -> None:
        self._sha256 = sha256
        super().__init__(*args, **kwargs)

    @property
    def etag(self) -> Any:
        return self.headers.get("ETag")

    @etag.setter
    def etag(self, _value: Any) -> None:  # aiohttp sets its own (mtime-size) while preparing
        self.headers["ETag"] = f'"{self._sha256}"'


def _cut(request: web.Request) -> None:
    """Drop the connection mid-body (what the client sees as a reset or an incomplete read)."""
    transport = request.transport
    if transport is not None:
        transport.close()
    raise asyncio.CancelledError  # aiohttp ends the handler quietly; the response is never finished


def _hf_error(status: int, code: str, message: str) -> web.Response:
    return web.Response(status=status, headers={"X-Error-Code": code, "X-Error-Message": message}, text=message)


def _seed(name: str, seed: int | None) -> int:
    return seed if seed is not None else int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big")
