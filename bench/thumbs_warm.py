"""Warm thumbnails: job throughput with warming off and on, then the gallery's first view of the new outputs.

Starts one real ComfyUI with CozyGen per warming mode (COZYGEN_THUMB_WARM: off, idle, always) and runs the same
weights-free procedural jobs (--size px, --steps) on each in turn, rounds alternating so the machine's drift hits
every mode alike (each round runs every mode back to back, so the ratio is taken per round, then its median):

- series: one job at a time, the next sent when the last ends (a repeat series, or someone at the phone);
- batch: --jobs queued at once.

It prints jobs per minute per mode and pattern, the ratio to ``off`` (target: within 5%, ratio >= 0.95), and the
server's CPU seconds per job (utime + stime of the ComfyUI process: what warming costs, whatever else the machine
runs; a generation uses one core, so a warm thread on the other costs CPU but not throughput). Then,
on each server, the first view of every output the runs made, as the app asks for it (the grid's 384 px by id,
the queue's and job results' 192 px by name, Accept with image/webp): how many thumbnails were in the cache before
anyone asked (and how long the rest took), and CozyGen's server time (Server-Timing) median and p90
(target: p50 under 2 ms with warming on; ``off`` renders each on that first view).

    python3 bench/thumbs_warm.py [--jobs 6] [--rounds 6] [--size 768] [--steps 2] [--modes off,idle,always]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT / "scripts"))
sys.path.insert(0, str(PROJECT / "tests"))

import comfyui_host  # noqa: E402

WORKFLOW = "cozygen_procedural_form.json"
IMG_ACCEPT = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"  # Chromium's, for an <img>
THROUGHPUT_TARGET = 0.95
FIRST_VIEW_TARGET_MS = 2.0


class Client:
    """One kept-alive HTTP connection."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def call(self, method: str, path: str, body: object = None, headers: dict | None = None):
        data = json.dumps(body).encode() if body is not None else None
        sent = {**({"Content-Type": "application/json"} if data is not None else {}), **(headers or {})}
        self.conn.request(method, path, body=data, headers=sent)
        response = self.conn.getresponse()
        return response.status, response.getheaders(), response.read()

    def json(self, method: str, path: str, body: object = None) -> dict:
        status, _, raw = self.call(method, path, body)
        if status >= 300:
            raise RuntimeError(f"{method} {path}: {status} {raw[:300]!r}")
        return json.loads(raw)


class Server:
    def __init__(self, mode: str, base: Path, frontend: Path) -> None:
        self.mode = mode
        self.comfy = comfyui_host.start(base / mode, front_end_root=frontend, env={"COZYGEN_THUMB_WARM": mode})
        self.client = Client(self.comfy.port)
        self.images: list[dict] = []  # every output made here: {filename, subfolder, type}
        self.seconds: dict[str, list[float]] = {"series": [], "batch": []}  # one entry per round
        self.cpu: dict[str, float] = {"series": 0.0, "batch": 0.0}
        self.jobs: dict[str, int] = {"series": 0, "batch": 0}

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.comfy.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime

    def submit(self, values: dict) -> str:
        return self.client.json("POST", "/cozygen/api/jobs", {"workflow": WORKFLOW, "values": values})["job"]["id"]

    def finished(self, job_id: str) -> dict:
        while True:
            job = self.client.json("GET", f"/cozygen/api/jobs/{job_id}")["job"]
            if job["status"] == "completed":
                return job
            if job["status"] not in ("pending", "running"):
                raise RuntimeError(f"job {job_id} ended {job['status']}: {job.get('error')}")
            time.sleep(0.01)

    def run(self, pattern: str, count: int, values: dict, seed: int) -> None:
        started, cpu = time.perf_counter(), self.cpu_seconds()
        if pattern == "series":
            done = [self.finished(self.submit({**values, "seed": seed + n})) for n in range(count)]
        else:
            ids = [self.submit({**values, "seed": seed + n}) for n in range(count)]
            done = [self.finished(job_id) for job_id in ids]
        self.seconds[pattern].append(time.perf_counter() - started)
        self.cpu[pattern] += self.cpu_seconds() - cpu
        self.jobs[pattern] += count
        for job in done:
            self.images += job["images"]

    def per_minute(self, pattern: str) -> float:
        return self.jobs[pattern] * 60 / sum(self.seconds[pattern])


def expected_files(server: Server, sizes: list[tuple[int, str]]) -> list[Path]:
    """The cache files of every output at ``sizes`` (the server's own key scheme, computed here)."""
    from cozygen.core.gallery.thumbnails import ThumbnailCache

    keys = ThumbnailCache(server.comfy.user_dir / "cozygen" / "thumbs")
    found = []
    for image in server.images:
        source = server.comfy.output_dir / image["subfolder"] / image["filename"]
        stat = os.stat(source)
        found += [keys.path_for(keys.key(stat, source.suffix, w, f), f) for w, f in sizes]
    return found


