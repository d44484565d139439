"""Jobs on two real ComfyUI servers: this one with CozyGen and a plain one (no CozyGen at all, the same cached venv
on another port and base folder), added as a backend. A CozyGen workflow runs there with progress and lands in the
gallery with CozyGen's metadata; routing by a model file one of them lacks and by queue length; pinning; a job of
several images split across both; cancel; the plain backend killed mid-job and started again; CozyGen restarted
while a job runs there; a backend behind a bearer-token proxy; and a lying backend (path tricks, wrong content)."""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import comfyui_host
import pytest
from PIL import Image
from support import PROJECT, StreamEvents, get, post, request, until

BLUR = "cozygen_plain_blur.json"
FAST = {"size": 256, "blur_radius": 4}
SLOW = {"size": 640, "blur_radius": 12}  # some seconds of CPU: long enough to act while it runs
ONLY_PLAIN, ONLY_HERE = "only-on-plain.safetensors", "only-here.safetensors"
TOKEN = "proxy-token-" + uuid.uuid4().hex


def model_workflow(checkpoint: str) -> dict[str, Any]:
    """The blur workflow, plus a checkpoint loader nothing uses (ComfyUI never runs it, routing checks its file)."""
    graph = json.loads((PROJECT / "workflows" / BLUR).read_text())
    graph["9"] = {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": checkpoint}}
    return graph


def fresh(values: dict[str, Any]) -> dict[str, Any]:
    """Values no earlier job used (ComfyUI caches a graph it ran before and saves nothing new)."""
    return {**values, "color": uuid.uuid4().int % 16777215}


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory, front_end_root: Path) -> Iterator[dict[str, Any]]:
    here_base, plain_base = tmp_path_factory.mktemp("cozy"), tmp_path_factory.mktemp("plain")
    for base, name in ((here_base, ONLY_HERE), (plain_base, ONLY_PLAIN)):
        (base / "models" / "checkpoints").mkdir(parents=True)
        (base / "models" / "checkpoints" / name).write_bytes(b"0")
    workflows = here_base / "user" / "cozygen" / "workflows"
    workflows.mkdir(parents=True)
    for name, checkpoint in (
        ("needs_plain.json", ONLY_PLAIN),
        ("needs_here.json", ONLY_HERE),
        ("needs_none.json", "x.safetensors"),
    ):
        (workflows / name).write_text(json.dumps(model_workflow(checkpoint)))
    started = []
    try:
        plain = comfyui_host.start(plain_base, folder_name=None, front_end_root=front_end_root)
        started.append(plain)
        here = comfyui_host.start(here_base, front_end_root=front_end_root)
        started.append(here)
        backend = add_backend(here.url, name="plain", url=plain.url, max_jobs=2)
        yield {"here": here, "plain": plain, "backend": backend}
    finally:
        for server in started:
            server.stop()


def backend_view(url: str, backend_id: str) -> dict[str, Any]:
    return get(f"{url}/cozygen/api/backends/{backend_id}").json()


def add_backend(cozygen: str, /, **fields: Any) -> dict[str, Any]:
    """Add a backend (201) and wait until CozyGen sees it up with its node list read: the added backend."""
    made = post(f"{cozygen}/cozygen/api/backends", fields)
    assert made.status == 201, made.body
    until(lambda: backend_view(cozygen, made.json()["id"]), lambda b: b["health"]["state"] == "up" and b["nodes_known"])
    return made.json()


def submit(url: str, values: dict[str, Any], workflow: str = BLUR, **extra: Any) -> Any:
    return post(f"{url}/cozygen/api/jobs", {"workflow": workflow, "values": values, **extra})


def job_of(url: str, job_id: str) -> dict[str, Any]:
    return get(f"{url}/cozygen/api/jobs/{job_id}").json()["job"]


def ended(url: str, job_id: str, timeout: float = 120) -> dict[str, Any]:
    return until(lambda: job_of(url, job_id), lambda j: j["status"] not in ("pending", "running"), timeout=timeout)


