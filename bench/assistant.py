"""The prompt assistant's streaming cost: how long a model's token takes to reach the phone through CozyGen, and
what open assistant streams do to the event loop.

Starts a real ComfyUI with CozyGen and a fake language model on loopback in this process (an aiohttp server in a
thread speaking OpenAI's streamed chat completions: a role chunk, a pause, then content chunks), set up as the
default provider (the old settings' enrich_url). The fake notes when it writes each content chunk, on the same
clock the readers use. Measures:

- first token: from the fake writing its first content chunk to a client reading the first ``token`` event of
  ``POST /cozygen/api/assistant/chat`` on loopback (median and p90; target: under 20 ms median), beside the same
  chunk read straight from the fake;
- the event loop: ``GET /cozygen/hello`` round trips (p50 and p99) with 10 assistant streams open and dripping a
  chunk every 100 ms, beside none open.

Prints figures, never fails.

    python3 bench/assistant.py [--runs 40] [--hellos 400] [--streams 10]
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from aiohttp import web

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT / "scripts"))
sys.path.insert(0, str(PROJECT / "tests"))

import comfyui_host  # noqa: E402
from loopback import Served, bound  # noqa: E402  (tests/loopback.py: an aiohttp app in a thread)

WORKFLOW = "cozygen_procedural_form.json"
TARGET_MS = 20.0
PAUSE = 0.05  # seconds between the role chunk and the first content chunk


class FakeModel:
    """A streamed chat completion: ``chunks`` content chunks ``every`` seconds apart; ``sent[marker]`` is when the
    first content chunk of the request whose last message is ``marker`` was written."""

    def __init__(self) -> None:
        self.sent: dict[str, float] = {}
        self.chunks, self.every = 1, 0.0
        self._served = Served("bench fake model")
        self.port = 0

    def start(self) -> FakeModel:
        sock = bound()
        self.port = sock.getsockname()[1]
        self._served.start(self._app, [sock])
        return self

    def stop(self) -> None:
        self._served.stop()

    def _app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        return app

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        marker = str(body["messages"][-1]["content"])
        reply = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await reply.prepare(request)

        async def send(delta: dict[str, Any], finish: str | None = None) -> None:
            chunk = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "bench",
                     "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}  # fmt: skip
            await reply.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")

        try:
            await send({"role": "assistant", "content": ""})
            await asyncio.sleep(PAUSE)
            for n in range(self.chunks):
                if n:
                    await asyncio.sleep(self.every)
                if n == 0:
                    self.sent[marker] = time.perf_counter()
                await send({"content": f"word{n} "})
            await send({}, "stop")
            await reply.write(b"data: [DONE]\n\n")
        except ConnectionError:
            pass
        return reply


def first_data(response: http.client.HTTPResponse, event: str | None) -> float:
    """Read until the first data line (of ``event`` when named); when it was read."""
    name = None
    for raw in iter(response.readline, b""):
        line = raw.rstrip(b"\n")
        if line.startswith(b"event: "):
            name = line[7:].decode()
        elif line.startswith(b"data: ") and (event is None or name == event):
            if event is None and b'"content": ""' in line:  # the role chunk
                continue
            return time.perf_counter()
    raise RuntimeError("the stream ended before its first token")


def post_stream(port: int, path: str, body: dict[str, Any]) -> tuple[http.client.HTTPConnection, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
    response = conn.getresponse()
    if response.status != 200:
        raise RuntimeError(f"{path}: {response.status} {response.read()[:300]!r}")
    return conn, response


def first_tokens(fake: FakeModel, cozygen_port: int, runs: int) -> tuple[list[float], list[float]]:
    direct, through = [], []
    fake.chunks, fake.every = 1, 0.0
    for run in range(runs + 3):  # the first three warm both paths up
        marker = f"direct {run}"
        conn, response = post_stream(fake.port, "/v1/chat/completions",
                                     {"messages": [{"role": "user", "content": marker}], "stream": True})  # fmt: skip
        read = first_data(response, None)
        conn.close()
        if run >= 3:
            direct.append((read - fake.sent[marker]) * 1000)
        marker = f"through {run}"
        conn, response = post_stream(cozygen_port, "/cozygen/api/assistant/chat",
                                     {"workflow": WORKFLOW, "values": {}, "message": marker})  # fmt: skip
        read = first_data(response, "token")
        response.read()  # to the end: the turn is written before done
        conn.close()
        if run >= 3:
            through.append((read - fake.sent[marker]) * 1000)
    return direct, through


def hellos(port: int, count: int) -> list[float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    times = []
    for _ in range(count):
        started = time.perf_counter()
        conn.request("GET", "/cozygen/hello")
        conn.getresponse().read()
        times.append((time.perf_counter() - started) * 1000)
    conn.close()
    return times


STOPPING = threading.Event()  # the server is being stopped: its streams end early, say nothing of it


def open_streams(fake: FakeModel, port: int, count: int, seconds: float) -> list[threading.Thread]:
    fake.chunks, fake.every = int(seconds / 0.1), 0.1

    def drain(n: int) -> None:
        try:
            conn, response = post_stream(port, "/cozygen/api/assistant/chat",
                                         {"workflow": WORKFLOW, "values": {}, "message": f"stream {n}"})  # fmt: skip
            response.read()
            conn.close()
        except (OSError, RuntimeError, http.client.HTTPException) as error:
            if not STOPPING.is_set():
                print(f"stream {n}: {error!r}", flush=True)

    threads = [threading.Thread(target=drain, args=(n,), daemon=True) for n in range(count)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 10
    while sum(1 for n in range(count) if f"stream {n}" in fake.sent) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return threads


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--hellos", type=int, default=400)
    parser.add_argument("--streams", type=int, default=10)
    args = parser.parse_args()

    fake = FakeModel().start()
    with tempfile.TemporaryDirectory() as base:
        base_path = Path(base)
        (base_path / "frontend").mkdir()
        (base_path / "frontend" / "index.html").write_text("bench")
        server = comfyui_host.start(base_path / "comfy", front_end_root=base_path / "frontend",
                                    env={"COZYGEN_LLM_RATE_LIMIT": "0"})  # fmt: skip
        try:
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
            settings = {"enrich_url": f"http://127.0.0.1:{fake.port}/v1", "enrich_model": "bench"}
            conn.request("PATCH", "/cozygen/api/settings", json.dumps(settings), {"Content-Type": "application/json"})
            answer = conn.getresponse()
            if answer.status != 200:
                raise RuntimeError(f"settings: {answer.status} {answer.read()[:300]!r}")
            answer.read()
            conn.close()

            direct, through = first_tokens(fake, server.port, args.runs)
            med_d, med_t = statistics.median(direct), statistics.median(through)
            print(f"{'first token, straight from the fake':<48} median {med_d:6.2f} ms  p90 {pct(direct, 0.9):6.2f} ms")
            print(f"{'first token, through CozyGen':<48} median {med_t:6.2f} ms  p90 {pct(through, 0.9):6.2f} ms  "
                  f"(+{med_t - med_d:.2f} ms; target < {TARGET_MS:g} ms median: "
                  f"{'met' if med_t < TARGET_MS else 'NOT met'})")  # fmt: skip

            quiet = hellos(server.port, args.hellos)
            open_streams(fake, server.port, args.streams, seconds=max(30.0, args.hellos * 0.05))
            busy = hellos(server.port, args.hellos)
            label = "/cozygen/hello, no assistant stream"
            print(f"{label:<48} p50 {pct(quiet, 0.5):6.2f} ms  p99 {pct(quiet, 0.99):6.2f} ms")
            print(f"{f'/cozygen/hello, {args.streams} assistant streams dripping':<48} p50 {pct(busy, 0.5):6.2f} ms  "
                  f"p99 {pct(busy, 0.99):6.2f} ms  ({pct(busy, 0.5) / pct(quiet, 0.5):.2f}x p50)")  # fmt: skip
            print(f"{'':<48} load average {open('/proc/loadavg').read().strip()}", flush=True)
        finally:
            STOPPING.set()
            server.stop()
            fake.stop()


if __name__ == "__main__":
    main()
