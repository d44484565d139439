"""Two ComfyUI servers behind one CozyGen: throughput on one backend against two, and what sending a job to another
ComfyUI costs.

Starts a ComfyUI with CozyGen and a plain ComfyUI (no CozyGen: another machine's), each limited to one CPU thread
(``OMP_NUM_THREADS=1``), so that on this 2-core machine each stands for one machine's worth of compute. The jobs are
``workflows/cozygen_plain_blur.json`` (EmptyImage and ImageBlur: CPU work set by the size, no weights; each job
another colour, so ComfyUI's cache never answers for it). Measures:

- throughput: the same batch of jobs submitted at once through POST /cozygen/api/jobs, first with only this ComfyUI
  enabled, then with the plain one added (routing spreads them by queue length); jobs per minute from the first
  submission to the last completion, and the ratio (target: at least 1.6x);
- dispatch overhead: a tiny job pinned to this ComfyUI against the same pinned to the plain one, alternating, each
  on empty queues: the 201's round trip, and submission to completion (the remote one includes the POST /prompt to
  the backend, its websocket's messages and fetching the output home with CozyGen's metadata). The medians'
  differences are the overhead (target: under 30 ms median).

    python3 bench/backends.py [--jobs 12] [--size 1536] [--runs 30]
"""

from __future__ import annotations

import argparse
import os
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
from jobs import Client  # noqa: E402  (one kept-alive connection, as a phone holds)

WORKFLOW = "cozygen_plain_blur.json"
ONE_CORE = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
TARGET_RATIO, TARGET_OVERHEAD_MS = 1.6, 30.0
FINAL = ("completed", "failed", "cancelled", "interrupted")


def values(size: int, blur: int) -> dict:
    return {"size": size, "blur_radius": blur, "color": random.randrange(1 << 24)}


def submit(client: Client, size: int, blur: int, backend: str | None = None) -> tuple[dict, float]:
    body: dict = {"workflow": WORKFLOW, "values": values(size, blur)}
    if backend is not None:
        body["backend"] = backend
    status, answer, elapsed = client.call("POST", "/cozygen/api/jobs", body)
    if status != 201:
        raise RuntimeError(f"the job was refused: {status} {answer}")
    return answer["job"], elapsed


def wait_all(client: Client, ids: list[str], timeout: float = 900) -> dict[str, dict]:
    deadline, ended = time.monotonic() + timeout, {}
    while len(ended) < len(ids):
        for job_id in ids:
            if job_id not in ended:
                _, body, _ = client.call("GET", f"/cozygen/api/jobs/{job_id}")
                if body["job"]["status"] in FINAL:
                    ended[job_id] = body["job"]
        if time.monotonic() > deadline:
            raise RuntimeError(f"{len(ids) - len(ended)} jobs did not finish")
        time.sleep(0.05)
    failed = [j for j in ended.values() if j["status"] != "completed"]
    if failed:
        raise RuntimeError(f"{len(failed)} jobs did not complete: {failed[0]['status']} {failed[0].get('error')}")
    return ended