def running(url: str, job_id: str) -> dict[str, Any]:
    job = until(lambda: job_of(url, job_id), lambda j: j["status"] != "pending", timeout=60)
    assert job["status"] == "running", job
    return job


def test_a_cozygen_workflow_runs_on_the_plain_backend_and_lands_in_the_gallery(servers: dict[str, Any]) -> None:
    here, backend = servers["here"], servers["backend"]
    with StreamEvents(here.url, {}, "/cozygen/api/events") as events:
        made = submit(here.url, fresh(FAST), backend="plain")
        assert made.status == 201, made.body
        job = ended(here.url, made.json()["job"]["id"])
        until(lambda: events.named("job.completed"), bool)
    assert job["status"] == "completed", job
    assert job["backend"] == {"id": backend["id"], "name": "plain"}
    assert job["started_at"] is not None
    kinds = [kind for kind, data in events.events if isinstance(data, dict) and data.get("id") == job["id"]]
    assert "job.started" in kinds and "job.image" in kinds, kinds  # its progress came through the tracker
    [image] = job["images"]
    assert image["subfolder"] == "backends/plain/CozyGen" and image["type"] == "output"
    path = here.output_dir / image["subfolder"] / image["filename"]
    with Image.open(path) as saved:
        record = json.loads(saved.text["cozygen"])
        graph = json.loads(saved.text["prompt"])
    assert record["prompt_id"] == job["prompt_id"]
    assert record["params"]["size"] == FAST["size"] and record["params"]["blur_radius"] == FAST["blur_radius"]
    assert graph["6"]["class_type"] == "CozyGenOutput"  # CozyGen's own graph, as a local job records it
    listed = until(
        lambda: get(f"{here.url}/cozygen/api/gallery?subfolder={image['subfolder']}&recursive=true").json(),
        lambda body: any(i.get("filename") == image["filename"] for i in body["items"]),
    )
    assert any(i.get("filename") == image["filename"] for i in listed["items"])
    again = post(f"{here.url}/cozygen/api/jobs/{job['id']}/reproduce")
    assert again.status == 201, again.body


def test_routing_follows_the_model_files_and_names_what_each_backend_lacks(servers: dict[str, Any]) -> None:
    here, backend = servers["here"], servers["backend"]
    there = submit(here.url, fresh(FAST), "needs_plain.json")
    assert there.status == 201, there.body
    assert there.json()["job"]["backend"]["id"] == backend["id"]
    home = submit(here.url, fresh(FAST), "needs_here.json")
    assert home.status == 201, home.body
    for made in (there, home):
        assert ended(here.url, made.json()["job"]["id"])["status"] == "completed"
    # (held first while this ComfyUI was busy, it named no backend until one took it: where it ran is at its end)
    assert job_of(here.url, home.json()["job"]["id"])["backend"]["id"] == "local"
    refused = submit(here.url, fresh(FAST), "needs_none.json")
    assert refused.status == 409 and refused.json()["code"] == "NO_BACKEND", refused.body
    lacks = {b["name"]: b["missing"] for b in refused.json()["backends"]}
    assert any("x.safetensors" in m for m in lacks["plain"]) and any("x.safetensors" in m for m in lacks["local"])
    pinned = submit(here.url, fresh(FAST), "needs_plain.json", backend="local")
    assert pinned.status == 409 and pinned.json()["code"] == "NO_BACKEND", pinned.body
    unknown = submit(here.url, fresh(FAST), backend="nowhere")
    assert unknown.status == 400 and unknown.json()["code"] == "UNKNOWN_BACKEND"


