"""The transfer against a real loopback server (tests/model_server.py): resume, restarts, redirects and the
guard on each hop, headers kept to their origin, cancel, sizes and hashes."""

from __future__ import annotations

import hashlib
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from model_server import MIB, ModelServer
from support import until

from cozygen.core.errors import Forbidden, InsufficientStorage
from cozygen.core.models import netguard, partfile, transfer
from cozygen.core.models.transfer import Cancel, Progress, Result, TransferError

LOOPBACK = netguard.Policy(("127.0.0.1",), ("127.0.0.1", "127.0.0.2"))


@pytest.fixture
def server() -> Iterator[ModelServer]:
    with ModelServer() as running:
        yield running


def fetch(url: str, part: Path, *, headers: dict[str, str] | None = None, **kwargs: Any) -> Result:
    options: dict[str, Any] = {
        "policy": LOOPBACK,
        "expected_size": None,
        "expected_sha256": None,
        "progress": Progress(),
        "cancel": Cancel(),
        "retry_delay": 0,
        **kwargs,
    }
    return transfer.fetch(url, headers or {}, str(part), **options)


def test_a_whole_file_arrives_with_its_hash_and_progress(server: ModelServer, tmp_path: Path) -> None:
    sha = server.add_file("a.safetensors", 3 * MIB + 17)
    progress = Progress()
    result = fetch(server.file_url("a.safetensors"), tmp_path / "a.part", progress=progress, expected_sha256=sha)
    assert result == Result(3 * MIB + 17, sha)
    assert hashlib.sha256((tmp_path / "a.part").read_bytes()).hexdigest() == sha
    assert (progress.done, progress.total) == (3 * MIB + 17, 3 * MIB + 17)
    (seen,) = server.seen("/files/a.safetensors")
    assert "range" not in seen.headers
    assert seen.headers["accept-encoding"] == "identity"


def test_a_cut_connection_is_resumed_where_it_broke(server: ModelServer, tmp_path: Path) -> None:
    sha = server.add_file("cut.safetensors", 5 * MIB, cut_after=2 * MIB + 5)
    assert fetch(server.file_url("cut.safetensors"), tmp_path / "c.part").sha256 == sha
    ranges = [r.headers.get("range") for r in server.seen("/files/cut.safetensors")]
    assert ranges == [None, f"bytes={2 * MIB + 5}-"]


def test_a_server_that_always_cuts_is_followed_to_the_end(server: ModelServer, tmp_path: Path) -> None:
    sha = server.add_file("flaky.safetensors", 3 * MIB + 1, cut_after=MIB, cuts=None)
    assert fetch(server.file_url("flaky.safetensors"), tmp_path / "f.part").sha256 == sha
    assert server.count("/files/flaky.safetensors") == 4


def test_an_existing_part_is_hashed_and_resumed(server: ModelServer, tmp_path: Path) -> None:
    sha = server.add_file("r.safetensors", 2 * MIB + 3)
    (tmp_path / "r.part").write_bytes(server.data("r.safetensors")[: MIB + 1])
    result = fetch(server.file_url("r.safetensors"), tmp_path / "r.part", expected_sha256=sha)
    assert result.sha256 == sha
    assert [r.headers.get("range") for r in server.seen("/files/r.safetensors")] == [f"bytes={MIB + 1}-"]


def test_a_server_without_ranges_restarts_from_zero(server: ModelServer, tmp_path: Path) -> None:
    sha = server.add_file("nr.safetensors", MIB + 3, ranges=False)
    (tmp_path / "nr.part").write_bytes(server.data("nr.safetensors")[:1000])
    result = fetch(server.file_url("nr.safetensors"), tmp_path / "nr.part")
    assert result == Result(MIB + 3, sha)
    assert (tmp_path / "nr.part").stat().st_size == MIB + 3


def test_a_part_longer_than_the_file_starts_over(server: ModelServer, tmp_path: Path) -> None:
    sha = server.add_file("long.safetensors", 1000)
    (tmp_path / "l.part").write_bytes(b"x" * 5000)
    assert fetch(server.file_url("long.safetensors"), tmp_path / "l.part", expected_size=1000).sha256 == sha


def test_a_complete_part_is_done_on_416(server: ModelServer, tmp_path: Path) -> None:
    sha = server.add_file("whole.safetensors", 4096)
    (tmp_path / "w.part").write_bytes(server.data("whole.safetensors"))
    assert fetch(server.file_url("whole.safetensors"), tmp_path / "w.part") == Result(4096, sha)
    assert [r.headers.get("range") for r in server.seen("/files/whole.safetensors")] == ["bytes=4096-"]


