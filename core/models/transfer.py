"""One file's transfer to its ``.part`` file: blocking, run in a thread; the event loop only reads ``Progress``.

Every hop (the first URL and each of at most 10 redirects, followed by hand) is resolved and checked by the
download guard, and the connection goes to the very address that was checked (``Host`` and TLS name set to the
host name): no second DNS answer can redirect it. The caller's headers (a token) go only to the first URL's
origin: they are dropped at the first redirect to another one. A ``.part`` left by an interruption is hashed and
resumed with ``Range``; a server that answers 200 instead of 206 restarts it from zero. A cut connection is resumed
at once (up to ``attempts`` tries in a row that make no progress). The file is fsynced before ``fetch`` returns
(partfile.py hashes and writes it behind the network).
"""

from __future__ import annotations

import errno
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

from ..errors import CozyGenError
from . import netguard
from .partfile import PartFile

CHUNK = 1 << 20  # bytes per read from the socket
MAX_REDIRECTS = 10
SPACE_CHECK_EVERY = 64 << 20  # bytes between free-space checks of a body of unknown size
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_STATUS = {
    "CANCELLED": 409,
    "MODEL_GATED": 403,
    "MODEL_NOT_FOUND": 404,
    "NOT_ENOUGH_DISK_SPACE": 507,
    "WRITE_FAILED": 500,
}  # every other code (SOURCE_FAILED, TOO_MANY_REDIRECTS, SIZE_MISMATCH, HASH_MISMATCH) is 502


class TransferError(CozyGenError):
    """A transfer that failed, with a code (``SOURCE_FAILED``, ``SIZE_MISMATCH``, ``CANCELLED``, ...)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message, code=code)
        self.status = _STATUS.get(code, 502)


class _Transient(Exception):
    """A failure worth another try (a cut connection, a 5xx): the ``.part`` is resumed."""


@dataclass
class Progress:
    """Bytes in the ``.part`` and the file's size when known: written by the transfer, read by the loop."""

    done: int = 0
    total: int | None = None


@dataclass(frozen=True)
class Result:
    size: int
    sha256: str


class Cancel(threading.Event):
    """An Event that, when set, also shuts the socket the transfer reads from, so a blocked read returns at once.

    ``fetch`` takes any ``threading.Event``; a plain one is seen between reads only."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._abort: Callable[[], None] | None = None

    def set(self) -> None:
        super().set()
        with self._lock:
            abort = self._abort
        if abort is not None:
            abort()

    def watch(self, abort: Callable[[], None] | None) -> None:
        with self._lock:
            self._abort = abort
        if abort is not None and self.is_set():
            abort()


def fetch(
    url: str,
    headers: Mapping[str, str],
    part_path: str,
    *,
    policy: netguard.Policy,
    expected_size: int | None,
    expected_sha256: str | None,
    progress: Progress,
    cancel: threading.Event,
    connect_timeout: float = 15,
    read_timeout: float = 60,
    check_space: Callable[[int], None] | None = None,
    attempts: int = 4,
    retry_delay: float = 1.0,
) -> Result:
    """Fetch ``url`` into ``part_path`` (resuming what it holds); its size and SHA-256 once fsynced.

    ``check_space(remaining_bytes)`` is called once the size is known and may raise. Raises ``TransferError``,
    or the guard's 403 when a hop is not allowed."""
    with PartFile(part_path) as part:
        if not part.hash_existing(cancel.is_set):
            raise TransferError("CANCELLED", "the download was cancelled")
        if expected_size is not None and part.offset > expected_size:
            part.restart()  # longer than the file: not a prefix of it
        progress.done, progress.total = part.offset, expected_size
        session = _Session(policy, connect_timeout, read_timeout, cancel)
        failures = 0
        try:
            while True:
                before = part.offset
                try:
                    total = session.download(url, headers, part, progress, expected_size, check_space)
                    break
                except _Transient as exc:
                    if cancel.is_set():
                        raise TransferError("CANCELLED", "the download was cancelled") from None
                    failures = 0 if part.offset > before else failures + 1
                    if failures >= attempts:
                        raise TransferError("SOURCE_FAILED", f"{exc} (gave up after {attempts} tries)") from None
                    if cancel.wait(retry_delay * failures):
                        raise TransferError("CANCELLED", "the download was cancelled") from None
        finally:
            session.close()
        if expected_size is not None and part.offset != expected_size:
            raise TransferError("SIZE_MISMATCH", f"got {part.offset} bytes; the source announced {expected_size}")
        if total is not None and part.offset != total:
            raise TransferError("SIZE_MISMATCH", f"got {part.offset} bytes; the server announced {total}")
        sha256 = part.sha256()
        if expected_sha256 and sha256 != expected_sha256.lower():
            raise TransferError(
                "HASH_MISMATCH",
                f"the download was deleted: its SHA-256 is {sha256}, not the expected {expected_sha256}",
            )
        part.sync()
        return Result(part.offset, sha256)