def cpu_seconds(pids: list[int]) -> float:
    """User and system CPU time of these processes so far (Linux /proc)."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (clock ticks)
    return total / os.sysconf("SC_CLK_TCK")


def batch(client: Client, count: int, size: int, pids: list[int]) -> tuple[float, dict[str, int], float]:
    """Jobs per minute for ``count`` jobs submitted at once, how many each backend ran, and the cores the two
    ComfyUI processes kept busy meanwhile (CPU seconds over wall seconds)."""
    cpu, started = cpu_seconds(pids), time.perf_counter()
    ids = [submit(client, size, 31)[0]["id"] for _ in range(count)]
    ended = wait_all(client, ids)
    elapsed = time.perf_counter() - started
    spread: dict[str, int] = {}
    for job in ended.values():
        name = job["backend"]["name"]
        spread[name] = spread.get(name, 0) + 1
    return count / elapsed * 60, spread, (cpu_seconds(pids) - cpu) / elapsed


def wait_idle(client: Client) -> None:
    for _ in range(2400):
        _, queue, _ = client.call("GET", "/cozygen/api/queue")
        if not queue.get("pending") and not queue.get("running"):
            return
        time.sleep(0.05)


def overhead(client: Client, remote: str, runs: int) -> dict[str, list[float]]:
    """Submission round trips and submission-to-completion times of tiny pinned jobs, local and remote, alternating."""
    times: dict[str, list[float]] = {"local submit": [], "remote submit": [], "local done": [], "remote done": []}
    for run in range(runs + 2):  # two warm-up rounds are not counted
        for where, backend in (("local", "local"), ("remote", remote)):
            wait_idle(client)
            started = time.perf_counter()
            job, elapsed = submit(client, 64, 1, backend)
            while True:
                _, body, _ = client.call("GET", f"/cozygen/api/jobs/{job['id']}")
                if body["job"]["status"] in FINAL:
                    break
                time.sleep(0.002)
            done = (time.perf_counter() - started) * 1000
            if body["job"]["status"] != "completed":
                raise RuntimeError(f"a {where} job ended {body['job']['status']}: {body['job'].get('error')}")
            if run >= 2:
                times[f"{where} submit"].append(elapsed)
                times[f"{where} done"].append(done)
    return times


def wait_up(client: Client, backend_id: str) -> None:
    for _ in range(600):
        _, view, _ = client.call("GET", f"/cozygen/api/backends/{backend_id}")
        if view.get("health", {}).get("state") == "up" and view.get("nodes_known"):
            return
        time.sleep(0.1)
    raise RuntimeError(f"the backend did not come up: {view}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=12, help="jobs in the throughput batch")
    parser.add_argument("--size", type=int, default=1536, help="image size of a throughput job (CPU work)")
    parser.add_argument("--runs", type=int, default=30, help="tiny jobs each side for the overhead")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cozygen-bench-backends-") as tmp:
        front = Path(tmp) / "frontend"
        front.mkdir()
        (front / "index.html").write_text("bench")
        servers = []
        try:
            plain = comfyui_host.start(Path(tmp) / "plain", folder_name=None, env=ONE_CORE, front_end_root=front)
            servers.append(plain)
            here = comfyui_host.start(Path(tmp) / "cozygen", env=ONE_CORE, front_end_root=front)
            servers.append(here)
            client = Client(here.port, timeout=120)
            print(f"two ComfyUI, one thread each; {args.jobs} jobs of {args.size} px, blur 31; load {load_average()}")
            pids = [here.pid, plain.pid]
            batch(client, 2, args.size, pids)  # warm-up: the workflow read, torch's first blur
            one, spread_one, cores = batch(client, args.jobs, args.size, pids)
            print(f"one backend:  {one:6.1f} jobs/min  {spread_one}  ({cores:.2f} cores busy)")
            room = {"max_jobs": args.jobs}  # routing, not a cap, decides where the batch goes
            client.call("PATCH", "/cozygen/api/backends/local", room)
            status, made, _ = client.call("POST", "/cozygen/api/backends", {"name": "plain", "url": plain.url, **room})
            if status != 201:
                raise RuntimeError(f"the backend was refused: {status} {made}")
            wait_up(client, made["id"])
            batch(client, 2, args.size, pids)  # warm-up of the plain one
            two, spread_two, cores = batch(client, args.jobs, args.size, pids)
            print(f"two backends: {two:6.1f} jobs/min  {spread_two}  ({cores:.2f} cores busy)")
            ratio = two / one
            print(f"ratio: {ratio:.2f}x (target >= {TARGET_RATIO}x: {'met' if ratio >= TARGET_RATIO else 'NOT met'})")

            times = overhead(client, made["id"], args.runs)
            medians = {k: statistics.median(v) for k, v in times.items()}
            for key in ("local submit", "remote submit", "local done", "remote done"):
                print(f"{key:14s} median {medians[key]:7.1f} ms  p90 {p90(times[key]):7.1f} ms  (n={len(times[key])})")
            for what in ("submit", "done"):
                extra = medians[f"remote {what}"] - medians[f"local {what}"]
                verdict = "met" if extra < TARGET_OVERHEAD_MS else "NOT met"
                target = f"target < {TARGET_OVERHEAD_MS:.0f} ms: {verdict}"
                print(f"remote overhead ({what}): {extra:+.1f} ms median ({target})")
            print(f"load average after: {load_average()}")
        finally:
            for server in servers:
                server.stop()


def p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    main()