def test_a_part_of_another_file_fails_the_hash(server: ModelServer, tmp_path: Path) -> None:
    sha = server.add_file("o.safetensors", 4096)
    (tmp_path / "o.part").write_bytes(b"\0" * 1024)
    with pytest.raises(TransferError) as caught:
        fetch(server.file_url("o.safetensors"), tmp_path / "o.part", expected_sha256=sha)
    assert caught.value.code == "HASH_MISMATCH"
    assert sha in caught.value.message


def test_a_lying_server_fails_the_hash(server: ModelServer, tmp_path: Path) -> None:
    server.add_file("lie.safetensors", 4096, sha256="0" * 64)
    with pytest.raises(TransferError) as caught:
        fetch(server.file_url("lie.safetensors"), tmp_path / "x.part", expected_sha256="0" * 64)
    assert (caught.value.code, caught.value.status) == ("HASH_MISMATCH", 502)


def test_a_size_other_than_announced_fails(server: ModelServer, tmp_path: Path) -> None:
    server.add_file("s.safetensors", 4096)
    with pytest.raises(TransferError) as caught:
        fetch(server.file_url("s.safetensors"), tmp_path / "s.part", expected_size=5000)
    assert caught.value.code == "SIZE_MISMATCH"


def test_the_space_check_sees_the_announced_size_before_any_byte(server: ModelServer, tmp_path: Path) -> None:
    server.add_file("huge.safetensors", 4096, content_length=10**15)
    asked: list[int] = []

    def check_space(need: int) -> None:
        asked.append(need)
        raise InsufficientStorage("no room", code="NOT_ENOUGH_DISK_SPACE")

    with pytest.raises(InsufficientStorage):
        fetch(server.file_url("huge.safetensors"), tmp_path / "h.part", check_space=check_space)
    assert asked == [10**15]
    assert (tmp_path / "h.part").stat().st_size == 0


@pytest.mark.parametrize(("status", "code"), [(404, "MODEL_NOT_FOUND"), (401, "MODEL_GATED"), (418, "SOURCE_FAILED")])
def test_error_statuses_fail_at_once(server: ModelServer, tmp_path: Path, status: int, code: str) -> None:
    server.add_file("e.safetensors", 10, status=status)
    with pytest.raises(TransferError) as caught:
        fetch(server.file_url("e.safetensors"), tmp_path / "e.part")
    assert caught.value.code == code
    assert server.count("/files/e.safetensors") == 1


def test_a_failing_server_is_tried_a_few_times(server: ModelServer, tmp_path: Path) -> None:
    server.add_file("down.safetensors", 10, status=503)
    with pytest.raises(TransferError) as caught:
        fetch(server.file_url("down.safetensors"), tmp_path / "d.part", attempts=3)
    assert caught.value.code == "SOURCE_FAILED"
    assert server.count("/files/down.safetensors") == 3


def test_headers_stay_with_their_origin_across_redirects(server: ModelServer, tmp_path: Path) -> None:
    sha = server.add_file("target.safetensors", 2048)
    cdn = f"{server.cdn_base}/files/target.safetensors"
    server.add_file("hop2.safetensors", 1, redirect=cdn)
    server.add_file("hop1.safetensors", 1, redirect="/files/hop2.safetensors")
    result = fetch(server.file_url("hop1.safetensors"), tmp_path / "t.part", headers={"Authorization": "Bearer k"})
    assert result.sha256 == sha
    assert server.seen("/files/hop1.safetensors")[0].headers["authorization"] == "Bearer k"
    assert server.seen("/files/hop2.safetensors")[0].headers["authorization"] == "Bearer k"  # same origin
    (last,) = server.seen("/files/target.safetensors")
    assert "authorization" not in last.headers
    assert last.headers["host"] == cdn.split("/")[2]


def test_a_redirect_into_the_network_is_refused(server: ModelServer, tmp_path: Path) -> None:
    server.add_file("ssrf.safetensors", 1, redirect="http://169.254.169.254/latest/meta-data/")
    with pytest.raises(Forbidden) as caught:
        fetch(server.file_url("ssrf.safetensors"), tmp_path / "s.part")
    assert caught.value.code == "ADDRESS_NOT_ALLOWED"


def test_a_redirect_to_another_scheme_is_refused(server: ModelServer, tmp_path: Path) -> None:
    server.add_file("ftp.safetensors", 1, redirect="ftp://127.0.0.1/x")
    with pytest.raises(TransferError) as caught:
        fetch(server.file_url("ftp.safetensors"), tmp_path / "f.part")
    assert caught.value.code == "SOURCE_FAILED"


