"""As bob (and vera), every way ComfyUI's own API and CozyGen's job API offer to read alice's outputs.

Each test here failed before ComfyUI's routes went through the allowlist and its adapters
(core/comfyui/routes.py, api/comfyui_gate.py).
"""

from __future__ import annotations

import asyncio
import io
import json
import time
import uuid
from urllib.parse import quote, urlencode

import aiohttp
import pytest
from household import Household
from PIL import Image
from support import get, post, request

IMG2IMG = "security_img2img.json"


def view(home: Household, who: str, **query: str):
    return get(f"{home.url}/view?{urlencode(query)}", headers=home.as_(who))


def alice_file(home: Household) -> bytes:
    image = home.alice_image
    return (home.server.base / "output" / image["subfolder"] / image["filename"]).read_bytes()


def test_view_refuses_every_spelling_of_alices_file(household: Household) -> None:
    name, sub = household.alice_image["filename"], household.alice_image["subfolder"]
    spellings = [
        {"filename": name, "subfolder": sub, "type": "output"},
        {"filename": name, "subfolder": sub},  # type defaults to output
        {"filename": f"{name} [output]", "subfolder": sub, "type": "input"},  # the suffix wins over type
        {"filename": f"{name} [output]", "subfolder": sub, "type": "temp"},
        {"filename": f"{name} [output]", "subfolder": sub, "type": "output", "preview": "webp;50"},
        {"filename": name, "subfolder": f"./{sub}/../{sub}", "type": "output"},
        {"filename": f"{name} [output]", "subfolder": f"{sub}/", "channel": "rgba"},
    ]
    served = [s for s in spellings if view(household, "alice", **s).status == 200]
    assert len(served) == len(spellings)  # every spelling names alice's file, and serves it to her
    for who in ("bob", "vera"):
        for spelling in spellings:
            for prefix in ("", "/api"):
                reply = get(f"{household.url}{prefix}/view?{urlencode(spelling)}", headers=household.as_(who))
                assert reply.status == 404, (who, spelling, reply.status)
                assert reply.content_type == "application/json" and alice_file(household) not in reply.body


def save_img2img(home: Household) -> None:
    graph = {
        "1": {"class_type": "CozyGenImage", "inputs": {"param_name": "picture", "image": ""}},
        "2": {"class_type": "ImageInvert", "inputs": {"image": ["1", 0]}},
        "3": {"class_type": "CozyGenOutput", "inputs": {"images": ["2", 0], "filename_prefix": "CozyGen/sec"}},
    }
    saved = post(f"{home.url}/cozygen/workflows/{IMG2IMG}", graph, headers=home.as_("admin"))
    assert saved.status in (200, 201), saved.body


def test_a_job_cannot_load_another_users_output(household: Household) -> None:
    save_img2img(household)
    image = household.alice_image
    reference = f"output::{image['subfolder']}::{image['filename']}"
    job = {"workflow": IMG2IMG, "values": {"picture": reference}}
    refused = post(f"{household.url}/cozygen/api/jobs", job, headers=household.as_("bob"))
    assert refused.status == 403 and refused.json()["code"] == "FILE_NOT_YOURS", refused.body
    mine = post(f"{household.url}/cozygen/api/jobs", job, headers=household.as_("alice"))
    assert mine.status == 201, mine.body


def load_graph(value: str) -> dict:
    return {
        "1": {"class_type": "LoadImage", "inputs": {"image": value}},
        "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "stolen"}},
    }


def test_a_graph_posted_to_comfyui_cannot_name_another_users_output(household: Household) -> None:
    image = household.alice_image
    path = household.server.base / "output" / image["subfolder"] / image["filename"]
    for value in (
        f"{image['subfolder']}/{image['filename']} [output]",
        f"../output/{image['subfolder']}/{image['filename']}",
        str(path),
        "../../../../../../etc/hostname",
    ):
        reply = post(f"{household.url}/prompt", {"prompt": load_graph(value)}, headers=household.as_("bob"))
        assert reply.status == 403 and reply.json()["code"] == "FILE_NOT_YOURS", (value, reply.body)
    # alice may load her own output the same way
    own = f"{image['subfolder']}/{image['filename']} [output]"
    assert post(f"{household.url}/prompt", {"prompt": load_graph(own)}, headers=household.as_("alice")).status == 200