def test_a_workflow_pinned_by_an_admin_runs_there_and_a_series_takes_its_backend(servers: dict[str, Any]) -> None:
    here, backend = servers["here"], servers["backend"]
    refused = request("PUT", f"{here.url}/cozygen/api/backends/pins/{BLUR}", {"backend": "nowhere"})
    assert refused.status == 404 and refused.json()["code"] == "BACKEND_NOT_FOUND", refused.body
    pinned = request("PUT", f"{here.url}/cozygen/api/backends/pins/{BLUR}", {"backend": "plain"})
    assert pinned.status == 200, pinned.body
    assert get(f"{here.url}/cozygen/api/backends/pins").json()["pins"] == [
        {"workflow": BLUR, "backend": backend["id"], "name": "plain"}
    ]
    try:
        there = submit(here.url, fresh(FAST))
        assert there.status == 201 and there.json()["job"]["backend"]["id"] == backend["id"], there.body
        home = submit(here.url, fresh(FAST), backend="local")  # the request's own backend wins
        assert home.status == 201 and home.json()["job"]["backend"]["id"] == "local", home.body
        for made in (there, home):
            assert ended(here.url, made.json()["job"]["id"])["status"] == "completed"
    finally:
        gone = request("DELETE", f"{here.url}/cozygen/api/backends/pins/{BLUR}")
        assert gone.status == 200 and gone.json()["pins"] == [], gone.body
    series = post(f"{here.url}/cozygen/api/series", {"workflow": BLUR, "values": fresh(FAST), "times": 1,
                                                     "backend": "plain"})  # fmt: skip
    assert series.status == 201 and series.json()["series"]["backend"] == "plain", series.body
    job = series.json()["job"]
    assert job["backend"]["id"] == backend["id"] and ended(here.url, job["id"])["status"] == "completed"


def test_the_shorter_queue_wins_and_a_job_of_several_images_is_split(servers: dict[str, Any]) -> None:
    here, backend = servers["here"], servers["backend"]
    busy = submit(here.url, fresh(SLOW), backend="local").json()["job"]
    running(here.url, busy["id"])
    other = submit(here.url, fresh(FAST))
    assert other.status == 201 and other.json()["job"]["backend"]["id"] == backend["id"], other.body
    assert ended(here.url, busy["id"])["status"] == "completed"
    several = submit(here.url, fresh(FAST), num_images=2)
    assert several.status == 201, several.body
    job = ended(here.url, several.json()["job"]["id"])
    assert job["status"] == "completed", job
    folders = sorted(i["subfolder"] for i in job["images"])
    assert folders == ["CozyGen", "backends/plain/CozyGen"], folders  # one here, one there
    for image in job["images"]:
        assert (here.output_dir / image["subfolder"] / image["filename"]).is_file()


def test_a_remote_job_is_cancelled_running_or_waiting(servers: dict[str, Any]) -> None:
    here = servers["here"]
    first = submit(here.url, fresh(SLOW), backend="plain").json()["job"]
    second = submit(here.url, fresh(SLOW), backend="plain").json()["job"]
    running(here.url, first["id"])
    waiting = post(f"{here.url}/cozygen/api/jobs/{second['id']}/cancel")
    assert waiting.status == 200 and waiting.json()["job"]["status"] == "cancelled", waiting.body
    stopping = post(f"{here.url}/cozygen/api/jobs/{first['id']}/cancel")
    assert stopping.status in (200, 202), stopping.body
    assert ended(here.url, first["id"])["status"] == "cancelled"
    assert until(lambda: get(f"{servers['plain'].url}/queue").json(), lambda q: not q["queue_running"])


