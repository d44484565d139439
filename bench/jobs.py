"""The job service's cost over ComfyUI's own /prompt, and job lookups with a long history.

Starts a real ComfyUI with CozyGen (weights-free procedural workflow, 64 px, one step) and measures:

- submission: POST /cozygen/api/jobs (fill, ComfyUI's validation, the record committed to SQLite, queue) against
  a raw POST of the same filled graph to ComfyUI's /prompt, alternating, each on an empty queue; median and p90
  round trip and the ratio (target: under 1.5x and under 20 ms median; a 201 waits for the commit, so that an
  acknowledged job survives ComfyUI being killed, and that comes first: about 0.5 ms here, see core/store/db.py);
- GET /cozygen/api/jobs/{id} for random finished jobs with 1,000 jobs in the history (target: under 5 ms
  median), against ComfyUI's GET /history/{prompt_id} for the same prompts.

With ``--profile``, py-spy samples the server during the submissions and the event loop's top functions inside
``POST /cozygen/api/jobs`` are printed (bench/load.py reads the samples).

    python3 bench/jobs.py [--runs 60] [--history 1000] [--profile]
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT / "scripts"))

import comfyui_host  # noqa: E402

sys.path.insert(0, str(PROJECT / "bench"))
import load  # noqa: E402

WORKFLOW = "cozygen_procedural_form.json"
PREVIOUS = "1.54x (1.84 ms against 1.19 ms)"
VALUES = {"prompt": "a lighthouse at dusk", "steps": 1, "size": 64}


class Client:
    """One kept-alive HTTP connection, as a phone or script would hold."""

    def __init__(self, port: int, timeout: float = 60) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)

    def call(self, method: str, path: str, body: object = None) -> tuple[int, dict, float]:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if data is not None else {}
        started = time.perf_counter()
        self.conn.request(method, path, body=data, headers=headers)
        response = self.conn.getresponse()
        raw = response.read()
        elapsed = (time.perf_counter() - started) * 1000
        return response.status, json.loads(raw) if raw else {}, elapsed


def wait_idle(client: Client, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _, queue, _ = client.call("GET", "/queue")
        if not queue["queue_running"] and not queue["queue_pending"]:
            return
        time.sleep(0.01)
    raise RuntimeError("ComfyUI's queue did not drain")


def filled_graph(client: Client, seed: int) -> dict:
    status, body, _ = client.call("POST", f"/cozygen/api/workflows/{WORKFLOW}/fill", {**VALUES, "seed": seed})
    if status != 200:
        raise RuntimeError(f"fill failed: {status} {body}")
    return body["prompt"]


def submission(client: Client, runs: int) -> tuple[list[float], list[float]]:
    raw_times, job_times = [], []
    for run in range(runs + 3):  # the first three warm both paths up and are not counted
        graph = filled_graph(client, 1000 + run)
        wait_idle(client)
        status, body, raw = client.call("POST", "/prompt", {"prompt": graph, "client_id": "bench"})
        if status != 200:
            raise RuntimeError(f"/prompt refused the graph: {status} {body}")
        wait_idle(client)
        status, body, native = client.call(
            "POST", "/cozygen/api/jobs", {"workflow": WORKFLOW, "values": {**VALUES, "seed": 1000 + run}}
        )
        if status != 201:
            raise RuntimeError(f"/cozygen/api/jobs refused the job: {status} {body}")
        if run >= 3:
            raw_times.append(raw)
            job_times.append(native)
    wait_idle(client)
    return raw_times, job_times


def fill_history(client: Client, count: int) -> list[tuple[str, str]]:
    """Queue jobs until the history holds ``count``; their (job id, prompt id)."""
    made = []
    for n in range(count):
        status, body, _ = client.call(
            "POST", "/cozygen/api/jobs", {"workflow": WORKFLOW, "values": {**VALUES, "seed": n}}
        )
        if status != 201:
            raise RuntimeError(f"job {n} refused: {status} {body}")
        made.append((body["job"]["id"], body["job"]["prompt_id"]))
    wait_idle(client, timeout=900)
    return made


def lookups(client: Client, made: list[tuple[str, str]], runs: int) -> tuple[list[float], list[float]]:
    rng = random.Random(7)
    picks = [rng.choice(made) for _ in range(runs + 20)]
    native, history = [], []
    for n, (job_id, prompt_id) in enumerate(picks):
        status, body, took = client.call("GET", f"/cozygen/api/jobs/{job_id}")
        if status != 200 or body["job"]["status"] != "completed":
            raise RuntimeError(f"job {job_id}: {status} {body}")
        status, _, comfy = client.call("GET", f"/history/{prompt_id}")
        if n >= 20:
            native.append(took)
            history.append(comfy)
    return native, history


def p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10)[-1]


def report(label: str, ours: list[float], theirs: list[float], against: str, target: str, met: bool) -> None:
    ratio = statistics.median(ours) / statistics.median(theirs)
    print(
        f"{label:<44} median {statistics.median(ours):6.2f} ms  p90 {p90(ours):6.2f} ms   {against} "
        f"{statistics.median(theirs):6.2f} ms  = {ratio:.2f}x   target {target}  {'OK' if met else 'MISSED'}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=60)
    parser.add_argument("--history", type=int, default=1000)
    parser.add_argument("--profile", action="store_true", help="py-spy the server during the submissions")
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as base:
        base_path = Path(base)
        (base_path / "frontend").mkdir()
        (base_path / "frontend" / "index.html").write_text("bench")
        server = comfyui_host.start(base_path / "comfy", front_end_root=base_path / "frontend", env={})
        try:
            client = Client(server.port)
            samples = base_path / "profile.txt"
            profiler = load.start_profile(server.pid, None, samples, rate=1000) if args.profile else None
            raw, native = submission(client, args.runs)
            ratio = statistics.median(native) / statistics.median(raw)
            met = ratio < 1.5 and statistics.median(native) < 20
            report("POST /cozygen/api/jobs (fill+validate+commit)", native, raw, "raw /prompt", "<1.5x, <20 ms", met)
            print(f"{'':<44} previous {PREVIOUS}; load average {open('/proc/loadavg').read().strip()}", flush=True)
            if profiler is not None:
                load.stop_profile(profiler, timeout=0)
                load.print_profile(load.read_profile(samples, within="JobRoutes.create_job"), args.top)

            started = time.perf_counter()
            made = fill_history(client, args.history)
            print(f"{'history filled':<44} {len(made):,} jobs queued and run in {time.perf_counter() - started:.1f} s")
            native_get, history_get = lookups(client, made, args.runs * 5)
            met = statistics.median(native_get) < 5
            report(
                f"GET /cozygen/api/jobs/{{id}} ({args.history:,} in history)",
                native_get, history_get, "ComfyUI /history/{id}", "<5 ms", met,
            )  # fmt: skip
        finally:
            server.stop()


if __name__ == "__main__":
    main()