def test_a_redirect_loop_ends(server: ModelServer, tmp_path: Path) -> None:
    server.add_file("loop.safetensors", 1, redirect="/files/loop.safetensors")
    with pytest.raises(TransferError) as caught:
        fetch(server.file_url("loop.safetensors"), tmp_path / "l.part")
    assert caught.value.code == "TOO_MANY_REDIRECTS"
    assert server.count("/files/loop.safetensors") == transfer.MAX_REDIRECTS + 1


def test_the_connection_goes_to_the_checked_address(
    server: ModelServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The name is resolved once, by the guard; the request goes to that address with the name as Host."""
    looked_up: list[str] = []
    real = socket.getaddrinfo

    def getaddrinfo(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        looked_up.append(host)  # (urllib3 passes the literal address it connects to through it too)
        return real("127.0.0.1" if host == "models.example" else host, port, *args, **kwargs)

    monkeypatch.setattr(netguard.socket, "getaddrinfo", getaddrinfo)
    sha = server.add_file("pinned.safetensors", 1000)
    policy = netguard.Policy(("models.example",), ("models.example",))
    url = f"http://models.example:{server.port}/files/pinned.safetensors"
    assert fetch(url, tmp_path / "p.part", policy=policy).sha256 == sha
    assert looked_up.count("models.example") == 1
    assert set(looked_up) <= {"models.example", "127.0.0.1"}
    assert server.seen("/files/pinned.safetensors")[0].headers["host"] == f"models.example:{server.port}"


def test_cancel_unblocks_a_waiting_read_and_keeps_the_part(server: ModelServer, tmp_path: Path) -> None:
    server.add_file("held.safetensors", 3 * MIB, hold_at=MIB)
    progress, cancel = Progress(), Cancel()
    failure: list[BaseException] = []

    def run() -> None:
        try:
            fetch(server.file_url("held.safetensors"), tmp_path / "held.part", progress=progress, cancel=cancel)
        except BaseException as exc:
            failure.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    assert until(lambda: progress.done, lambda done: done == MIB) == MIB
    cancel.set()
    thread.join(30)
    assert not thread.is_alive()
    assert isinstance(failure[0], TransferError) and failure[0].code == "CANCELLED"
    assert (tmp_path / "held.part").stat().st_size == MIB
    server.release("held.safetensors")


def test_a_cancelled_event_stops_before_the_first_request(server: ModelServer, tmp_path: Path) -> None:
    server.add_file("never.safetensors", 10)
    (tmp_path / "n.part").write_bytes(b"abc")
    cancel = Cancel()
    cancel.set()
    with pytest.raises(TransferError) as caught:
        fetch(server.file_url("never.safetensors"), tmp_path / "n.part", cancel=cancel)
    assert caught.value.code == "CANCELLED"
    assert server.count("/files/never.safetensors") == 0


def test_hashing_and_flushing_behind_the_writes_keep_the_file_whole(
    server: ModelServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hash thread and the background flushes (every FLUSH_EVERY bytes) see every byte, in order, across a
    restart from zero."""
    monkeypatch.setattr(partfile, "FLUSH_EVERY", 3 * transfer.CHUNK // 2)
    monkeypatch.setattr(partfile, "HASH_AHEAD", 2)
    sha = server.add_file("behind.safetensors", 9 * MIB + 11, ranges=False, cut_after=4 * MIB)
    (tmp_path / "b.part").write_bytes(server.data("behind.safetensors", 0, 100))
    result = fetch(server.file_url("behind.safetensors"), tmp_path / "b.part", expected_sha256=sha)
    assert result == Result(9 * MIB + 11, sha)
    assert hashlib.sha256((tmp_path / "b.part").read_bytes()).hexdigest() == sha


def test_a_body_of_unknown_size_arrives_and_is_stopped_when_the_disk_fills(
    server: ModelServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(transfer, "SPACE_CHECK_EVERY", MIB)
    sha = server.add_file("chunked.safetensors", 3 * MIB + 5, chunked=True)
    checks: list[int] = []
    progress = Progress()
    result = fetch(
        server.file_url("chunked.safetensors"), tmp_path / "a.part", progress=progress, check_space=checks.append
    )
    assert result == Result(3 * MIB + 5, sha)
    assert (progress.total, checks) == (None, [0, 0, 0])

    def full(need: int) -> None:
        raise InsufficientStorage("the disk is full", code="NOT_ENOUGH_DISK_SPACE")

    with pytest.raises(InsufficientStorage):
        fetch(server.file_url("chunked.safetensors"), tmp_path / "b.part", check_space=full)
    assert (tmp_path / "b.part").stat().st_size < 3 * MIB
