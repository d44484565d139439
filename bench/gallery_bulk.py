"""Bulk gallery actions on a real ComfyUI: a move of 10,000 images, and a zip's throughput against `zip -0`.

Starts a ComfyUI with CozyGen on a fresh output folder and measures:

- POST /cozygen/api/gallery/move of 10,000 indexed images into another folder, wall time (target < 5 s), with
  /cozygen/hello pinged all the while: the event loop's latency p50/p99/max (target p99 < 50 ms); then that every
  id is kept and the watcher added no row;
- the same move back, selected by a query string instead of ids;
- a zip of 400 incompressible 1 MiB files streamed from GET /cozygen/api/gallery/zip/<ticket> over loopback, MB/s,
  against `zip -0 -r -` of the same files to a pipe (the Debian `zip` package; Python's zipfile writing a file
  when it is missing), with the loop's latency meanwhile.

    python3 bench/gallery_bulk.py [--files 10000] [--zip-files 400] [--zip-mib 1]

It prints figures and never fails.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
import zlib
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT / "scripts"))
sys.path.insert(0, str(PROJECT / "tests"))

import comfyui_host  # noqa: E402
from support import memory, reset_peak  # noqa: E402


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def tiny_png(n: int) -> bytes:
    raw = b"".join(b"\x00" + bytes((n % 256, n // 256 % 256, 7)) * 8 for _ in range(8))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 8, 8, 8, 2, 0, 0, 0))
        + chunk(b"tEXt", f"note\x00bulk {n}".encode())
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def cpu_seconds(pid: int) -> float:
    """User and system CPU time the process has used (its threads together)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def idle(pid: int, timeout: float = 120) -> None:
    """Wait until the server has settled (under 5 % of a core for a second): its watcher done with earlier files."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        before = cpu_seconds(pid)
        await asyncio.sleep(1)
        if cpu_seconds(pid) - before < 0.05:
            return


def load() -> str:
    """The machine's 1-minute load average (figures on a busy machine are slower than on an idle one)."""
    return f"load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def loop_line(name: str, pings: list[float]) -> None:
    if not pings:
        print(f"{name:<58} no pings", flush=True)
        return
    p99 = percentile(pings, 0.99)
    print(
        f"{name:<58} p50 {statistics.median(pings):7.2f} ms  p99 {p99:7.2f} ms  max {max(pings):7.2f} ms "
        f"(n={len(pings)})  target p99 < 50 ms  {'OK' if p99 < 50 else 'MISSED'}",
        flush=True,
    )


async def pinging(session, url: str, stop: asyncio.Event, pings: list[float], pause: float = 0.005) -> None:
    """/cozygen/hello round trips until ``stop``, ``pause`` seconds apart (what a phone's other requests see
    meanwhile)."""
    while not stop.is_set():
        started = time.perf_counter()
        async with session.get(f"{url}/cozygen/hello") as response:
            await response.read()
        pings.append((time.perf_counter() - started) * 1000)
        await asyncio.sleep(pause)


async def while_pinging(session, url: str, work) -> tuple[float, list[float], object]:
    stop, pings = asyncio.Event(), []
    pinger = asyncio.create_task(pinging(session, url, stop, pings))
    await asyncio.sleep(0.05)
    started = time.perf_counter()
    try:
        result = await work()
    finally:
        seconds = time.perf_counter() - started
        stop.set()
        await pinger
    return seconds, pings, result


async def folder_ids(session, url: str, subfolder: str, count: int, timeout: float = 300) -> dict[str, int]:
    deadline = time.monotonic() + timeout
    while True:
        async with session.get(f"{url}/cozygen/api/gallery", params={"subfolder": subfolder, "per_page": 0}) as reply:
            items = (await reply.json())["items"]
        found = {i["filename"]: i["id"] for i in items if i["type"] != "directory"}
        if len(found) >= count or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.5)


