"""ComfyUI's input folder is one folder for everyone: with per_user, another user's upload (a photo sent for
image-to-image, a copy of one of their outputs) is as invisible to bob as their outputs are."""

from __future__ import annotations

import json
import time
from urllib.parse import urlencode

from household import Household
from support import GalleryEvents, get, post, request
from test_isolation import IMG2IMG, load_graph, multipart, save_img2img, upload


def cozygen_upload(home: Household, who: str, filename: str) -> dict:
    body, content_type = multipart({}, filename)
    reply = request(
        "POST", f"{home.url}/cozygen/upload_image", headers={**home.as_(who), "Content-Type": content_type}, raw=body
    )
    assert reply.status == 200, reply.body
    return reply.json()


def refusals(home: Household, who: str, sub: str, name: str) -> dict[str, int]:
    """What ``who`` gets for every way of reaching one input file."""
    rel = f"{sub}/{name}" if sub else name
    return {
        "listing": 200 if any(i["name"] == name for i in listing(home, who, sub)) else 404,
        "input/file": get(f"{home.url}/cozygen/input/file?{urlencode({'path': rel})}", headers=home.as_(who)).status,
        "thumb": get(
            f"{home.url}/cozygen/thumb?{urlencode({'filename': name, 'subfolder': sub, 'type': 'input'})}",
            headers=home.as_(who),
        ).status,
        "view": get(
            f"{home.url}/view?{urlencode({'filename': name, 'subfolder': sub, 'type': 'input'})}", headers=home.as_(who)
        ).status,
        "view [input]": get(
            f"{home.url}/view?{urlencode({'filename': f'{name} [input]', 'subfolder': sub})}", headers=home.as_(who)
        ).status,
        "graph": post(f"{home.url}/prompt", {"prompt": load_graph(rel)}, headers=home.as_(who)).status,
        "job": post(
            f"{home.url}/cozygen/api/jobs", {"workflow": IMG2IMG, "values": {"picture": rel}}, headers=home.as_(who)
        ).status,
    }


def listing(home: Household, who: str, sub: str) -> list[dict]:
    reply = get(f"{home.url}/cozygen/input?{urlencode({'subfolder': sub, 'per_page': 0})}", headers=home.as_(who))
    assert reply.status == 200, reply.body
    return reply.json()["items"]


def test_an_upload_is_its_uploaders(household: Household) -> None:
    save_img2img(household)
    with GalleryEvents(household.url, household.as_("bob"), "input") as bobs_events:
        stored = cozygen_upload(household, "alice", "alices-photo.png")
        via_comfyui = upload(household, "alice", "/upload/image", {"type": "input"}, "alices-other.png").json()
        time.sleep(1.0)  # the watcher's events
    assert stored["filename"] not in bobs_events.names and via_comfyui["name"] not in bobs_events.names
    for sub, name in ((stored["subfolder"], stored["filename"]), (via_comfyui["subfolder"], via_comfyui["name"])):
        hers = refusals(household, "alice", sub, name)
        assert hers == {**dict.fromkeys(hers, 200), "job": 201}, hers
        for who in ("bob", "vera"):  # vera is a viewer: graphs and jobs are refused her anyway
            assert refusals(household, who, sub, name) == {**dict.fromkeys(hers, 404), "graph": 403, "job": 403}
    # bob cannot replace it either
    replaced = upload(household, "bob", "/upload/image", {"overwrite": "true"}, "alices-other.png")
    assert replaced.status == 403 and replaced.json()["code"] == "INPUT_NOT_YOURS"
    # files nobody uploaded through CozyGen or ComfyUI stay everyone's
    (household.server.base / "input" / "shared-example.png").write_bytes(
        (household.server.base / "input" / stored["subfolder"] / stored["filename"]).read_bytes()
    )
    assert (
        get(f"{household.url}/view?filename=shared-example.png&type=input", headers=household.as_("bob")).status == 200
    )


def test_a_copy_of_an_output_in_the_input_folder_stays_its_owners(household: Household) -> None:
    image = household.alice_image
    copied = post(f"{household.url}/cozygen/api/images/{image['id']}/to-input", headers=household.as_("alice"))
    assert copied.status == 200, copied.body
    name = copied.json()["filename"]
    assert get(f"{household.url}/view?filename={name}&type=input", headers=household.as_("alice")).status == 200
    assert get(f"{household.url}/view?filename={name}&type=input", headers=household.as_("bob")).status == 404
    assert all(i["name"] != name for i in listing(household, "bob", ""))
    body = json.dumps({"imagePath": f"{image['subfolder']}/{image['filename']}"})
    sent = request(
        "POST", f"{household.url}/cozygen/compat/dreamlayer/api/send-to-img2img",
        headers={**household.as_("alice"), "Content-Type": "application/json"}, raw=body.encode(),
    )  # fmt: skip
    assert sent.status == 200, sent.body
    dream = sent.json()["filename"]
    assert get(f"{household.url}/view?filename={dream}&type=input", headers=household.as_("bob")).status == 404