def test_a_plain_backend_killed_mid_job_interrupts_it_reroutes_the_waiting_and_is_used_again(
    servers: dict[str, Any],
) -> None:
    here, plain, backend = servers["here"], servers["plain"], servers["backend"]
    doomed = submit(here.url, fresh(SLOW), backend="plain").json()["job"]
    running(here.url, doomed["id"])
    local_busy = [submit(here.url, fresh(SLOW), backend="local").json()["job"] for _ in range(2)]
    waiting = submit(here.url, fresh(FAST)).json()["job"]  # the shorter queue: behind the doomed one
    assert waiting["backend"]["id"] == backend["id"], waiting
    plain.kill()
    try:
        lost = ended(here.url, doomed["id"])
        assert lost["status"] == "interrupted" and "plain stopped answering" in (lost["error"] or ""), lost
        moved = ended(here.url, waiting["id"], timeout=180)
        assert moved["status"] == "completed" and moved["backend"]["id"] == "local", moved
        down = backend_view(here.url, backend["id"])
        assert down["health"]["state"] == "down", down
    finally:
        plain.restart()
    for job in local_busy:
        ended(here.url, job["id"], timeout=180)
    until(lambda: backend_view(here.url, backend["id"]), lambda b: b["health"]["state"] == "up", timeout=60)
    back = submit(here.url, fresh(FAST), backend="plain")
    assert back.status == 201, back.body
    assert ended(here.url, back.json()["job"]["id"])["status"] == "completed"


def test_cozygen_restarted_while_a_remote_job_runs_reattaches_it(servers: dict[str, Any]) -> None:
    here = servers["here"]
    job = submit(here.url, fresh(SLOW), backend="plain").json()["job"]
    running(here.url, job["id"])
    here.kill()
    here.restart()
    done = ended(here.url, job["id"], timeout=180)
    assert done["status"] == "completed", done
    [image] = done["images"]
    assert (here.output_dir / image["subfolder"] / image["filename"]).is_file()


# -- max_jobs as a cap: CozyGen holds what no backend has room for ---------------------------------------------
def cap_both(here: str, backend_id: str, max_jobs: int) -> None:
    for target in ("local", backend_id):
        changed = request("PATCH", f"{here}/cozygen/api/backends/{target}", {"max_jobs": max_jobs})
        assert changed.status == 200 and changed.json()["max_jobs"] == max_jobs, changed.body


def queued_ids(url: str) -> list[str]:
    queue = get(f"{url}/queue").json()
    return [item[1] for item in queue["queue_running"] + queue["queue_pending"]]


def test_max_jobs_caps_each_backend_and_cozygen_holds_the_rest(servers: dict[str, Any]) -> None:
    here, plain, backend = servers["here"], servers["plain"], servers["backend"]
    cap_both(here.url, backend["id"], 1)
    try:
        made = [submit(here.url, fresh(SLOW)) for _ in range(4)]
        assert all(m.status == 201 for m in made), [m.body for m in made]  # all full is not a 409
        jobs = [m.json()["job"] for m in made]
        held = [j for j in jobs if j["backend"] is None]  # held at submit: no backend had room
        assert held and all(j["status"] == "pending" and j["queue_position"] for j in held), jobs
        prompts = {j["prompt_id"] for j in jobs}
        most = {"here": 0, "plain": 0}
        while any(job_of(here.url, j["id"])["status"] in ("pending", "running") for j in jobs):
            for name, server in (("here", here), ("plain", plain)):
                most[name] = max(most[name], len(prompts.intersection(queued_ids(server.url))))
        assert most == {"here": 1, "plain": 1}, most  # never more than its max_jobs of CozyGen's, each used
        done = [job_of(here.url, j["id"]) for j in jobs]
        assert [j["status"] for j in done] == ["completed"] * 4, done
        assert {j["backend"]["id"] for j in done} == {"local", backend["id"]}
    finally:
        cap_both(here.url, backend["id"], 2)
        request("PATCH", f"{here.url}/cozygen/api/backends/local", {"max_jobs": 1})