async def bulk_move(url: str, output: Path, files: int, pid: int) -> None:
    import aiohttp

    source = output / "bulk-src"
    source.mkdir()
    for n in range(files):
        (source / f"b{n:05}.png").write_bytes(tiny_png(n))
    async with aiohttp.ClientSession() as session:
        before = await folder_ids(session, url, "bulk-src", files)
        await idle(pid)
        print(f"{files:,} images indexed in bulk-src", flush=True)
        async with session.post(f"{url}/cozygen/api/gallery/folders", json={"name": "bulk-dest"}) as made:
            assert made.status == 201, await made.text()

        async def move(body: dict) -> dict:
            async with session.post(f"{url}/cozygen/api/gallery/move", json=body) as reply:
                assert reply.status == 200, await reply.text()
                return await reply.json()

        body = {"ids": list(before.values()), "to": "bulk-dest"}
        cpu = cpu_seconds(pid)
        seconds, pings, answer = await while_pinging(session, url, lambda: move(body))
        cpu = cpu_seconds(pid) - cpu
        moved = len(answer["moved"])
        print(
            f"{f'bulk move of {moved:,} images by ids':<58} {seconds:7.2f} s  target < 5 s  "
            f"{'OK' if seconds < 5 else 'MISSED'}  (server CPU {cpu:.2f} s incl. its watcher; {load()})",
            flush=True,
        )
        loop_line("  /cozygen/hello meanwhile", pings)
        await idle(pid)  # the watcher hears the renames: it must add nothing
        after = await folder_ids(session, url, "bulk-dest", files)
        left = await folder_ids(session, url, "bulk-src", 0, timeout=0)
        kept = after == before and not left
        print(f"{'  every id kept, no row added by the watcher':<58} {'yes' if kept else 'NO'}", flush=True)

        back = {"query": "subfolder=bulk-dest", "to": "bulk-src"}
        await idle(pid)
        cpu = cpu_seconds(pid)
        seconds, pings, answer = await while_pinging(session, url, lambda: move(back))
        cpu = cpu_seconds(pid) - cpu
        label = f"bulk move back of {len(answer['moved']):,} images by a query"
        print(
            f"{label:<58} {seconds:7.2f} s  target < 5 s  {'OK' if seconds < 5 else 'MISSED'}  "
            f"(server CPU {cpu:.2f} s; {load()})",
            flush=True,
        )
        loop_line("  /cozygen/hello meanwhile", pings)


async def zip_figures(url: str, output: Path, count: int, mib: int, pid: int) -> None:
    import aiohttp

    folder = output / "zip-bench"
    folder.mkdir()
    for n in range(count):
        (folder / f"z{n:04}.webp").write_bytes(os.urandom(mib * 2**20))  # indexed as an image, never decoded
    total = count * mib * 2**20
    async with aiohttp.ClientSession() as session:
        await folder_ids(session, url, "zip-bench", count)
        await idle(pid)

        async def download() -> int:
            async with session.post(f"{url}/cozygen/api/gallery/zip", json={"query": "subfolder=zip-bench"}) as asked:
                ticket = await asked.json()
            received = 0
            async with session.get(url + ticket["url"]) as reply:
                async for block in reply.content.iter_chunked(1 << 20):
                    received += len(block)
            return received

        await download()  # the page cache warm for both
        before, exact = memory(pid), reset_peak(pid)
        seconds, pings, received = await while_pinging(session, url, download)
        peak = memory(pid)["VmHWM"] - (before["VmRSS"] if exact else before["VmHWM"])
    ours = total / seconds / 2**20
    print(
        f"{f'zip of {count} x {mib} MiB over HTTP (stored, streamed)':<58} {seconds:7.2f} s  {ours:7.1f} MiB/s  "
        f"({received / 2**20:,.0f} MiB received)",
        flush=True,
    )
    loop_line("  /cozygen/hello meanwhile", pings)
    print(f"{'  the server peak memory growth meanwhile':<58} {peak / 2**20:7.1f} MiB", flush=True)

    zip_tool = shutil.which("zip")
    if zip_tool:
        started = time.perf_counter()
        subprocess.run(
            [zip_tool, "-0", "-q", "-r", "-", "zip-bench"], cwd=output, stdout=subprocess.DEVNULL, check=True
        )
        seconds = time.perf_counter() - started
        label = "zip -0 -r - of the same files, to a pipe"
    else:
        with tempfile.TemporaryDirectory() as scratch:
            started = time.perf_counter()
            with zipfile.ZipFile(Path(scratch) / "x.zip", "w", zipfile.ZIP_STORED) as archive:
                for path in sorted(folder.iterdir()):
                    archive.write(path, f"zip-bench/{path.name}")
            seconds = time.perf_counter() - started
        label = "Python zipfile to a file (no zip tool here)"
    theirs = total / seconds / 2**20
    print(f"{label:<58} {seconds:7.2f} s  {theirs:7.1f} MiB/s  CozyGen at {ours / theirs:.2f}x", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--zip-files", type=int, default=400)
    parser.add_argument("--zip-mib", type=int, default=1)
    args = parser.parse_args()
    comfyui_host.run_in_venv(__file__)

    print(f"CozyGen bulk gallery benchmark on {os.cpu_count()} cores", flush=True)
    with tempfile.TemporaryDirectory() as base:
        base_path = Path(base)
        (base_path / "frontend").mkdir()
        (base_path / "frontend" / "index.html").write_text("bench")
        server = comfyui_host.start(base_path / "comfy", front_end_root=base_path / "frontend", env={})
        try:
            asyncio.run(bulk_move(server.url, server.output_dir, args.files, server.pid))
            asyncio.run(zip_figures(server.url, server.output_dir, args.zip_files, args.zip_mib, server.pid))
        finally:
            server.stop()


if __name__ == "__main__":
    main()