def empty_graph() -> dict:
    return {
        "1": {"class_type": "EmptyImage", "inputs": {"width": 8, "height": 8, "batch_size": 1, "color": 0}},
        "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "direct"}},
    }


def png_bytes(colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), colour).save(out, format="PNG")
    return out.getvalue()


def multipart(fields: dict[str, str], filename: str) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode() for k, v in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="{filename}"\r\n'
        "Content-Type: image/png\r\n\r\n".encode()
        + png_bytes((255, 0, 0))
        + b"\r\n"
    )
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def upload(home: Household, who: str, route: str, fields: dict[str, str], filename: str):
    body, content_type = multipart(fields, filename)
    headers = {**home.as_(who), "Content-Type": content_type}
    return request("POST", f"{home.url}{route}", headers=headers, raw=body)


def test_comfyui_uploads_cannot_copy_or_replace_another_users_output(household: Household) -> None:
    image = household.alice_image
    before = alice_file(household)
    replaced = upload(
        household, "bob", "/upload/image",
        {"type": "output", "overwrite": "true", "subfolder": image["subfolder"]}, image["filename"],
    )  # fmt: skip
    assert replaced.status == 403 and replaced.json()["code"] == "UPLOAD_TYPE_REFUSED"
    ref = json.dumps({"filename": image["filename"], "subfolder": image["subfolder"], "type": "output"})
    ref_suffix = json.dumps({"filename": f"{image['filename']} [output]", "subfolder": image["subfolder"]})
    for original in (ref, ref_suffix):
        copied = upload(household, "bob", "/upload/mask", {"original_ref": original}, "mask.png")
        assert copied.status == 404, copied.body
    assert alice_file(household) == before
    assert not list((household.server.base / "input").glob("mask*.png"))
    # bob's own uploads to the input folder still work
    fine = upload(household, "bob", "/upload/image", {"type": "input"}, "bobs-photo.png")
    assert fine.status == 200 and fine.json()["type"] == "input"


async def listen(url: str, query: str, until: asyncio.Event) -> list:
    """Every message a socket gets until ``until`` is set."""
    got: list = []
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(f"{url}/ws?{query}") as ws:
            while not until.is_set():
                try:
                    message = await ws.receive(timeout=0.2)
                except asyncio.TimeoutError:
                    continue
                if message.type == aiohttp.WSMsgType.TEXT:
                    got.append(json.loads(message.data))
                elif message.type == aiohttp.WSMsgType.BINARY:
                    got.append({"type": "binary"})
                else:
                    break
    return got


def query_token(home: Household, who: str) -> str:
    return post(f"{home.url}/cozygen/api/query_token", headers=home.as_(who)).json()["token"]


def history_client_id(home: Household, prompt_id: str) -> str:
    entry = get(f"{home.url}/history/{prompt_id}", headers=home.as_("admin")).json()[prompt_id]
    return entry["prompt"][3]["client_id"]


def form_graph(home: Household, prompt: str) -> dict:
    """The weights-free form workflow as ComfyUI's editor would post it (its CozyGen Output broadcasts)."""
    graph = get(f"{home.url}/cozygen/workflows/cozygen_procedural_form.json", headers=home.as_("admin")).json()
    graph["1"]["inputs"]["value"], graph["3"]["inputs"]["value"], graph["4"]["inputs"]["value"] = prompt, 2, 64
    return graph