def test_a_prompt_held_when_cozygen_is_killed_is_held_again_and_runs_once(servers: dict[str, Any]) -> None:
    here, plain, backend = servers["here"], servers["plain"], servers["backend"]
    cap_both(here.url, backend["id"], 1)
    try:
        jobs = [submit(here.url, fresh(SLOW)).json()["job"] for _ in range(3)]
        until(lambda: queued_ids(here.url) + queued_ids(plain.url), lambda q: len(q) >= 2)
        queued = queued_ids(here.url) + queued_ids(plain.url)
        [held] = [j for j in jobs if j["backend"] is None and j["prompt_id"] not in queued]
        here.kill()  # the record says held: nothing was sent
        here.restart()
        done = ended(here.url, held["id"], timeout=180)
        assert done["status"] == "completed" and len(done["images"]) == 1, done
        for job in jobs:
            ended(here.url, job["id"], timeout=180)
        ran = []
        for path in here.output_dir.rglob("*.png"):
            with Image.open(path) as saved:
                record = saved.text.get("cozygen") if hasattr(saved, "text") else None
            if record and json.loads(record).get("prompt_id") == held["prompt_id"]:
                ran.append(path)
        assert len(ran) == 1, ran  # it ran once, wherever it went
    finally:
        cap_both(here.url, backend["id"], 2)
        request("PATCH", f"{here.url}/cozygen/api/backends/local", {"max_jobs": 1})


# -- a backend behind a proxy that wants a token, and one that lies ---------------------------------------------
class Loopback:
    """An aiohttp app on 127.0.0.1 in a thread of its own (a test's stand-in server)."""

    def __init__(self, app: Any) -> None:
        from aiohttp import web

        self.loop = asyncio.new_event_loop()
        self.runner = web.AppRunner(app)
        self.loop.run_until_complete(self.runner.setup())
        self.port = comfyui_host.free_port()
        self.loop.run_until_complete(web.TCPSite(self.runner, "127.0.0.1", self.port).start())
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        async def stop() -> None:
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()  # handlers still holding a websocket
            await self.runner.cleanup()

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


def bearer_proxy(target: str) -> Loopback:
    """A reverse proxy in front of ``target`` that refuses any request without the bearer token (websocket too)."""
    import aiohttp
    from aiohttp import web

    async def handle(request: web.Request) -> web.StreamResponse:
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return web.Response(status=401, text="token needed")
        async with aiohttp.ClientSession() as session:
            if request.path == "/ws":
                ours = web.WebSocketResponse()
                await ours.prepare(request)
                async with session.ws_connect(f"{target}/ws", params=request.query) as theirs:
                    async for message in theirs:
                        if message.type == aiohttp.WSMsgType.TEXT:
                            await ours.send_str(message.data)
                        elif message.type == aiohttp.WSMsgType.BINARY:
                            await ours.send_bytes(message.data)
                return ours
            body = await request.read()
            headers = {k: v for k, v in request.headers.items() if k.lower() in ("content-type",)}
            async with session.request(
                request.method, f"{target}{request.path}", params=request.query, data=body, headers=headers
            ) as answer:
                return web.Response(
                    status=answer.status,
                    body=await answer.read(),
                    headers={"Content-Type": answer.headers.get("Content-Type", "application/octet-stream")},
                )

    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_route("*", "/{tail:.*}", handle)
    return Loopback(app)


def test_a_backend_behind_a_bearer_token(servers: dict[str, Any]) -> None:
    here, plain = servers["here"], servers["plain"]
    proxy = bearer_proxy(plain.url)
    try:
        made = add_backend(here.url, name="guarded", url=proxy.url, auth="bearer", secret=TOKEN)
        assert "secret" not in made and made["has_secret"]
        job = submit(here.url, fresh(FAST), backend="guarded")
        assert job.status == 201, job.body
        done = ended(here.url, job.json()["job"]["id"])
        assert done["status"] == "completed" and done["images"][0]["subfolder"].startswith("backends/guarded"), done
    finally:
        request("DELETE", f"{here.url}/cozygen/api/backends/guarded")
        proxy.close()


