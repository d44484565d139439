"""The backends an admin manages, against two real ComfyUI 0.3.75 on loopback: this one with CozyGen (auth on)
and a PLAIN one (no CozyGen in its custom_nodes, as another machine would be). Adding it, its health (in
/cozygen/api/backends and /cozygen/api/health), tests saved and unsaved, what it lacks per workflow (a checkpoint
file only the plain one has), disabling, removing, a backend that stops answering, and Spoon Feeder's profiles
over the same backends (its models synced from the plain ComfyUI's checkpoints)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import comfyui_host
import pytest
from support import AUTH_ENV, get, household, post, request, until

PLAIN_ONLY = "v1-5-pruned-emaonly.safetensors"  # sd15_txt2img's checkpoint: a tiny fake file on the plain one
TOKEN = "plain-backend-token-0123456789"
SF = "/cozygen/compat/spoonfeeder/api"


@pytest.fixture(scope="module")
def cozygen(start_comfyui):
    return start_comfyui(env=dict(AUTH_ENV))


@pytest.fixture(scope="module")
def plain(tmp_path_factory, front_end_root: Path):
    base = tmp_path_factory.mktemp("plain-comfyui")
    (base / "models" / "checkpoints").mkdir(parents=True)
    (base / "models" / "checkpoints" / PLAIN_ONLY).write_bytes(b"not really weights")
    server = comfyui_host.start(base, folder_name=None, front_end_root=front_end_root)
    assert not (base / "custom_nodes").exists() or not any((base / "custom_nodes").iterdir())
    yield server
    server.stop()


@pytest.fixture(scope="module")
def people(cozygen) -> dict[str, dict[str, str]]:
    return household(cozygen.url, {"una": "user", "vic": "viewer"})


@pytest.fixture(scope="module")
def added(cozygen, plain, people) -> dict[str, Any]:
    body = {"name": "attic", "url": plain.url + "/", "auth": "bearer", "secret": TOKEN, "tags": ["cpu"]}
    made = post(f"{cozygen.url}/cozygen/api/backends", body, headers=people["admin"])
    assert made.status == 201, made.body
    assert TOKEN.encode() not in made.body
    return made.json()


def backends(cozygen, people) -> list[dict[str, Any]]:
    found = get(f"{cozygen.url}/cozygen/api/backends", headers=people["admin"])
    assert found.status == 200, found.body
    assert TOKEN.encode() not in found.body
    return found.json()["backends"]


def test_only_the_local_comfyui_at_first(cozygen, people) -> None:
    [local] = backends(cozygen, people)
    assert local["id"] == "local" and local["local"] is True and local["url"] is None
    assert local["health"]["state"] == "up" and local["enabled"] is True
    health = get(f"{cozygen.url}/cozygen/api/health", headers=people["vic"]).json()
    assert [b["id"] for b in health["backends"]] == ["local"]


def test_a_plain_comfyui_added_comes_up_with_its_version_and_queue(cozygen, plain, people, added) -> None:
    assert added["url"] == plain.url and added["has_secret"] is True and added["auth"] == "bearer"
    assert added["subfolder"] == "backends/attic" and added["tags"] == ["cpu"]

    def attic() -> dict[str, Any]:
        return next(b for b in backends(cozygen, people) if b["id"] == added["id"])

    up = until(attic, lambda b: b["health"]["state"] == "up" and b["nodes_known"], timeout=60)
    assert up["health"]["comfyui_version"] and up["health"]["queue"] == {"running": 0, "pending": 0}
    assert [b["id"] for b in backends(cozygen, people)] == ["local", added["id"]]  # local first
    health = get(f"{cozygen.url}/cozygen/api/health", headers=people["vic"])
    listed = {b["name"]: b for b in health.json()["backends"]}
    assert listed["attic"]["state"] == "up" and plain.url.encode() not in health.body  # no URL for non-admins
    by_name = get(f"{cozygen.url}/cozygen/api/backends/ATTIC", headers=people["admin"])
    assert by_name.status == 200 and by_name.json()["id"] == added["id"]


def test_tests_saved_and_unsaved(cozygen, plain, people, added) -> None:
    saved = post(f"{cozygen.url}/cozygen/api/backends/{added['id']}/test", {}, headers=people["admin"])
    assert saved.status == 200, saved.body
    result = saved.json()
    assert result["ok"] is True and result["nodes"] > 100 and result["error"] is None
    assert result["backend"]["health"]["state"] == "up"
    unsaved = post(f"{cozygen.url}/cozygen/api/backends/test", {"url": plain.url}, headers=people["admin"])
    assert unsaved.status == 200 and unsaved.json()["ok"] is True
    nowhere = post(f"{cozygen.url}/cozygen/api/backends/test", {"url": "http://127.0.0.1:9"}, headers=people["admin"])
    assert nowhere.status == 200 and nowhere.json()["ok"] is False and "unreachable" in nowhere.json()["error"]
    # a server that is not a ComfyUI (CozyGen's own web app under a prefix): refused in words, not a 5xx
    other = post(f"{cozygen.url}/cozygen/api/backends/test", {"url": cozygen.url + "/cozygen"}, headers=people["admin"])
    assert other.status == 200 and other.json()["ok"] is False and other.json()["error"]
    assert len(backends(cozygen, people)) == 2  # nothing stored by the unsaved tests


def test_what_each_backend_lacks_per_workflow(cozygen, people, added) -> None:
    plain_check = get(
        f"{cozygen.url}/cozygen/api/backends/{added['id']}/check?workflow=sd15_txt2img.json", headers=people["admin"]
    )
    assert plain_check.status == 200, plain_check.body
    [report] = plain_check.json()["workflows"]
    assert report == {"workflow": "sd15_txt2img.json", "ok": True, "missing": []}  # CozyGen's nodes go plain there
    local_check = get(
        f"{cozygen.url}/cozygen/api/backends/local/check?workflow=sd15_txt2img.json", headers=people["admin"]
    )
    [local_report] = local_check.json()["workflows"]
    assert local_report["missing"] == [f"file {PLAIN_ONLY} (CheckpointLoaderSimple.ckpt_name)"]
    every = get(f"{cozygen.url}/cozygen/api/backends/{added['id']}/check", headers=people["admin"]).json()
    names = {r["workflow"]: r for r in every["workflows"]}
    assert names["cozygen_plain_blur.json"]["ok"] is True
    assert any("CozyGenProceduralImage" in " ".join(r["missing"]) for r in every["workflows"])  # not on plain
    missing = get(f"{cozygen.url}/cozygen/api/backends/{added['id']}/check?workflow=nope.json", headers=people["admin"])
    assert missing.status == 404


def test_disable_enable_and_the_local_one(cozygen, people, added) -> None:
    url = f"{cozygen.url}/cozygen/api/backends"
    off = request("PATCH", f"{url}/{added['id']}", {"enabled": False}, headers=people["admin"])
    assert off.status == 200 and off.json()["health"]["state"] == "disabled"
    on = request("PATCH", f"{url}/{added['id']}", {"enabled": True, "max_jobs": 2}, headers=people["admin"])
    assert on.status == 200 and on.json()["max_jobs"] == 2 and on.json()["has_secret"] is True
    local_off = request("PATCH", f"{url}/local", {"enabled": False}, headers=people["admin"])
    assert local_off.status == 200 and local_off.json()["health"]["state"] == "disabled"
    assert request("PATCH", f"{url}/local", {"url": "http://x"}, headers=people["admin"]).status == 400
    assert request("PATCH", f"{url}/local", {"enabled": True}, headers=people["admin"]).json()["enabled"] is True
    assert request("DELETE", f"{url}/local", headers=people["admin"]).status == 409
    clash = post(url, {"name": "Attic", "url": "http://127.0.0.1:9"}, headers=people["admin"])
    assert clash.status == 409 and clash.json()["code"] == "BACKEND_EXISTS"


def test_spoon_feeder_profiles_are_the_backends(cozygen, plain, people, added) -> None:
    listed = get(f"{cozygen.url}{SF}/profiles?provider=comfyui", headers=people["una"]).json()["data"]
    assert [p["id"] for p in listed] == ["local", added["id"]]
    assert listed[1]["api_key"] == "********" and listed[1]["url"] is None  # a user sees no backend URL
    assert TOKEN not in json.dumps(listed)
    as_admin = get(f"{cozygen.url}{SF}/profiles/{added['id']}", headers=people["admin"]).json()["data"]
    assert as_admin["url"] == plain.url and as_admin["provider"] == "comfyui"
    synced = post(f"{cozygen.url}{SF}/profiles/{added['id']}/models/sync", {}, headers=people["admin"])
    assert synced.status == 200, synced.body
    assert synced.json()["data"]["models"] == [PLAIN_ONLY] and synced.json()["data"]["added"] == 1
    models = get(f"{cozygen.url}{SF}/profiles/{added['id']}/models", headers=people["una"]).json()["data"]
    assert [m["model_id"] for m in models] == [PLAIN_ONLY]
    tested = post(
        f"{cozygen.url}{SF}/profiles/test-connection",
        {"provider": "comfyui", "url": plain.url},
        headers=people["admin"],
    )
    assert tested.status == 200 and tested.json()["data"]["connected"] is True
    llm = post(
        f"{cozygen.url}{SF}/profiles",
        {"name": "ollama box", "provider": "ollama", "type": "text", "url": "http://127.0.0.1:9", "apiKey": "k-1"},
        headers=people["admin"],
    )
    assert llm.status == 201, llm.body
    assert llm.json()["data"]["api_key"] == "********" and b"k-1" not in llm.body
    assert [p["id"] for p in get(f"{cozygen.url}{SF}/profiles?provider=ollama", headers=people["una"]).json()["data"]]
    unreachable = post(
        f"{cozygen.url}{SF}/profiles/{llm.json()['data']['id']}/models/sync", {}, headers=people["admin"]
    )
    assert unreachable.status == 502 and unreachable.json()["success"] is False
    made = post(f"{cozygen.url}{SF}/profiles", {"name": "second", "provider": "comfyui", "url": plain.url},
                headers=people["admin"])  # fmt: skip
    assert made.status == 201, made.body
    second = made.json()["data"]["id"]
    assert second in [b["id"] for b in backends(cozygen, people)]
    gone = request("DELETE", f"{cozygen.url}{SF}/profiles/{second}", headers=people["admin"])
    assert gone.status == 200 and gone.json() == {"success": True, "message": "Profile deleted"}
    assert second not in [b["id"] for b in backends(cozygen, people)]


def test_the_local_comfyui_takes_jobs_at_once_and_tags(cozygen, people) -> None:
    url = f"{cozygen.url}/cozygen/api/backends/local"
    changed = request("PATCH", url, {"max_jobs": 3, "tags": ["GPU", "sdxl"]}, headers=people["admin"])
    assert changed.status == 200, changed.body
    assert (changed.json()["max_jobs"], changed.json()["tags"]) == (3, ["gpu", "sdxl"])
    assert get(url, headers=people["admin"]).json()["max_jobs"] == 3
    refused = request("PATCH", url, {"max_jobs": 2, "name": "mine"}, headers=people["admin"])
    assert refused.status == 400 and refused.json()["code"] == "LOCAL_BACKEND"
    assert get(url, headers=people["admin"]).json()["max_jobs"] == 3  # nothing of a refused change kept
    back = request("PATCH", url, {"max_jobs": 1, "tags": []}, headers=people["admin"])
    assert (back.json()["max_jobs"], back.json()["tags"]) == (1, [])


def test_workflow_pins_are_listed_changed_and_dropped_with_their_backend(cozygen, plain, people, added) -> None:
    pins = f"{cozygen.url}/cozygen/api/backends/pins"
    assert get(pins, headers=people["admin"]).json() == {"pins": []}
    shed = post(f"{cozygen.url}/cozygen/api/backends", {"name": "shed", "url": plain.url}, headers=people["admin"])
    assert shed.status == 201, shed.body
    try:
        for workflow, backend in (("sub/blur.json", "attic"), ("b.json", "local"), ("a.json", "shed")):
            pinned = request("PUT", f"{pins}/{workflow}", {"backend": backend}, headers=people["admin"])
            assert pinned.status == 200, pinned.body
        listed = get(pins, headers=people["admin"]).json()["pins"]
        assert listed == [
            {"workflow": "a.json", "backend": shed.json()["id"], "name": "shed"},
            {"workflow": "b.json", "backend": "local", "name": "local"},
            {"workflow": "sub/blur.json", "backend": added["id"], "name": "attic"},
        ]
        moved = request("PUT", f"{pins}/b.json", {"backend": "attic"}, headers=people["admin"])
        assert {p["workflow"]: p["name"] for p in moved.json()["pins"]}["b.json"] == "attic"
        unknown = request("PUT", f"{pins}/b.json", {"backend": "nowhere"}, headers=people["admin"])
        assert unknown.status == 404 and unknown.json()["code"] == "BACKEND_NOT_FOUND"
        gone = request("DELETE", f"{pins}/sub/blur.json", headers=people["admin"])
        assert [p["workflow"] for p in gone.json()["pins"]] == ["a.json", "b.json"]
    finally:
        assert request("DELETE", f"{cozygen.url}/cozygen/api/backends/shed", headers=people["admin"]).status == 200
    assert get(pins, headers=people["admin"]).json()["pins"] == [  # shed's pin went with it
        {"workflow": "b.json", "backend": added["id"], "name": "attic"}
    ]
    request("DELETE", f"{pins}/b.json", headers=people["admin"])
    audit = get(f"{cozygen.url}/cozygen/api/audit?limit=200", headers=people["admin"]).json()["entries"]
    actions = {(r["action"], r["target"]) for r in audit}
    assert ("backend.pin", "sub/blur.json") in actions and ("backend.pin", "b.json") in actions


def test_every_change_and_test_is_audited_without_the_secret(cozygen, people, added) -> None:
    rows = get(f"{cozygen.url}/cozygen/api/audit?limit=200", headers=people["admin"])
    assert rows.status == 200 and TOKEN.encode() not in rows.body
    actions = {(r["action"], r["target"]) for r in rows.json()["entries"]}
    assert ("backend.create", "attic") in actions and ("backend.update", "attic") in actions
    assert ("backend.test", "attic") in actions and ("profile.models.sync", added["id"]) in actions


def test_a_backend_that_stops_answering_is_down_then_removed(cozygen, plain, people, added) -> None:
    plain.stop()
    url = f"{cozygen.url}/cozygen/api/backends/{added['id']}"
    states = [post(f"{url}/test", {}, headers=people["admin"]).json() for _ in range(2)]
    assert all(s["ok"] is False for s in states)
    down = get(url, headers=people["admin"]).json()["health"]
    assert down["state"] == "down" and down["error"] and down["down_since"]
    health = get(f"{cozygen.url}/cozygen/api/health", headers=people["vic"]).json()
    assert {b["name"]: b["state"] for b in health["backends"]}["attic"] == "down"
    removed = request("DELETE", url, headers=people["admin"])
    assert removed.status == 200 and removed.json()["deleted"] == added["id"]
    assert get(url, headers=people["admin"]).status == 404
    assert [b["id"] for b in backends(cozygen, people)] == ["local"]