def test_job_messages_reach_no_other_users_socket(household: Household) -> None:
    bob_job = household.generate("bob", "bob's own", 7)
    bobs_client = history_client_id(household, bob_job["prompt_id"])
    alices_client = history_client_id(household, household.alice_job["prompt_id"])
    assert bobs_client != alices_client  # one client id per job, not one for all of CozyGen's jobs

    async def scenario() -> tuple[list, list, list, int, str]:
        done = asyncio.Event()
        bob, alice = query_token(household, "bob"), query_token(household, "alice")
        sockets = [
            asyncio.create_task(listen(household.url, f"clientId={bobs_client}&token={bob}", done)),
            asyncio.create_task(listen(household.url, f"token={bob}", done)),
            asyncio.create_task(listen(household.url, f"token={alice}", done)),
        ]
        async with aiohttp.ClientSession() as session:  # bob cannot take alice's client id either
            async with session.get(f"{household.url}/ws?clientId={alices_client}&token={bob}") as taken:
                taken_status = taken.status
        await asyncio.sleep(0.5)
        await asyncio.to_thread(household.generate, "alice", "alicesecret again", 11)
        direct = await asyncio.to_thread(  # as the seed's app does: straight to ComfyUI, with no client id
            post, f"{household.url}/prompt", {"prompt": form_graph(household, "alicesecret direct")},
            headers=household.as_("alice"),
        )  # fmt: skip
        assert direct.status == 200, direct.body
        for _ in range(100):
            await asyncio.sleep(0.1)
            if direct.json()["prompt_id"] in await asyncio.to_thread(get_history_ids, household):
                break
        await asyncio.sleep(0.5)
        done.set()
        with_id, plain, alices = await asyncio.gather(*sockets)
        return with_id, plain, alices, taken_status, direct.json()["prompt_id"]

    with_id, plain, alices, taken_status, direct_prompt = asyncio.run(scenario())
    assert taken_status == 403
    for got in (with_id, plain):
        assert got and got[0]["type"] == "status"  # the sockets were open
        assert [m for m in got if m["type"] not in ("status", "feature_flags")] == []
        assert "alicesecret" not in json.dumps(got)
    # alice's own socket gets her prompt's messages, CozyGen Output's included, as ComfyUI would broadcast them
    hers = {m["type"] for m in alices if m.get("data", {}).get("prompt_id") == direct_prompt}
    assert {"execution_start", "executed", "execution_success", "cozygen_batch_ready"} <= hers


def get_history_ids(home: Household) -> set[str]:
    return set(get(f"{home.url}/history", headers=home.as_("admin")).json())


def test_queue_and_history_changes_touch_only_own_prompts(household: Household) -> None:
    alice_prompt = household.alice_job["prompt_id"]
    for body in ({"delete": [alice_prompt]}, {"clear": True}):
        for route in ("/history", "/queue"):
            assert post(f"{household.url}{route}", body, headers=household.as_("bob")).status == 200
    assert post(f"{household.url}/interrupt", {"prompt_id": alice_prompt}, headers=household.as_("bob")).status == 200
    kept = get(f"{household.url}/history/{alice_prompt}", headers=household.as_("admin")).json()
    assert alice_prompt in kept
    refused = post(f"{household.url}/queue", {"clear": True}, headers=household.as_("vera"))
    assert refused.status == 403


def routes_of(home: Household) -> list[dict]:
    reply = get(f"{home.url}/cozygen/api/routes", headers=home.as_("admin"))
    assert reply.status == 200
    return reply.json()["routes"]


def test_every_comfyui_route_is_allowlisted_or_refused_to_a_non_admin(household: Household) -> None:
    """A route a future ComfyUI (or another custom node) adds reaches non-admins only once it is listed."""
    from cozygen.core.comfyui.routes import COMFYUI_ROUTES

    unlisted = []
    for route in routes_of(household):
        path = route["path"][4:] if route["path"].startswith("/api/") else route["path"]
        if path.startswith("/cozygen") or route["static"] or (route["method"], path) in COMFYUI_ROUTES:
            continue
        unlisted.append(route)
        concrete = route["path"].replace("{", "").replace("}", "")
        reply = request(route["method"], f"{household.url}{quote(concrete)}", headers=household.as_("bob"), raw=b"")
        assert reply.status == 403 and reply.json()["code"] == "COMFYUI_ROUTE_ADMIN_ONLY", (route, reply.status)
    assert {("POST", "/free"), ("POST", "/api/free")} <= {(r["method"], r["path"]) for r in unlisted}


