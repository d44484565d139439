"""ComfyUI's partner nodes through CozyGen on a real ComfyUI 0.3.75 whose ``--comfy-api-base`` is a loopback server
speaking the FLUX 1.1 [pro] Ultra node's API (tests/partner_server.py): the Comfy API key (here from the
``COMFY_API_KEY`` environment, the setting's default) reaches that server in the header the node sends, the image
comes back into the gallery, and the key is in no record, log, ComfyUI answer, job view, export or PNG."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from partner_server import GENERATE, PIXELS, POLL, PartnerServer
from support import AUTH_ENV, get, household, post, request, until

from cozygen.core.comfyui import partner

KEY = "comfyui-5d0c7e19a2b84f63b1e9d7c4a8f2e6b03c1d5a7e9f"
WORKFLOW = "partner_flux_pro.json"
DONE = ("completed", "failed", "cancelled", "interrupted")


@pytest.fixture(scope="module")
def cloud() -> Iterator[PartnerServer]:
    with PartnerServer(key=KEY) as server:
        yield server


@pytest.fixture(scope="module")
def server(start_comfyui, cloud: PartnerServer):
    return start_comfyui(env={**AUTH_ENV, "COMFY_API_KEY": KEY}, extra_args=["--comfy-api-base", cloud.url])


@pytest.fixture(scope="module")
def people(server) -> dict[str, dict[str, str]]:
    return household(server.url, {"ann": "user"})


def files_under(base: Path) -> Iterator[Path]:
    """Every file ComfyUI and CozyGen wrote (custom_nodes is a link to the project: not followed)."""
    for folder, _, names in os.walk(base):
        for name in names:
            path = Path(folder) / name
            if path.is_file() and not path.is_symlink():
                yield path


def test_this_comfyui_loads_every_partner_node_cozygen_lists(server, people) -> None:
    info = get(f"{server.url}/object_info", headers=people["admin"]).json()
    assert {m.node: info.get(m.node, {}).get("api_node") for m in partner.PARTNER_MODELS} == {
        m.node: True for m in partner.PARTNER_MODELS
    }
    assert "comfy_api_nodes/ nodes did not import correctly" not in server.log()


def test_a_partner_job_reaches_the_cloud_with_the_key_and_its_image_lands_in_the_gallery(
    server, cloud: PartnerServer, people
) -> None:
    url, ann, admin = server.url, people["ann"], people["admin"]
    seen_before = len(cloud.requests)
    cloud.hold = True  # the node waits on the cloud: the prompt stays on ComfyUI's queue meanwhile
    try:
        values = {"prompt": "a lighthouse in the fog", "seed": 1234, "raw": True}
        created = post(f"{url}/cozygen/api/jobs", {"workflow": WORKFLOW, "values": values}, headers=ann)
        assert created.status == 201, created.body
        job_id, prompt_id = created.json()["job"]["id"], created.json()["job"]["prompt_id"]
        reached = until(lambda: [r for r in cloud.requests[seen_before:] if r.path == GENERATE], bool, timeout=60)
        assert reached, server.log()[-3000:]
        queued = {name: get(f"{url}/queue", headers=who).body for name, who in (("admin", admin), ("ann", ann))}
    finally:
        cloud.release()
    assert prompt_id.encode() in queued["admin"] and prompt_id.encode() in queued["ann"]  # running, and shown
    assert not [name for name, body in queued.items() if KEY.encode() in body]

    job_url = f"{url}/cozygen/api/jobs/{job_id}"
    job = until(lambda: get(job_url, headers=ann).json()["job"], lambda j: j["status"] in DONE, timeout=60)
    assert job["status"] == "completed", (job, server.log()[-3000:])

    # what the node sent: the key on every request to the API base, none to the delivery host
    made = cloud.requests[seen_before:]
    (generate,) = [r for r in made if r.path == GENERATE]
    assert generate.headers.get("x-api-key") == KEY and "authorization" not in generate.headers
    body = {"prompt": "a lighthouse in the fog", "seed": 1234, "raw": True, "prompt_upsampling": False}
    assert generate.body == {**generate.body, **body, "aspect_ratio": "3:4"}
    polls = [r for r in made if r.path == POLL]
    assert polls and all(r.headers.get("x-api-key") == KEY for r in polls)
    (delivery,) = [r for r in made if r.path.startswith("/delivery/")]
    assert "x-api-key" not in delivery.headers

    # the image, as the cloud made it, in CozyGen's gallery
    from PIL import Image

    (image,) = job["images"]
    path = server.output_dir / image["subfolder"] / image["filename"]
    with Image.open(path) as png:
        assert png.size == (96, 128)
        got = png.convert("RGB").tobytes()
        texts = dict(png.text)
    want = bytes(channel for pixel in PIXELS for channel in pixel)
    assert all(abs(a - b) <= 1 for a, b in zip(got, want, strict=True))  # back from floats, floored to 8 bits
    assert "a lighthouse in the fog" in texts.get("prompt", "") and KEY not in json.dumps(texts)
    listed = until(
        lambda: get(f"{url}/cozygen/api/gallery?recursive=true&per_page=500", headers=ann).json()["items"],
        lambda items: any(i.get("filename") == image["filename"] for i in items),
    )
    (item,) = [i for i in listed if i.get("filename") == image["filename"]]
    assert get(f"{url}/cozygen/api/images/{item['id']}", headers=ann).status == 200

    # the key in no answer: ComfyUI's own history and queue, CozyGen's job views, export, graph and metadata
    answers = {
        "history": get(f"{url}/history", headers=admin),
        "history of the prompt": get(f"{url}/history/{prompt_id}", headers=ann),
        "queue": get(f"{url}/queue", headers=admin),
        "job": get(f"{url}/cozygen/api/jobs/{job_id}", headers=ann),
        "jobs": get(f"{url}/cozygen/api/jobs", headers=admin),
        "export": get(f"{url}/cozygen/api/jobs/export", headers=admin),
        "job workflow": get(f"{url}/cozygen/api/jobs/{job_id}/workflow", headers=ann),
        "image metadata": get(f"{url}/cozygen/api/images/{item['id']}/metadata", headers=ann),
        "settings": get(f"{url}/cozygen/api/settings", headers=admin),
    }
    assert {name: reply.status for name, reply in answers.items()} == {name: 200 for name in answers}
    assert prompt_id.encode() in answers["history"].body  # the prompt's entry is there, with its extra_data
    assert answers["settings"].json()["settings"]["comfy_api_key_set"] is True
    assert [name for name, reply in answers.items() if KEY.encode() in reply.body] == []

    # nor in any file: CozyGen's and ComfyUI's databases, the logs, ComfyUI's request logs, the PNG
    api_logs = list((server.base / "temp").rglob("api_logs/*.log"))  # ComfyUI's temp folder is temp/temp
    logged = "".join(p.read_text(errors="replace") for p in api_logs)
    assert "X-API-KEY" in logged and "<hidden>" in logged  # ComfyUI logs the node's headers: masked
    leaking = [str(p.relative_to(server.base)) for p in files_under(server.base) if KEY.encode() in p.read_bytes()]
    assert leaking == []


def test_the_check_and_the_model_lists_follow_the_stored_key(server, people) -> None:
    url, ann, admin = server.url, people["ann"], people["admin"]
    flux = {"id": "flux-pro", "name": "FLUX 1.1 [pro] Ultra", "filename": "flux-pro"}

    def check(name: str) -> dict:
        reply = post(f"{url}/cozygen/api/workflows/{name}/check", headers=ann)
        assert reply.status == 200, reply.body
        return reply.json()

    def lists() -> tuple[list[dict], list[dict]]:
        dreamlayer = get(f"{url}/cozygen/compat/dreamlayer/api/models", headers=ann).json()["models"]
        return dreamlayer, get(f"{url}/cozygen/api/models", headers=ann).json()["partner"]

    listed = get(f"{url}/cozygen/workflows?warnings=1", headers=ann).json()["warnings"]
    assert (listed[WORKFLOW]["ok"], listed[WORKFLOW]["missing_key"]) == (True, None)
    report = check(WORKFLOW)
    assert report == {
        **report, "ok": True, "missing_nodes": [], "missing_models": {}, "invalid_values": [],
        "partner_nodes": ["FluxProUltraImageNode"], "missing_key": None,
    }  # fmt: skip
    dreamlayer, native = lists()
    assert flux in dreamlayer
    assert [m["id"] for m in native] == [m.id for m in partner.PARTNER_MODELS]  # 0.3.75 has every node
    assert native[0] == {**flux, "provider": "Black Forest Labs", "node": "FluxProUltraImageNode"}

    cleared = request("PATCH", f"{url}/cozygen/api/settings", {"comfy_api_key": ""}, headers=admin)
    try:
        assert cleared.status == 200 and cleared.json()["settings"]["comfy_api_key_set"] is False
        report = check(WORKFLOW)
        assert (report["ok"], report["missing_key"], report["missing_models"]) == (False, "comfy_api_key", {})
        listed = get(f"{url}/cozygen/workflows?warnings=1", headers=ann).json()["warnings"]
        assert (listed[WORKFLOW]["ok"], listed[WORKFLOW]["missing_key"]) == (False, "comfy_api_key")  # the card's
        graph = json.loads((Path(__file__).parents[2] / "workflows" / WORKFLOW).read_text())
        posted = post(f"{url}/cozygen/api/workflows/check", {"workflow": graph}, headers=ann).json()
        assert (posted["ok"], posted["missing_key"]) == (False, "comfy_api_key")
        assert "missing_key" not in check("cozygen_procedural_demo.json")  # a workflow without partner nodes
        dreamlayer, native = lists()
        assert flux not in dreamlayer and native == []
    finally:
        restored = request("PATCH", f"{url}/cozygen/api/settings", {"comfy_api_key": None}, headers=admin)
        assert restored.status == 200 and restored.json()["settings"]["comfy_api_key_set"] is True  # the env's