def _origin(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    return parts.scheme, (parts.hostname or "").lower(), parts.port or (443 if parts.scheme == "https" else 80)


def _target(url: str) -> str:
    """The request target (path and query), percent-encoded where it is not ASCII."""
    parts = urlsplit(url)
    target = quote(parts.path or "/", safe="/%:@!$&'()*+,;=-._~")
    return f"{target}?{quote(parts.query, safe='/%:@!$&()*+,;=-._~?')}" if parts.query else target


def _range_total(content_range: str | None) -> int | None:
    """The total of ``bytes a-b/total`` or ``bytes */total``."""
    if not content_range or "/" not in content_range:
        return None
    total = content_range.rsplit("/", 1)[1].strip()
    return int(total) if total.isdigit() else None


def _range_start(content_range: str | None) -> int | None:
    if not content_range or not content_range.startswith("bytes ") or "-" not in content_range:
        return None
    start = content_range[6:].split("-", 1)[0].strip()
    return int(start) if start.isdigit() else None


def _discard(response: Any) -> None:
    """Close a response not read to its end (its connection is not reused) and give the slot back."""
    response.close()
    response.release_conn()


def _shut(response: Any) -> None:
    """Shut a response's socket from another thread (its blocked read returns)."""
    try:
        response.shutdown()
    except Exception:  # already released or closed: nothing is blocked on it
        pass


class _Session:
    """Connection pools pinned to checked addresses, reused across the tries of one fetch."""

    def __init__(self, policy: netguard.Policy, connect_timeout: float, read_timeout: float, cancel: Any) -> None:
        import urllib3

        self._urllib3 = urllib3
        self._policy = policy
        self._timeout = urllib3.Timeout(connect=connect_timeout, read=read_timeout)
        self._cancel = cancel
        self._pools: dict[tuple[str, str, int, str], Any] = {}

    def close(self) -> None:
        for pool in self._pools.values():
            pool.close()
        self._pools.clear()

    def _pool(self, scheme: str, address: str, port: int, host: str) -> Any:
        key = (scheme, address, port, host)
        if key not in self._pools:
            u = self._urllib3
            if scheme == "https":
                self._pools[key] = u.HTTPSConnectionPool(
                    address,
                    port,
                    timeout=self._timeout,
                    retries=False,
                    maxsize=1,
                    server_hostname=host,
                    assert_hostname=host,
                    cert_reqs="CERT_REQUIRED",
                )
            else:
                self._pools[key] = u.HTTPConnectionPool(address, port, timeout=self._timeout, retries=False, maxsize=1)
        return self._pools[key]

    def _request(self, url: str, headers: dict[str, str]) -> Any:
        """One request to ``url``'s checked address (the next one when a connection cannot be made)."""
        u = self._urllib3
        parts = urlsplit(url)
        scheme, host, port = parts.scheme, (parts.hostname or "").rstrip("."), _origin(url)[2]
        if scheme not in ("http", "https") or not host:
            raise TransferError("SOURCE_FAILED", "the server redirected to something that is not an http(s) URL")
        addresses = netguard.resolve(host, port, self._policy)
        shown = f"[{host}]" if ":" in host else host
        headers = {**headers, "Host": shown if port == (443 if scheme == "https" else 80) else f"{shown}:{port}"}
        failure: Exception | None = None
        for address in addresses:
            try:
                return self._pool(scheme, address, port, host).urlopen(
                    "GET",
                    _target(url),
                    headers=headers,
                    redirect=False,
                    retries=False,
                    preload_content=False,
                    decode_content=False,
                    assert_same_host=False,
                )
            except (u.exceptions.NewConnectionError, u.exceptions.ConnectTimeoutError) as exc:
                failure = exc
            except u.exceptions.SSLError as exc:
                raise TransferError("SOURCE_FAILED", f"a secure connection to {host} failed: {exc}") from None
            except (u.exceptions.HTTPError, OSError) as exc:
                raise _Transient(f"{host} did not answer: {type(exc).__name__}") from None
        raise _Transient(f"cannot connect to {host}: {type(failure).__name__}")

    def _open(self, url: str, headers: Mapping[str, str], offset: int) -> tuple[Any, str]:
        """The response of ``url`` once redirects are followed, each hop checked; and the URL that answered."""
        extra = dict(headers)
        current, origin = url, _origin(url)
        for _hop in range(MAX_REDIRECTS + 1):
            sent = {"User-Agent": "CozyGen", "Accept-Encoding": "identity", **extra}
            if offset:
                sent["Range"] = f"bytes={offset}-"
            response = self._request(current, sent)
            location = response.headers.get("Location")
            if response.status not in _REDIRECTS or not location:
                return response, current
            _discard(response)
            current = urljoin(current, location.strip())
            if _origin(current) != origin:
                extra = {}  # the caller's headers (a token) stay with the first origin
        raise TransferError("TOO_MANY_REDIRECTS", f"more than {MAX_REDIRECTS} redirects from {urlsplit(url).hostname}")

    def download(
        self,
        url: str,
        headers: Mapping[str, str],
        part: PartFile,
        progress: Progress,
        expected_size: int | None,
        check_space: Callable[[int], None] | None,
    ) -> int | None:
        """One try: request from ``part.offset`` and stream into it; the file's total when known."""
        response, answered = self._open(url, headers, part.offset)
        host = urlsplit(answered).hostname
        finished = False
        try:
            status = response.status
            if status == 416 and part.offset:
                total = _range_total(response.headers.get("Content-Range"))
                if part.offset in (total, expected_size):
                    return part.offset  # the .part was already whole
                part.restart()
                raise _Transient(f"{host} refused to resume; starting over")
            if status == 206 and _range_start(response.headers.get("Content-Range")) != part.offset:
                part.restart()
                raise _Transient(f"{host} resumed at the wrong place; starting over")
            if status == 200 and part.offset:
                part.restart()  # no Range support: from zero
            elif status in (429, 500, 502, 503, 504):
                raise _Transient(f"{host} answered {status}")
            elif status in (401, 403):
                raise TransferError(
                    "MODEL_GATED",
                    f"{host} answered {status}: the file needs a key (Settings: hf_token for Hugging Face, "
                    "civitai_api_key for Civitai) or an account that may download it",
                )
            elif status in (404, 410):
                raise TransferError("MODEL_NOT_FOUND", f"{host} answered {status}: no such file")
            elif status not in (200, 206):
                raise TransferError("SOURCE_FAILED", f"{host} answered {status}")
            length = response.headers.get("Content-Length")
            total = part.offset + int(length) if length and length.isdigit() else None
            if status == 206:
                total = _range_total(response.headers.get("Content-Range")) or total
            if expected_size is not None and total is not None and total != expected_size:
                raise TransferError("SIZE_MISMATCH", f"{host} announced {total} bytes; the source said {expected_size}")
            total = total if total is not None else expected_size
            progress.done, progress.total = part.offset, total
            if check_space is not None and total is not None:
                check_space(total - part.offset)
            self._stream(response, part, progress, host, None if total is not None else check_space)
            finished = True
            return total
        finally:
            self._cancel_watch(None)
            if finished:
                response.release_conn()
            else:
                _discard(response)

    def _cancel_watch(self, response: Any) -> None:
        if isinstance(self._cancel, Cancel):
            self._cancel.watch(None if response is None else lambda: _shut(response))

    def _stream(
        self,
        response: Any,
        part: PartFile,
        progress: Progress,
        host: str | None,
        check_space: Callable[[int], None] | None,
    ) -> None:
        """Read the body into ``part``; with no announced size, ``check_space(0)`` every ``SPACE_CHECK_EVERY``
        bytes keeps an endless body from filling the disk."""
        u = self._urllib3
        self._cancel_watch(response)
        checked = part.offset
        while True:
            if self._cancel.is_set():
                raise TransferError("CANCELLED", "the download was cancelled")
            try:
                chunk = response.read(CHUNK)
            except (u.exceptions.HTTPError, OSError) as exc:
                if self._cancel.is_set():
                    raise TransferError("CANCELLED", "the download was cancelled") from None
                broke = f"the connection to {host} broke at byte {part.offset}: {type(exc).__name__}"
                raise _Transient(broke) from None
            if not chunk:
                return
            try:
                part.write(chunk)
            except OSError as exc:
                code = "NOT_ENOUGH_DISK_SPACE" if exc.errno == errno.ENOSPC else "WRITE_FAILED"
                raise TransferError(code, f"cannot write the download: {exc.strerror}") from None
            progress.done = part.offset
            if check_space is not None and part.offset - checked >= SPACE_CHECK_EVERY:
                checked = part.offset
                check_space(0)
