"""Bulk arrivals: 100,000 files written into a running server's output folder, as a restored backup would be.

Starts a real ComfyUI with CozyGen on an empty output folder, waits for its start-up scan, then hardlinks the
files of bench/gallery.py's cached tree (tiny PNGs with real prompt chunks, built once) into the output folder,
in 100 folders (the first of them the output folder itself), from a thread, while a client asks
/cozygen/hello every ~20 ms. It measures:

- the time from the last write until the index is exact: the recursive count, the root folder's own count and
  one subfolder's count equal what was written, looked at every 0.5 s (target < 15 s), with the indexed share
  at intervals meanwhile;
- /cozygen/hello p50/p99/max from the first write until then (target p99 < 50 ms);
- the server's CPU seconds over the same span.

    python3 bench/arrivals.py [--files 100000] [--copy] [--timeout 300]

``--copy`` copies the bytes instead of linking them. It prints figures and never fails.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from gallery import build_tree, wait_indexed  # noqa: E402, I001  (it puts scripts/ and tests/ on the path)
import comfyui_host  # noqa: E402
from gallery_bulk import cpu_seconds, load, loop_line, percentile, pinging  # noqa: E402

TARGET_SECONDS = 15.0
FOLDERS = 100
POLL = 0.5  # seconds between two looks at the counts (the app recounts 400 ms after a change; three recursive
# counts of 100,000 rows ten times a second would cost the server a third of its CPU here)


def sources(tree: Path, files: int) -> list[tuple[Path, str]]:
    """(file of the cached tree, its folder in the output: "" for every hundredth from n = 0) for ``files``."""
    return [
        (tree / f"f{n % 100:03}" / f"ComfyUI_{n:06}_.png", "" if n % FOLDERS == 0 else f"f{n % FOLDERS:03}")
        for n in range(files)
    ]


def write_all(plan: list[tuple[Path, str]], output: Path, copy: bool) -> float:
    """Write every file (link or copy) and return the monotonic time of the last write."""
    for sub in {sub for _, sub in plan if sub}:
        (output / sub).mkdir(exist_ok=True)
    place = shutil.copy2 if copy else os.link
    for source, sub in plan:
        place(source, output / sub / source.name)
    return time.monotonic()


async def totals(session, url: str) -> tuple[int, int, int]:
    """(files indexed under the output, files directly in the output folder, files in f001) now."""

    async def count(params: dict) -> int:
        async with session.get(f"{url}/cozygen/api/gallery/counts", params=params) as reply:
            body = await reply.json()  # a folder not made yet: 404
            return int(body["total"]) if reply.status == 200 else 0

    return (
        await count({"recursive": "true"}),
        await count({"subfolder": ""}),
        await count({"subfolder": "f001"}),
    )


async def arrivals(url: str, output: Path, plan: list[tuple[Path, str]], copy: bool, pid: int, timeout: float) -> None:
    import aiohttp

    files = len(plan)
    want = (files, sum(1 for _, sub in plan if not sub), sum(1 for _, sub in plan if sub == "f001"))
    async with aiohttp.ClientSession() as session:
        stop, pings = asyncio.Event(), []
        pinger = asyncio.create_task(pinging(session, url, stop, pings, pause=0.02))
        cpu_before, started = cpu_seconds(pid), time.monotonic()
        writing = asyncio.create_task(asyncio.to_thread(write_all, plan, output, copy))
        progress, exact_at, last_write = [], None, None
        next_note = started + 5
        while time.monotonic() - started < timeout:
            found = await totals(session, url)
            now = time.monotonic()
            if writing.done() and last_write is None:
                last_write = writing.result()
                wrote = last_write - started
                print(f"wrote {files:,} files ({'copies' if copy else 'hardlinks'}) in {wrote:.1f} s", flush=True)
            if now >= next_note:
                progress.append(f"{now - started:.0f} s: {found[0] / files:.0%}")
                next_note += 5
            if last_write is not None and found == want:
                exact_at = now
                break
            await asyncio.sleep(POLL)
        stop.set()
        await pinger
        cpu = cpu_seconds(pid) - cpu_before
    if last_write is None:
        print(f"the writes did not finish within {timeout:.0f} s", flush=True)
        return
    print(f"indexed share after the first write: {', '.join(progress) or 'done within 5 s'}", flush=True)
    if exact_at is None:
        print(
            f"{'index exact after the last write':<58} not within {timeout:.0f} s (found {found}, want {want})  "
            f"target < {TARGET_SECONDS:.0f} s  MISSED",
            flush=True,
        )
    else:
        seconds = max(0.0, exact_at - last_write)
        print(
            f"{'index exact after the last write':<58} {seconds:7.2f} s  "
            f"(all {files:,} counted, root {want[1]:,}, f001 {want[2]:,}; {exact_at - started:.1f} s from the first "
            f"write)  target < {TARGET_SECONDS:.0f} s  {'OK' if seconds < TARGET_SECONDS else 'MISSED'}",
            flush=True,
        )
    loop_line("/cozygen/hello meanwhile (every ~20 ms)", pings)
    if pings:
        print(f"{'':<58} p90 {percentile(pings, 0.9):.2f} ms, mean {statistics.fmean(pings):.2f} ms", flush=True)
    print(f"{'server CPU over the span':<58} {cpu:7.1f} s  ({load()})", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--copy", action="store_true", help="copy the bytes instead of hardlinking")
    parser.add_argument("--timeout", type=float, default=300)
    args = parser.parse_args()
    comfyui_host.run_in_venv(__file__)

    tree_files = max(args.files, 100_000)  # the cached tree (its first files are the ones written)
    tree = build_tree(comfyui_host.cache_root() / f"bench-gallery-{tree_files}", tree_files)
    print(f"CozyGen bulk arrivals: {args.files:,} files into a running server ({load()})", flush=True)
    # beside the cached tree: hardlinks need the same file system
    with tempfile.TemporaryDirectory(dir=comfyui_host.cache_root(), prefix="bench-arrivals-") as base:
        base_path = Path(base)
        (base_path / "frontend").mkdir()
        (base_path / "frontend" / "index.html").write_text("bench")
        server = comfyui_host.start(base_path / "comfy", front_end_root=base_path / "frontend", env={})
        try:
            wait_indexed(server.url)
            asyncio.run(
                arrivals(server.url, server.output_dir, sources(tree, args.files), args.copy, server.pid, args.timeout)
            )
        finally:
            server.stop()


if __name__ == "__main__":
    main()
