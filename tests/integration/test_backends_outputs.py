"""What comes home from a plain ComfyUI backend besides PNGs, and Spoon Feeder sessions on a backend, on two real
ComfyUI servers (this one with CozyGen, one plain): a CozyGen Video Output workflow (WebM, MP4, and GIF as an
animated WebP) runs there and its video is the job's result, in the history and in the gallery as the same video
made here is; a PreviewImage's preview comes home into this ComfyUI's temp folder; a session made with the plain
backend's profile runs its generations there."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import comfyui_host
import pytest
from PIL import Image
from support import PROJECT, get, post, until

BASE = "/cozygen/compat/spoonfeeder/api"
FORMATS = {"video/webm": ".webm", "video/mp4": ".mp4", "image/gif": ".webp"}  # what the plain backend writes
FRAMES = 4


def video_workflow(fmt: str, pingpong: bool = False) -> dict[str, Any]:
    """FRAMES frames of different colours (the first a CozyGen input, so each job can ask for a new one) as a
    video (identical frames would be merged into one by an animated WebP's encoder)."""
    graph: dict[str, Any] = {
        "1": {"class_type": "CozyGenInt", "inputs": {"param_name": "color", "value": 0, "min": 0, "max": 16777215}},
        "3": {"class_type": "CozyGenVideoOutput", "inputs": {"images": ["b3", 0], "frame_rate": 8, "loop_count": 0,
              "filename_prefix": "CozyGen/clip", "format": fmt, "pingpong": pingpong}},
    }  # fmt: skip
    for n in range(FRAMES):
        colour = ["1", 0] if n == 0 else 0x203040 * n
        graph[f"e{n}"] = {"class_type": "EmptyImage", "inputs": {"width": 64, "height": 48, "batch_size": 1,
                                                                "color": colour}}  # fmt: skip
        if n:
            before = "e0" if n == 1 else f"b{n - 1}"
            graph[f"b{n}"] = {"class_type": "ImageBatch", "inputs": {"image1": [before, 0], "image2": [f"e{n}", 0]}}
    return graph


def blur(extra: dict[str, Any]) -> dict[str, Any]:
    graph = json.loads((PROJECT / "workflows" / "cozygen_plain_blur.json").read_text())
    return {**graph, **extra}


WORKFLOWS = {
    **{f"video_{ext[1:]}.json": video_workflow(fmt) for fmt, ext in FORMATS.items()},
    "video_pingpong.json": video_workflow("video/webm", pingpong=True),
    "preview.json": blur({"7": {"class_type": "PreviewImage", "inputs": {"images": ["5", 0]}}}),
    "spoon_plain.json": blur({"8": {"class_type": "CozyGenString", "inputs": {"param_name": "prompt", "value": ""}}}),
}


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory, front_end_root: Path) -> Iterator[dict[str, Any]]:
    here_base, plain_base = tmp_path_factory.mktemp("cozy"), tmp_path_factory.mktemp("plain")
    workflows = here_base / "user" / "cozygen" / "workflows"
    workflows.mkdir(parents=True)
    for name, graph in WORKFLOWS.items():
        (workflows / name).write_text(json.dumps(graph))
    started = []
    try:
        plain = comfyui_host.start(plain_base, folder_name=None, front_end_root=front_end_root)
        started.append(plain)
        here = comfyui_host.start(here_base, front_end_root=front_end_root)
        started.append(here)
        made = post(f"{here.url}/cozygen/api/backends", {"name": "plain", "url": plain.url})
        assert made.status == 201, made.body
        until(
            lambda: get(f"{here.url}/cozygen/api/backends/{made.json()['id']}").json(),
            lambda b: b["health"]["state"] == "up" and b["nodes_known"],
        )
        yield {"here": here, "plain": plain, "backend": made.json()}
    finally:
        for server in started:
            server.stop()


def submit(url: str, workflow: str, values: dict[str, Any], **extra: Any) -> dict[str, Any]:
    made = post(f"{url}/cozygen/api/jobs", {"workflow": workflow, "values": values, **extra})
    assert made.status == 201, made.body
    return made.json()["job"]


def ended(url: str, job_id: str) -> dict[str, Any]:
    return until(
        lambda: get(f"{url}/cozygen/api/jobs/{job_id}").json()["job"],
        lambda j: j["status"] not in ("pending", "running"),
        timeout=120,
    )


def color() -> int:
    return uuid.uuid4().int % 16777215  # a graph ComfyUI has not run before (it would save nothing new)


def frames_in(path: Path) -> int:
    if path.suffix == ".webp":
        with Image.open(path) as image:
            return image.n_frames
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(container.streams.video[0]))


def gallery_item(url: str, subfolder: str, filename: str) -> dict[str, Any]:
    listed = until(
        lambda: get(f"{url}/cozygen/api/gallery?subfolder={subfolder}&recursive=true").json()["items"],
        lambda items: any(i.get("filename") == filename for i in items),
    )
    return next(i for i in listed if i.get("filename") == filename)