@pytest.mark.parametrize("who", ["bob", "vera"])
def test_sweep_nothing_of_alices_comes_back(household: Household, who: str) -> None:
    """Every readable route of the server, with alice's ids, names and prompt ids in every parameter."""
    image, job = household.alice_image, household.alice_job
    values = {
        str(image["id"]), job["id"], job["prompt_id"], image["filename"], f"{image['filename']} [output]",
        f"{image['subfolder']}/{image['filename']}",
    }  # fmt: skip
    query = urlencode(
        {"filename": image["filename"], "subfolder": image["subfolder"], "type": "output", "id": image["id"],
         "job_id": job["id"], "prompt_id": job["prompt_id"], "q": "lighthouse", "search": "lighthouse",
         "recursive": "true", "prompt": "lighthouse"}
    )  # fmt: skip
    secret_bytes = alice_file(household)
    leaks = []
    for route in routes_of(household):
        if route["method"] != "GET" or route["static"] or route["path"].endswith(("/ws", "/stream", "/events")):
            continue
        paths = {route["path"]}
        for value in values if "{" in route["path"] else ():
            filled = route["path"]
            while "{" in filled:
                start, end = filled.index("{"), filled.index("}")
                filled = filled[:start] + quote(value, safe="") + filled[end + 1 :]
            paths.add(filled)
        for path in paths - {route["path"]} if "{" in route["path"] else paths:
            reply = get(f"{household.url}{path}?{query}", headers=household.as_(who))
            body = reply.body
            if b"alicesecret" in body or secret_bytes[100:400] in body:
                leaks.append((path, reply.status))
            elif 200 <= reply.status < 300 and job["prompt_id"].encode() in body and job["prompt_id"] not in path:
                leaks.append((path, reply.status, "prompt id"))
    assert leaks == []


def test_previews_in_the_temp_folder_are_their_prompts_owners(household: Household) -> None:
    graph = {
        "1": {"class_type": "EmptyImage", "inputs": {"width": 8, "height": 8, "batch_size": 1, "color": 255}},
        "2": {"class_type": "PreviewImage", "inputs": {"images": ["1", 0]}},
    }
    posted = post(f"{household.url}/prompt", {"prompt": graph}, headers=household.as_("alice"))
    assert posted.status == 200, posted.body
    prompt_id = posted.json()["prompt_id"]
    for _ in range(300):
        entry = get(f"{household.url}/history/{prompt_id}", headers=household.as_("alice")).json()
        if entry.get(prompt_id, {}).get("outputs"):
            break
        time.sleep(0.1)
    preview = entry[prompt_id]["outputs"]["2"]["images"][0]
    assert preview["type"] == "temp"
    spellings = [
        {"filename": preview["filename"], "subfolder": preview["subfolder"], "type": "temp"},
        {"filename": f"{preview['filename']} [temp]", "type": "output"},
    ]
    for spelling in spellings:
        assert view(household, "alice", **spelling).status == 200
        assert view(household, "bob", **spelling).status == 404
        assert view(household, "vera", **spelling).status == 404
    # and a graph of bob's cannot load it either
    reply = post(
        f"{household.url}/prompt", {"prompt": load_graph(f"{preview['filename']} [temp]")}, headers=household.as_("bob")
    )
    assert reply.status == 403 and reply.json()["code"] == "FILE_NOT_YOURS"