def first_view(server: Server, wait: bool) -> None:
    from cozygen.core.gallery.thumbnail_warm import DEFAULT_SIZES

    files = expected_files(server, list(DEFAULT_SIZES))
    ready = sum(p.exists() for p in files)  # warm already when the gallery is opened
    started = time.monotonic()
    if wait:  # the warm thread works once the queue is idle: give it the time it needs, and say how long
        deadline = started + 300
        while time.monotonic() < deadline and not all(p.exists() for p in files):
            time.sleep(0.05)
    waited = time.monotonic() - started
    warm = sum(p.exists() for p in files)
    ids = {}
    for subfolder in {image["subfolder"] for image in server.images}:
        listed = server.client.json("GET", f"/cozygen/api/gallery?subfolder={subfolder}&per_page=500")["items"]
        ids.update({(subfolder, i["filename"]): i["id"] for i in listed if "id" in i})
    server_ms: list[float] = []
    for image in server.images:
        for path in (
            f"/cozygen/api/images/{ids[(image['subfolder'], image['filename'])]}/thumb?w=384",
            f"/cozygen/thumb?filename={image['filename']}&subfolder={image['subfolder']}&type=output&w=192",
        ):
            status, headers, _ = server.client.call("GET", path, headers={"Accept": IMG_ACCEPT})
            if status != 200:
                raise RuntimeError(f"{path}: {status}")
            timing = dict(headers).get("Server-Timing", "")
            server_ms.append(float(timing.split("dur=")[1]))
    p50 = statistics.median(server_ms)
    p90 = statistics.quantiles(server_ms, n=10)[-1] if len(server_ms) > 1 else p50
    target = f"target < {FIRST_VIEW_TARGET_MS:g} ms {'OK' if p50 < FIRST_VIEW_TARGET_MS else 'MISSED'}"
    rest = f" (the rest {waited:.1f} s later)" if warm > ready else ""
    print(
        f"first view, warm={server.mode:<6} {ready:>4}/{len(files)} in the cache when opened{rest}; "
        f"server p50 {p50:6.2f} ms  p90 {p90:6.2f} ms  ({len(server_ms)} thumbnails)"
        + (f"   {target}" if server.mode != "off" else "   (renders on first view)"),
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=6, help="jobs per pattern per round per mode")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--size", type=int, default=768, help="image side in pixels (a job takes about 0.5-1 s)")
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--modes", default="off,idle,always")
    parser.add_argument("--patterns", default="series,batch")
    args = parser.parse_args()
    comfyui_host.run_in_venv(__file__)
    from support import import_project_as

    import_project_as("cozygen")
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    patterns = [p.strip() for p in args.patterns.split(",") if p.strip()]
    if "off" not in modes:
        modes.insert(0, "off")
    values = {"prompt": "a lighthouse at dusk", "steps": args.steps, "size": args.size}
    print(f"load average at start: {Path('/proc/loadavg').read_text().split()[:3]}", flush=True)
    with tempfile.TemporaryDirectory() as base:
        base_path = Path(base)
        (base_path / "frontend").mkdir()
        (base_path / "frontend" / "index.html").write_text("bench")
        servers: list[Server] = []
        try:
            for mode in modes:
                servers.append(Server(mode, base_path, base_path / "frontend"))
            for server in servers:  # one job each first: model-free, but the first run imports and warms up
                server.run("series", 1, values, seed=999)
                server.seconds = {p: [] for p in server.seconds}
                server.cpu = {p: 0.0 for p in server.cpu}
                server.jobs = {p: 0 for p in server.jobs}
            for round_ in range(args.rounds):
                for pattern in patterns:
                    order = servers[round_ % len(servers) :] + servers[: round_ % len(servers)]  # each leads in turn
                    for server in order:
                        server.run(pattern, args.jobs, values, seed=1000 * (round_ + 1))
            off = servers[0]
            for pattern in patterns:
                for server in servers:
                    rate = server.per_minute(pattern)
                    pairs = zip(off.seconds[pattern], server.seconds[pattern], strict=True)
                    ratio = statistics.median([o / s for o, s in pairs])
                    met = "OK" if ratio >= THROUGHPUT_TARGET else "MISSED"
                    verdict = f"  median of {args.rounds} rounds; target >= {THROUGHPUT_TARGET:.2f}x {met}"
                    verdict = verdict if server is not off else ""
                    print(
                        f"{pattern:<6} warm={server.mode:<6} {rate:6.1f} jobs/min ({server.jobs[pattern]} jobs of "
                        f"{args.size}px/{args.steps} steps in {sum(server.seconds[pattern]):5.1f} s), CPU "
                        f"{server.cpu[pattern] / server.jobs[pattern]:.3f} s/job = {ratio:.3f}x of off{verdict}",
                        flush=True,
                    )
            for server in servers:
                first_view(server, wait=server.mode != "off")
            print(f"load average at end: {Path('/proc/loadavg').read_text().split()[:3]}", flush=True)
        finally:
            for server in servers:
                server.comfy.stop()


if __name__ == "__main__":
    main()