@pytest.mark.parametrize(("fmt", "ext"), list(FORMATS.items()))
def test_a_video_made_on_the_plain_backend_comes_home_as_one_made_here(servers: dict[str, Any], fmt: str,
                                                                      ext: str) -> None:  # fmt: skip
    here, backend = servers["here"], servers["backend"]
    workflow = f"video_{ext[1:]}.json"
    there = ended(here.url, submit(here.url, workflow, {"color": color()}, backend="plain")["id"])
    local = ended(here.url, submit(here.url, workflow, {"color": color()}, backend="local")["id"])
    assert there["status"] == local["status"] == "completed", (there, local)
    assert there["backend"] == {"id": backend["id"], "name": "plain"}
    [video] = there["images"]
    [made_here] = local["images"]  # a video made here is the job's result too
    assert video["subfolder"] == "backends/plain/CozyGen" and video["type"] == "output"
    assert video["filename"].startswith("clip_") and video["filename"].endswith(ext)
    assert made_here["subfolder"] == "CozyGen" and made_here["type"] == "output"
    path = here.output_dir / video["subfolder"] / video["filename"]
    assert frames_in(path) == FRAMES
    assert not list(here.output_dir.glob(".*.part"))
    served = get(f"{here.url}/view?filename={video['filename']}&subfolder={video['subfolder']}&type=output")
    assert served.status == 200 and served.body == path.read_bytes()
    history = get(f"{here.url}/cozygen/api/jobs?limit=50").json()
    rows = {j["id"]: j for j in history["jobs"]}
    assert rows[there["id"]]["images"] == there["images"] and rows[local["id"]]["images"] == local["images"]
    remote_entry = gallery_item(here.url, video["subfolder"], video["filename"])
    local_entry = gallery_item(here.url, made_here["subfolder"], made_here["filename"])
    kind = "animated" if ext == ".webp" else "video"  # an animated WebP stands in for the GIF: both "animated"
    assert remote_entry["kind"] == local_entry["kind"] == kind, (remote_entry, local_entry)


def test_a_pingpong_video_has_no_plain_equivalent_and_routing_says_what_is_missing(servers: dict[str, Any]) -> None:
    here = servers["here"]
    refused = post(f"{here.url}/cozygen/api/jobs", {"workflow": "video_pingpong.json", "values": {"color": color()},
                                                    "backend": "plain"})  # fmt: skip
    assert refused.status == 409 and refused.json()["code"] == "NO_BACKEND", refused.body
    lacks = {b["name"]: b["missing"] for b in refused.json()["backends"]}
    assert lacks["plain"] == ["node CozyGenVideoOutput"]
    unpinned = ended(here.url, submit(here.url, "video_pingpong.json", {"color": color()})["id"])
    assert unpinned["status"] == "completed" and unpinned["backend"]["id"] == "local"  # this ComfyUI runs it


def test_a_preview_comes_home_into_the_temp_folder(servers: dict[str, Any]) -> None:
    here = servers["here"]
    job = ended(here.url, submit(here.url, "preview.json", {"size": 256, "color": color()}, backend="plain")["id"])
    assert job["status"] == "completed", job
    by_type = {i["type"]: i for i in job["images"]}
    assert set(by_type) == {"output", "temp"}, job["images"]
    preview = by_type["temp"]
    assert preview["subfolder"] == "backends/plain" and preview["filename"].endswith(".png")
    temp = here.base / "temp" / "temp"  # ComfyUI puts its temp folder inside --temp-directory
    path = temp / preview["subfolder"] / preview["filename"]
    assert path.is_file() and not (here.output_dir / preview["subfolder"] / preview["filename"]).exists()
    served = get(f"{here.url}/view?filename={preview['filename']}&subfolder={preview['subfolder']}&type=temp")
    assert served.status == 200 and served.body == path.read_bytes()


def spoon(reply: Any, status: int) -> Any:
    assert reply.status == status, reply.body
    return reply.json()


def test_a_spoon_feeder_session_on_the_plain_backends_profile_runs_its_generations_there(
    servers: dict[str, Any],
) -> None:
    here, backend = servers["here"], servers["backend"]
    api = f"{here.url}{BASE}"
    profiles = spoon(get(f"{api}/profiles?provider=comfyui"), 200)["data"]
    assert backend["id"] in {p["id"] for p in profiles}
    session = spoon(post(f"{api}/comfyui/sessions", {"profileId": backend["id"], "title": "Attic"}), 201)["data"]
    assert (session["profile_id"], session["profile_name"]) == (backend["id"], "plain")
    assert session["profile_url"] == servers["plain"].url  # an admin (auth is off) sees its URL
    listed = {s["id"]: s for s in spoon(get(f"{api}/comfyui/sessions"), 200)["data"]}
    assert listed[session["id"]]["profile_id"] == backend["id"]
    body = {"prompt_text": "a lighthouse", "workflow_id": "spoon_plain.json", "parameters": {}}
    made = spoon(post(f"{api}/comfyui/sessions/{session['id']}/generate", body), 201)["data"]
    job = ended(here.url, made["id"])
    assert job["status"] == "completed" and job["backend"]["id"] == backend["id"], job
    assert job["images"][0]["subfolder"].startswith("backends/plain")
    local = spoon(post(f"{api}/comfyui/sessions", {"profileId": "local", "title": "Here"}), 201)["data"]
    made = spoon(post(f"{api}/comfyui/sessions/{local['id']}/generate", body), 201)["data"]
    assert ended(here.url, made["id"])["backend"]["id"] == "local"  # pinned here while another backend is up