def test_nothing_tells_bob_which_outputs_exist(household: Household) -> None:
    """A file of alice's and a file that does not exist get the same answer, so names cannot be probed."""
    image = household.alice_image
    for name in (image["filename"], "no_such_file_00001_.png"):
        graph = load_graph(f"{image['subfolder']}/{name} [output]")
        reply = post(f"{household.url}/prompt", {"prompt": graph}, headers=household.as_("bob"))
        assert (reply.status, reply.json()["code"]) == (403, "FILE_NOT_YOURS")
        ref = json.dumps({"filename": name, "subfolder": image["subfolder"], "type": "output"})
        assert upload(household, "bob", "/upload/mask", {"original_ref": ref}, "mask.png").status == 404
        assert view(household, "bob", filename=name, subfolder=image["subfolder"]).status == 404


def test_a_prompt_cannot_take_another_prompts_id(household: Household) -> None:
    """Reusing alice's prompt id would replace her history entry and claim her outputs."""
    graph = empty_graph()
    body = {"prompt": graph, "prompt_id": household.alice_job["prompt_id"]}
    reply = post(f"{household.url}/prompt", body, headers=household.as_("bob"))
    assert (reply.status, reply.json()["code"]) == (409, "PROMPT_ID_TAKEN")
    fresh = post(
        f"{household.url}/prompt", {"prompt": graph, "prompt_id": str(uuid.uuid4())}, headers=household.as_("bob")
    )
    assert fresh.status == 200, fresh.body


def test_sweep_no_change_route_touches_alices_things(household: Household) -> None:
    """Every CozyGen route that changes something, as bob, with alice's ids in its path and its body."""
    image, job = household.alice_image, household.alice_job
    ids = [str(image["id"]), job["id"], job["prompt_id"]]
    body = {
        "ids": [str(image["id"]), job["id"]], "id": image["id"], "job_id": job["id"], "prompt_id": job["prompt_id"],
        "filename": image["filename"], "subfolder": image["subfolder"], "imagePath": image["filename"],
        "image_ids": [image["id"]], "delete": [job["prompt_id"]],
    }  # fmt: skip
    answered = {}
    for route in routes_of(household):
        if route["method"] in ("GET", "HEAD") or not route["path"].startswith("/cozygen/") or "{" not in route["path"]:
            continue
        for value in ids:
            path = route["path"]
            while "{" in path:
                start, end = path.index("{"), path.index("}")
                path = path[:start] + quote(value, safe="") + path[end + 1 :]
            reply = request(route["method"], f"{household.url}{path}", body, headers=household.as_("bob"))
            answered[(route["method"], path)] = reply.status
    assert answered and not [k for k, status in answered.items() if 200 <= status < 300]
    for route, target in (("/cozygen/api/gallery/delete", body), ("/cozygen/api/gallery/restore", body)):
        assert post(f"{household.url}{route}", target, headers=household.as_("bob")).status >= 400
    # alice's job and image are as they were
    mine = get(f"{household.url}/cozygen/api/jobs/{job['id']}", headers=household.as_("alice")).json()["job"]
    assert mine["status"] == "completed" and mine["images"] == job["images"]
    assert get(f"{household.url}/cozygen/api/images/{image['id']}", headers=household.as_("alice")).status == 200
    assert alice_file(household)


def test_trash_is_per_user_too(household: Household) -> None:
    # (gallery/models counts the caller's own outputs only: tests/unit/test_gallery_index.py)
    job = household.generate("alice", "alicesecret to the bin", 99)
    image_id = household.image_id(job["images"][0])
    deleted = request("DELETE", f"{household.url}/cozygen/api/images/{image_id}", headers=household.as_("alice"))
    assert deleted.status == 200, deleted.body
    trash = {"ids": deleted.json()["trash_ids"]}
    assert post(f"{household.url}/cozygen/api/gallery/restore", trash, headers=household.as_("bob")).status == 404
    batch = {"batch": deleted.json()["batch"]}
    assert post(f"{household.url}/cozygen/api/gallery/restore", batch, headers=household.as_("bob")).status == 404
    restored = post(f"{household.url}/cozygen/api/gallery/restore", trash, headers=household.as_("alice"))
    assert restored.status == 200 and restored.json()["restored"], restored.body
