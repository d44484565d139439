"""The gallery at 100,000 images: index, listing, search, thumbnails and live events, against the naive way.

Builds (once, cached) a tree of 100,000 PNGs in 100 folders, each with its own
ComfyUI-style prompt chunk (tiny pixels, real metadata), plus a few real
1024×1024 PNGs, then starts a real ComfyUI with CozyGen on it and measures:

- cold index build of the 100k with metadata (in-process scan into a fresh database; target < 10 s);
- gallery page 1 (50 items, recursive, mtime order), median server round trip (target < 10 ms),
  against scandir + stat + sort of the tree;
- prompt search over the 100k, median (target < 20 ms), against reading every file's prompt chunk;
- first 384-px thumbnail against decoding that PNG alone (target <= 1.3x); cached thumbnail (target < 2 ms);
- /cozygen/hello latency while 20 thumbnails are being made (target < 50 ms);
- a file closed in the output folder -> its SSE event, median (target < 300 ms); deletions arrive too;
- a page (50, recursive) of every sort (mtime, created, name, size, rating) with each main filter (none,
  favourite, hide rejected, a size range, a date range, kind animated, min rating), page 1 and the next by cursor,
  after marking 2% favourites, 10% rejects and 5% rated as the phone would (target < 10 ms server time each).

    python3 bench/gallery.py [--files 100000] [--runs 30]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import statistics
import struct
import sys
import tempfile
import time
import zlib
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT / "scripts"))
sys.path.insert(0, str(PROJECT / "tests"))

import comfyui_host  # noqa: E402

WORDS = (
    "castle forest harbor dragon knight portrait city night neon rain cat dog fox owl mountain river lake ocean "
    "sunset sunrise garden flower rose tulip cyberpunk steampunk fantasy realistic anime watercolor oil painting "
    "sketch cinematic lighting golden hour fog snow desert jungle temple ruins robot astronaut spaceship galaxy "
    "nebula moon star lantern market street cafe library wizard witch elf dwarf giant ship pirate island beach "
    "waterfall cave crystal ice fire smoke storm thunder bridge tower village farm meadow horse wolf bear eagle "
    "butterfly silk velvet armor sword shield crown throne mirror candle clock train station subway skyline"
).split()
MODELS = [f"model_{n:02}.safetensors" for n in range(10)]
SEARCH_TERMS = ["dragon castle", "nebula", "golden hour", "wolf", "subw"]


# -- the tree ------------------------------------------------------------------------------
def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def tiny_png(prompt: dict, rng: random.Random) -> bytes:
    pixels = bytes(rng.randrange(256) for _ in range(3)) * 64
    raw = b"".join(b"\x00" + pixels[y * 24 : (y + 1) * 24] for y in range(8))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 8, 8, 8, 2, 0, 0, 0))
        + chunk(b"tEXt", b"prompt\x00" + json.dumps(prompt).encode("latin-1"))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def graph(positive: str, model: str, seed: int) -> dict:
    return {
        "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": model}},
        "6": {"class_type": "CLIPTextEncode", "inputs": {"text": positive, "clip": ["4", 1]}},
        "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "blurry, low quality", "clip": ["4", 1]}},
        "5": {"class_type": "EmptyLatentImage", "inputs": {"width": 1024, "height": 1024, "batch_size": 1}},
        "3": {
            "class_type": "KSampler",
            "inputs": {
                "seed": seed,
                "steps": 30,
                "cfg": 6.5,
                "sampler_name": "dpmpp_2m",
                "scheduler": "karras",
                "denoise": 1.0,
                "model": ["4", 0],
                "positive": ["6", 0],
                "negative": ["7", 0],
                "latent_image": ["5", 0],
            },
        },
        "8": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["4", 2]}},
        "9": {"class_type": "SaveImage", "inputs": {"filename_prefix": "ComfyUI", "images": ["8", 0]}},
    }


def real_png(path: Path, seed: int) -> None:
    """A 1024×1024 PNG as ComfyUI saves one (noisy gradient, compress_level 4, prompt chunk)."""
    import numpy as np
    from PIL import Image
    from PIL.PngImagePlugin import PngInfo

    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:1024, 0:1024]
    base = np.stack([x / 4, y / 4, (x + y) / 8], axis=-1) % 256
    pixels = np.clip(base + rng.normal(0, 24, base.shape), 0, 255).astype(np.uint8)
    info = PngInfo()
    info.add_text("prompt", json.dumps(graph(f"real image {seed} golden hour harbor", MODELS[0], seed)))
    Image.fromarray(pixels).save(path, pnginfo=info, compress_level=4)


def build_tree(root: Path, files: int) -> Path:
    """The cached tree (built once; a second benchmark started meanwhile waits for the first's build)."""
    import fcntl

    root.parent.mkdir(parents=True, exist_ok=True)
    with open(root.parent / f"{root.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _build_tree(root, files)


def _build_tree(root: Path, files: int) -> Path:
    output = root / "output"
    marker = root / f"complete-{files}"
    if marker.exists():
        return output
    shutil.rmtree(root, ignore_errors=True)
    rng = random.Random(1234)
    started, now = time.perf_counter(), time.time() - files
    for n in range(files):
        folder = output / f"f{n % 100:03}"
        if n < 100:
            folder.mkdir(parents=True, exist_ok=True)
        words = " ".join(rng.sample(WORDS, 8))
        path = folder / f"ComfyUI_{n:06}_.png"
        path.write_bytes(tiny_png(graph(words, rng.choice(MODELS), n), rng))
        os.utime(path, (now + n, now + n))
    (output / "real").mkdir()
    for n in range(24):
        real_png(output / "real" / f"real_{n:02}.png", n)
    marker.touch()
    print(f"built {files:,} files in {time.perf_counter() - started:.1f} s under {output}", flush=True)
    return output


# -- naive ways --------------------------------------------------------------------------------
def naive_listing(output: Path) -> list[tuple[float, str]]:
    found = []
    stack = [output]
    while stack:
        with os.scandir(stack.pop()) as entries:
            for entry in entries:
                if entry.is_dir():
                    stack.append(Path(entry.path))
                elif entry.name.endswith(".png"):
                    found.append((entry.stat().st_mtime, entry.path))
    found.sort(reverse=True)
    return found[:50]


def naive_search(output: Path, term: str) -> int:
    from PIL import Image

    hits = 0
    for path in output.rglob("*.png"):
        with Image.open(path) as image:
            if term in image.info.get("prompt", ""):
                hits += 1
    return hits


# -- measuring -------------------------------------------------------------------------------
def timed(fn, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return times


def report(name: str, ms: list[float], target: float | None = None, naive: float | None = None) -> None:
    median = statistics.median(ms)
    line = f"{name:<52} median {median:9.2f} ms  p95 {sorted(ms)[int(len(ms) * 0.95) - 1]:9.2f} ms"
    if naive is not None:
        line += f"  naive {naive:9.1f} ms  ({naive / median:,.0f}x faster)"
    if target is not None:
        line += f"  target < {target:g} ms  {'OK' if median < target else 'MISSED'}"
    print(line, flush=True)


def cold_index(output: Path) -> tuple[float, int]:
    from support import import_project_as

    import_project_as("cozygen")
    from cozygen.core.gallery.service import SCAN_WORKERS
    from cozygen.core.gallery.sync import scan
    from cozygen.core.store.db import Database
    from cozygen.core.store.migrations import MIGRATIONS

    with tempfile.TemporaryDirectory() as folder:
        db = Database(Path(folder) / "bench.sqlite3")
        db.open(MIGRATIONS)
        started = time.perf_counter()
        result = scan(db, "output", output, workers=SCAN_WORKERS)  # as the server does
        seconds = time.perf_counter() - started
        db.close()
    return seconds, result.files


def thumbnail_versus_decode(source: Path, runs: int) -> tuple[list[float], list[float]]:
    from PIL import Image

    from cozygen.core.gallery.thumbnails import ThumbnailCache

    decode, first = [], []
    with tempfile.TemporaryDirectory() as folder:
        for n in range(runs):
            started = time.perf_counter()
            with Image.open(source) as image:
                image.load()
            decode.append((time.perf_counter() - started) * 1000)
            cache = ThumbnailCache(Path(folder) / f"c{n}")
            started = time.perf_counter()
            cache.get_or_make(source, width=384)
            first.append((time.perf_counter() - started) * 1000)
    return decode, first


async def server_figures(url: str, output: Path, runs: int) -> None:
    import aiohttp

    async with aiohttp.ClientSession() as session:
        server_ms: list[float] = []

        async def get(path: str, headers: dict | None = None) -> bytes:
            async with session.get(url + path, headers=headers) as response:
                assert response.status in (200, 304), (path, response.status, await response.text())
                timing = response.headers.get("Server-Timing", "")
                if "dur=" in timing:
                    server_ms.append(float(timing.split("dur=")[1]))
                return await response.read()

        async def median_ms(path: str, n: int = runs) -> list[float]:
            """Round trips; ``server_ms`` gets CozyGen's own time (its Server-Timing header) for each."""
            server_ms.clear()
            times = []
            for _ in range(n):
                started = time.perf_counter()
                await get(path)
                times.append((time.perf_counter() - started) * 1000)
            return times

        naive_ms = timed(lambda: naive_listing(output), 3)
        await get("/cozygen/api/gallery?recursive=true&per_page=50")
        page = json.loads(await get("/cozygen/api/gallery?recursive=true&per_page=50"))
        print(f"gallery holds {page['total_items']:,} items", flush=True)
        round_trips = await median_ms("/cozygen/api/gallery?recursive=true&per_page=50")
        report("gallery page 1 (50, recursive, mtime desc), server", list(server_ms), 10, statistics.median(naive_ms))
        report("  the same, HTTP round trip", round_trips)
        await get("/cozygen/api/gallery?per_page=48")
        round_trips = await median_ms("/cozygen/api/gallery?per_page=48")
        report("gallery top folder (folder tiles and previews), server", list(server_ms), 10)
        report("  the same, HTTP round trip", round_trips)
        server_ms.clear()
        await uncached_page(get, output)
        report("gallery page 1, first request after a change, server", list(server_ms), 10, statistics.median(naive_ms))
        started = time.perf_counter()
        naive_hits = naive_search(output, "nebula")
        naive_search_ms = (time.perf_counter() - started) * 1000
        search_times = []
        for term in SEARCH_TERMS:
            await median_ms(f"/cozygen/api/gallery?recursive=true&per_page=50&search={term}", runs // 3)
            search_times += server_ms
        hits = json.loads(await get("/cozygen/api/gallery?recursive=true&per_page=50&search=nebula"))["total_items"]
        print(f"search 'nebula': {hits:,} hits (naive found {naive_hits:,})", flush=True)
        report("prompt search over the index (5 terms), server", search_times, 20, naive_search_ms)

        real = sorted((output / "real").glob("*.png"))
        await session.post(url + "/cozygen/api/clear_cache", json={})
        thumb = f"/cozygen/thumb?filename={real[0].name}&subfolder=real&w=384"
        await get(thumb)
        round_trips = await median_ms(thumb)
        report("cached thumbnail (384 px), server", list(server_ms), 2)
        report("  the same, HTTP round trip", round_trips)

        await session.post(url + "/cozygen/api/clear_cache", json={})
        hello_times: list[float] = []
        making = [
            asyncio.create_task(get(f"/cozygen/thumb?filename={real[n % len(real)].name}&subfolder=real&w={200 + n}"))
            for n in range(20)
        ]
        while not all(task.done() for task in making):
            started = time.perf_counter()
            await get("/cozygen/hello")
            hello_times.append((time.perf_counter() - started) * 1000)
            await asyncio.sleep(0.01)
        await asyncio.gather(*making)
        report(f"/cozygen/hello while 20 thumbnails are made (n={len(hello_times)})", hello_times, 50)
        print(f"{'':<52} max    {max(hello_times):9.2f} ms", flush=True)

        await sse_latency(session, url, output, runs)
        await sorted_filtered_pages(session, url, get, median_ms, server_ms, runs)


async def uncached_page(get, output: Path) -> list[float]:
    """Touch the index between requests so the counts cannot come from the cache."""
    times, folder = [], output / "f000"
    for n in range(10):
        (folder / f"touch_{n}.png").write_bytes((folder / "ComfyUI_000000_.png").read_bytes())
        await asyncio.sleep(0.3)
        started = time.perf_counter()
        await get("/cozygen/api/gallery?recursive=true&per_page=50")
        times.append((time.perf_counter() - started) * 1000)
    for n in range(10):
        (folder / f"touch_{n}.png").unlink()
    await asyncio.sleep(0.5)
    return times


async def sse_latency(session, url: str, output: Path, runs: int) -> None:
    from PIL import Image

    live = output / "live"
    live.mkdir(exist_ok=True)
    created, deleted = [], []
    async with session.get(url + "/cozygen/api/gallery/stream?subfolder=live") as response:
        await response.content.readline()

        async def next_event() -> dict:
            data: dict = {}
            async for raw in response.content:
                line = raw.decode().rstrip("\n")
                if line.startswith("data: "):
                    data = json.loads(line[6:])
                elif line == "" and data:
                    return data
            raise RuntimeError("stream ended")

        for n in range(runs):
            path = live / f"live_{n}.png"
            image = Image.new("RGB", (512, 512), (n, 100, 200))
            image.save(path, compress_level=4)  # the write ends with the file closed
            started = time.perf_counter()
            event = await asyncio.wait_for(next_event(), 10)
            created.append((time.perf_counter() - started) * 1000)
            assert event["event"] == "created" and event["item"]["filename"] == path.name, event
            path.unlink()
            started = time.perf_counter()
            event = await asyncio.wait_for(next_event(), 10)
            deleted.append((time.perf_counter() - started) * 1000)
            assert event["event"] == "deleted", event
    report("file closed -> SSE 'created' event", created, 300)
    report("file deleted -> SSE 'deleted' event", deleted, 300)
    shutil.rmtree(live, ignore_errors=True)


SORT_NAMES = ("mtime", "created", "name", "size", "rating")
ANIMATED = 500  # small animated GIFs in output/anim, for the kind filter


def add_animated(output: Path, count: int = ANIMATED) -> None:
    """A folder of animated GIFs (once): the tree's PNGs are all still."""
    from PIL import Image

    folder = output / "anim"
    if folder.is_dir() and len(list(folder.glob("*.gif"))) >= count:
        return
    folder.mkdir(exist_ok=True)
    frames = [Image.new("P", (8, 8), n) for n in range(2)]
    for n in range(count):
        path = folder / f"anim_{n:04}.gif"
        frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
        os.utime(path, (time.time() - 50_000 + n * 7, time.time() - 50_000 + n * 7))


async def sorted_filtered_pages(session, url: str, get, median_ms, server_ms: list[float], runs: int) -> None:
    """Page 1 and the next page of every sort with each main filter, after marking a share of the gallery."""
    items, cursor = [], None
    while True:  # every file's id, size and mtime, as the grid pages through them
        after = f"&cursor={cursor}" if cursor else ""
        page = json.loads(await get(f"/cozygen/api/gallery?recursive=true&per_page=500&sort=created{after}"))
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    rng = random.Random(18)
    ids = [i["id"] for i in items]
    rng.shuffle(ids)
    count = len(ids)
    marked = {
        "favourite": ids[: count // 50],
        "rejected": ids[count // 50 : count // 50 + count // 10],
    }
    rated = ids[count // 50 + count // 10 : count // 50 + count // 10 + count // 20]
    started = time.perf_counter()
    for field, chosen in marked.items():
        async with session.post(url + "/cozygen/api/gallery/marks", json={"ids": chosen, "set": {field: True}}) as r:
            assert r.status == 200, await r.text()
    for stars in range(1, 6):
        chosen = rated[stars - 1 :: 5]
        async with session.post(
            url + "/cozygen/api/gallery/marks", json={"ids": chosen, "set": {"rating": stars}}
        ) as r:
            assert r.status == 200, await r.text()
    print(
        f"marked {len(marked['favourite']):,} favourites, {len(marked['rejected']):,} rejects and {len(rated):,} rated "
        f"of {count:,} files in {time.perf_counter() - started:.1f} s (7 bulk requests)",
        flush=True,
    )
    sizes = sorted(i["size"] for i in items)
    mtimes = sorted(i["mtime"] for i in items)
    filters = {
        "no filter": "",
        "favourite": "favourite=1",
        "hide rejected": "rejected=hide",
        "size range (40-60th pct)": f"min_size={sizes[count * 2 // 5]}&max_size={sizes[count * 3 // 5]}",
        "date range (5%, mid)": f"since={mtimes[count // 2]}&until={mtimes[count // 2 + count // 20]}",
        "kind animated": "kind=animated",
        "min rating 3": "min_rating=3",
    }
    print(f"{'sorted and filtered pages (50, recursive), server time':<52} (first page, then the next by cursor)")
    summary: list[float] = []
    for sort in SORT_NAMES:
        for name, condition in filters.items():
            path = f"/cozygen/api/gallery?recursive=true&per_page=50&sort={sort}&{condition}"
            first = json.loads(await get(path))  # its count, cached from here on
            await median_ms(path)
            report(f"  sort={sort:<7} {name}", list(server_ms), 10)
            summary += server_ms
            if first["next_cursor"]:
                await median_ms(f"{path}&cursor={first['next_cursor']}")
                report(f"  sort={sort:<7} {name}, next page", list(server_ms), 10)
                summary += server_ms
    report(f"all {len(SORT_NAMES) * len(filters)} sorted+filtered pages together", summary, 10)
    uncached: list[float] = []
    for condition in filters.values():  # a mark changed just before: the count is made afresh
        for n in range(3):
            async with session.put(url + f"/cozygen/api/images/{ids[-1 - n]}/marks", json={"rating": n % 2}) as r:
                assert r.status == 200
            server_ms.clear()
            await get(f"/cozygen/api/gallery?recursive=true&per_page=50&sort=created&{condition}")
            uncached += server_ms
    report("a filtered page right after a mark changed (count anew)", uncached, 10)
    server_ms.clear()
    for _ in range(runs // 3):
        await get("/cozygen/api/gallery/counts?recursive=true")
    report("counts of the whole gallery (GET gallery/counts)", list(server_ms), 10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    comfyui_host.run_in_venv(__file__)

    tree = comfyui_host.cache_root() / f"bench-gallery-{args.files}"
    output = build_tree(tree, args.files)
    add_animated(output)
    print(f"CozyGen gallery benchmark: {args.files:,} generated files + 24 real 1024x1024 PNGs", flush=True)

    seconds, count = cold_index(output)
    print(
        f"{'cold index build with metadata':<52} {seconds:9.2f} s for {count:,} files  target < 10 s  "
        f"{'OK' if seconds < 10 else 'MISSED'}",
        flush=True,
    )

    real = sorted((output / "real").glob("*.png"))[0]
    decode, first = thumbnail_versus_decode(real, args.runs)
    ratio = statistics.median(first) / statistics.median(decode)
    print(
        f"{'first thumbnail 384 px vs decoding the PNG alone':<52} {statistics.median(first):9.2f} ms vs "
        f"{statistics.median(decode):.2f} ms = {ratio:.2f}x  target <= 1.3x  {'OK' if ratio <= 1.3 else 'MISSED'}",
        flush=True,
    )

    with tempfile.TemporaryDirectory() as base:
        base_path = Path(base)
        (base_path / "frontend").mkdir()
        (base_path / "frontend" / "index.html").write_text("bench")
        server = comfyui_host.start(base_path / "comfy", front_end_root=base_path / "frontend", env={})
        try:
            # Point ComfyUI's output at the tree: a symlinked output folder is followed at its root.
            started = time.perf_counter()
            server.stop()
            server = start_on(base_path, output)
            status = wait_indexed(server.url)
            print(
                f"{'server start-up scan (index build in the background)':<52} "
                f"{status['scans']['output']['seconds']:9.2f} s ({status['scans']['output']['files']:,} files, "
                f"server answered throughout; {time.perf_counter() - started:.1f} s to ready)",
                flush=True,
            )
            asyncio.run(server_figures(server.url, output, args.runs))
        finally:
            server.stop()


def start_on(base: Path, output: Path) -> comfyui_host.ComfyUI:
    """A ComfyUI whose output folder is the benchmark tree."""
    comfy = base / "comfy-tree"
    (comfy / "output").parent.mkdir(parents=True, exist_ok=True)
    if not (comfy / "output").exists():
        (comfy / "output").symlink_to(output, target_is_directory=True)
    return comfyui_host.start(comfy, front_end_root=base / "frontend", env={})


def wait_indexed(url: str, timeout: float = 300) -> dict:
    from support import get

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        health = get(f"{url}/cozygen/api/health").json()
        if health.get("gallery", {}).get("indexed"):
            return health["gallery"]
        time.sleep(0.2)
    raise RuntimeError("the gallery index did not finish")


if __name__ == "__main__":
    main()