def liar(
    object_info: dict[str, Any], images: list[dict[str, Any]], view: bytes, prompt_answer: bytes | None = None
) -> Loopback:
    """A server that speaks ComfyUI's API but says its outputs are ``images`` and serves ``view`` for any of them
    (and, with ``prompt_answer``, answers POST /prompt with those bytes)."""
    from aiohttp import web

    sockets: list[web.WebSocketResponse] = []

    async def ws(request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        sockets.append(socket)
        async for _ in socket:
            pass
        return socket

    async def prompt(request: web.Request) -> web.Response:
        body = await request.json()
        prompt_id = body["prompt_id"]
        if prompt_answer is not None:
            return web.Response(body=prompt_answer, content_type="application/json")

        async def run() -> None:
            await asyncio.sleep(0.3)
            for kind, data in (
                ("execution_start", {}),
                ("executing", {"node": "6"}),
                ("executed", {"node": "6", "output": {"images": images}}),
                ("execution_success", {}),
            ):
                for socket in sockets:
                    await socket.send_json({"type": kind, "data": {**data, "prompt_id": prompt_id}})

        asyncio.get_running_loop().create_task(run())
        return web.json_response({"prompt_id": prompt_id, "number": 1, "node_errors": {}})

    app = web.Application()
    app.router.add_get("/ws", ws)
    app.router.add_post("/prompt", prompt)

    def answer(make: Any) -> Any:
        async def handler(_request: web.Request) -> web.StreamResponse:
            return make()

        return handler

    app.router.add_get("/queue", answer(lambda: web.json_response({"queue_running": [], "queue_pending": []})))
    app.router.add_get("/object_info", answer(lambda: web.json_response(object_info)))
    app.router.add_get("/system_stats", answer(lambda: web.json_response({"system": {"comfyui_version": "0.3.75"}})))
    app.router.add_get("/history/{id}", answer(lambda: web.json_response({})))
    app.router.add_get("/view", answer(lambda: web.Response(body=view, content_type="image/png")))
    return Loopback(app)


def test_a_lying_backend_never_writes_outside_its_folder_nor_what_is_not_an_image(servers: dict[str, Any]) -> None:
    here, plain = servers["here"], servers["plain"]
    object_info = get(f"{plain.url}/object_info").json()
    tricks = [
        {"filename": "../../../escape.png", "subfolder": "", "type": "output"},
        {"filename": "x.png", "subfolder": "../../..", "type": "output"},
        {"filename": "/etc/passwd", "subfolder": "", "type": "output"},
        {"filename": "page.html", "subfolder": "", "type": "output"},
        {"filename": "fine.png", "subfolder": "/abs", "type": "output"},
        {"filename": "fine.png", "subfolder": "", "type": "temp"},
        {"filename": "not-really.png", "subfolder": "", "type": "output"},
    ]
    server = liar(object_info, tricks, b"<html>not a png</html>")
    try:
        add_backend(here.url, name="liar", url=server.url)
        job = submit(here.url, fresh(FAST), backend="liar")
        assert job.status == 201, job.body
        done = ended(here.url, job.json()["job"]["id"])
        assert done["status"] == "completed" and done["images"] == [], done
        for name in ("escape.png", "passwd", "page.html", "not-really.png", "fine.png"):
            assert not list(here.base.parent.rglob(name)), name  # nowhere, not even inside its folder
    finally:
        request("DELETE", f"{here.url}/cozygen/api/backends/liar")
        server.close()


@pytest.mark.parametrize(
    ("answer", "said"),
    [(b"<html>surprise</html>", "not JSON"), (b'{"prompt_id": "' + b"x" * (2 * 1024 * 1024) + b'"}', "larger than")],
)
def test_a_backend_answering_garbage_fails_a_job_pinned_to_it_with_the_reason(
    servers: dict[str, Any], answer: bytes, said: str
) -> None:
    here, plain = servers["here"], servers["plain"]
    server = liar(get(f"{plain.url}/object_info").json(), [], b"", prompt_answer=answer)
    try:
        add_backend(here.url, name="garbled", url=server.url)
        job = submit(here.url, fresh(FAST), backend="garbled")
        assert job.status == 201, job.body
        done = ended(here.url, job.json()["job"]["id"])
        assert done["status"] == "failed" and said in (done["error"] or ""), done
        assert get(f"{here.url}/cozygen/hello").status == 200  # CozyGen answers on
    finally:
        request("DELETE", f"{here.url}/cozygen/api/backends/garbled")
        server.close()
