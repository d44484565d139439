"""Model downloads, the model browser and AI Playground's model routes on a real ComfyUI, fetching from the real
model server (tests/model_server.py): ComfyUI's HF_ENDPOINT points at it, so the real ``huggingface_hub`` resolves
files there, and ``download_private_hosts`` lets downloads reach its loopback addresses.

Each test downloads files of its own names, so none depends on another's; the restart test restarts the module's
ComfyUI and leaves it running.
"""

from __future__ import annotations

import hashlib
import json
import signal
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from model_server import MIB, ModelServer
from support import AUTH_ENV, StreamEvents, get, household, post, request, until

FINAL = ("done", "failed", "cancelled")
FOLDER_DIRS = {"diffusion_models": ("unet", "diffusion_models"), "text_encoders": ("text_encoders", "clip")}


@pytest.fixture(scope="module")
def files() -> Any:
    with ModelServer() as server:
        yield server


@pytest.fixture(scope="module")
def server(start_comfyui, files: ModelServer):
    return start_comfyui("ComfyUI-CozyGen-downloads", env={**AUTH_ENV, "HF_ENDPOINT": files.url})


@pytest.fixture(scope="module")
def people(server) -> dict[str, dict[str, str]]:
    found = household(server.url, {"vera": "viewer"})
    changed = request(
        "PATCH",
        f"{server.url}/cozygen/api/settings",
        {"download_private_hosts": "127.0.0.1 127.0.0.2", "download_hosts": "huggingface.co 127.0.0.1"},
        headers=found["admin"],
    )
    assert changed.status == 200, changed.body
    return found


@pytest.fixture(scope="module")
def admin(people: dict[str, dict[str, str]]) -> dict[str, str]:
    return people["admin"]


def start(server, admin: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
    reply = post(f"{server.url}/cozygen/api/downloads", body, headers=admin)
    assert reply.status == 202, reply.body
    return reply.json()


def view(server, admin: dict[str, str], download_id: str) -> dict[str, Any]:
    reply = get(f"{server.url}/cozygen/api/downloads/{download_id}", headers=admin)
    assert reply.status == 200, reply.body
    return reply.json()


def finished(server, admin: dict[str, str], download_id: str, timeout: float = 60) -> dict[str, Any]:
    found = until(lambda: view(server, admin, download_id), lambda v: v["state"] in FINAL, timeout=timeout)
    assert found["state"] in FINAL, found
    return found


def ended(app: StreamEvents, download_id: str) -> dict[str, Any]:
    """The download's final event on the app's stream (sent once ComfyUI's lists show the model)."""
    final = until(
        lambda: [e for e in app.named("download.changed") if e["id"] == download_id and e["state"] in FINAL],
        bool,
        timeout=60,
    )
    assert final, f"download {download_id} never ended"
    return final[-1]


def model_path(server, folder: str, name: str) -> Path:
    """Where a model of ``folder`` is (or would go: ComfyUI's first directory of that folder)."""
    candidates = [Path(server.base) / "models" / d / name for d in FOLDER_DIRS.get(folder, (folder,))]
    return next((path for path in candidates if path.exists()), candidates[0])


def check(server, headers: dict[str, str], workflow: str) -> dict[str, Any]:
    reply = post(f"{server.url}/cozygen/api/workflows/{workflow}/check", headers=headers)
    assert reply.status == 200, reply.body
    return reply.json()


# -- the two kinds of source ------------------------------------------------------------------------------------
def test_a_hugging_face_file_downloads_with_its_lfs_hash_checked(server, admin, files: ModelServer) -> None:
    sha = files.hf_file("acme/tiny-unet", "unet/tiny.safetensors", 3 * MIB + 11)
    queued = start(
        server,
        admin,
        {"source": {"hf": {"repo": "acme/tiny-unet", "file": "unet/tiny.safetensors"}}, "folder": "diffusion_models"},
    )
    assert (queued["folder"], queued["name"], queued["state"]) == ("diffusion_models", "tiny.safetensors", "queued")
    assert queued["label"] == "acme/tiny-unet/unet/tiny.safetensors"
    done = finished(server, admin, queued["id"])
    assert done["state"] == "done", done
    assert (done["sha256"], done["sha256_expected"], done["done"], done["total"]) == (
        sha,
        sha,
        3 * MIB + 11,
        3 * MIB + 11,
    )
    path = model_path(server, "diffusion_models", "tiny.safetensors")
    assert hashlib.sha256(path.read_bytes()).hexdigest() == sha
    assert not Path(str(path) + ".part").exists()
    assert files.count(f"/cdn/{sha}", "GET") >= 1  # through the resolve redirect to the "CDN" host


def test_a_direct_url_downloads_into_a_subfolder(server, admin, files: ModelServer) -> None:
    sha = files.add_file("direct-lora.safetensors", 2 * MIB)
    queued = start(
        server,
        admin,
        {"source": files.file_url("direct-lora.safetensors"), "folder": "loras", "name": "styles/direct.safetensors"},
    )
    done = finished(server, admin, queued["id"])
    assert (done["state"], done["sha256"], done["source"]) == (
        "done",
        sha,
        {"url": files.file_url("direct-lora.safetensors")},
    )
    assert hashlib.sha256(model_path(server, "loras", "styles/direct.safetensors").read_bytes()).hexdigest() == sha
    listed = get(f"{server.url}/cozygen/api/downloads", headers=admin).json()["downloads"]
    assert queued["id"] in [d["id"] for d in listed]


def test_the_model_appears_in_the_check_and_the_form_once_downloaded(server, admin, files: ModelServer) -> None:
    workflow, name = "sd15_txt2img.json", "v1-5-pruned-emaonly.safetensors"
    before = check(server, admin, workflow)
    assert name in before["missing_models"].get("checkpoints", [])
    suggested = next(s for s in before["model_sources"] if s["name"] == name)
    assert suggested["origin"] == "catalogue" and suggested["download"] is None
    assert suggested["source"]["hf"]["repo"] == "stable-diffusion-v1-5/stable-diffusion-v1-5"

    files.hf_file("acme/sd15-stand-in", "model.safetensors", MIB, hold_at=MIB // 2)  # the real one is 4 GB
    with StreamEvents(server.url, admin, "/cozygen/api/events?workflows=1") as app:
        source = {"hf": {"repo": "acme/sd15-stand-in", "file": "model.safetensors"}}
        queued = start(server, admin, {"source": source, "folder": "checkpoints", "name": name})
        until(lambda: view(server, admin, queued["id"]), lambda v: v["done"] >= MIB // 2, timeout=30)
        during = check(server, admin, workflow)
        line = next(s for s in during["model_sources"] if s["name"] == name)  # missing while it downloads
        assert (line["download"]["id"], line["download"]["state"]) == (queued["id"], "running")
        files.release("acme/sd15-stand-in/model.safetensors")
        assert ended(app, queued["id"])["state"] == "done"  # as the app hears it: then its check sees the model

        after = check(server, admin, workflow)
        assert "checkpoints" not in after["missing_models"], after
        assert all(s["name"] != name for s in after["model_sources"])
    choices = get(f"{server.url}/cozygen/get_choices?type=checkpoints", headers=admin).json()["choices"]
    assert name in choices
    schema = get(f"{server.url}/cozygen/api/workflows/{workflow}/schema", headers=admin).json()
    checkpoint = next(p for p in schema["parameters"] if p["name"] == "checkpoint")
    assert name in checkpoint["choices"]


# -- interruptions --------------------------------------------------------------------------------------------
def test_a_transfer_cut_mid_way_resumes_from_where_it_stopped(server, admin, files: ModelServer) -> None:
    sha = files.add_file("cut.safetensors", 6 * MIB, cut_after=2 * MIB + 5)
    queued = start(server, admin, {"source": files.file_url("cut.safetensors"), "folder": "loras"})
    done = finished(server, admin, queued["id"])
    assert (done["state"], done["sha256"]) == ("done", sha), done
    ranges = [s.headers.get("range") for s in files.seen("/files/cut.safetensors") if s.method == "GET"]
    assert any(r and r.startswith("bytes=") and r != "bytes=0-" for r in ranges), ranges  # resumed, not restarted
    assert hashlib.sha256(model_path(server, "loras", "cut.safetensors").read_bytes()).hexdigest() == sha


def test_a_download_resumes_after_comfyui_is_killed(server, admin, files: ModelServer) -> None:
    sha = files.add_file("restart.safetensors", 8 * MIB, hold_at=3 * MIB)
    queued = start(server, admin, {"source": files.file_url("restart.safetensors"), "folder": "vae"})
    running = until(lambda: view(server, admin, queued["id"]), lambda v: v["done"] >= 3 * MIB, timeout=30)
    assert running["state"] == "running" and running["done"] >= 3 * MIB, running
    part = Path(str(model_path(server, "vae", "restart.safetensors")) + ".part")
    assert part.exists()
    seen_before = len(files.seen("/files/restart.safetensors"))
    server.kill()
    files.release("restart.safetensors")
    server.restart()

    done = finished(server, admin, queued["id"])
    assert (done["state"], done["sha256"]) == ("done", sha), done
    again = [s.headers.get("range") for s in files.seen("/files/restart.safetensors")[seen_before:]]
    assert any(r and int(r.removeprefix("bytes=").split("-")[0]) >= 3 * MIB for r in again), again
    assert hashlib.sha256(model_path(server, "vae", "restart.safetensors").read_bytes()).hexdigest() == sha
    assert not part.exists()


def test_ctrl_c_stops_comfyui_mid_download_and_the_download_resumes(server, admin, files: ModelServer) -> None:
    """A stalled transfer must not hold ComfyUI's exit: SIGINT (Ctrl+C, scripts/start's stop) ends the process at
    once, unkilled, and the download carries on from its .part at the next start."""
    sha = files.add_file("ctrl_c.safetensors", 8 * MIB, hold_at=2 * MIB)
    queued = start(server, admin, {"source": files.file_url("ctrl_c.safetensors"), "folder": "vae"})
    until(lambda: view(server, admin, queued["id"]), lambda v: v["done"] >= 2 * MIB, timeout=30)
    server.process.send_signal(signal.SIGINT)
    assert server.process.wait(timeout=30) == 0, server.log()[-2000:]  # not killed: it left by itself
    files.release("ctrl_c.safetensors")
    server.restart()

    done = finished(server, admin, queued["id"])
    assert (done["state"], done["sha256"]) == ("done", sha), done


def test_a_wrong_hash_deletes_the_file_and_says_so(server, admin, files: ModelServer) -> None:
    real = files.add_file("lying.safetensors", MIB)
    wanted = "0" * 64
    queued = start(server, admin, {"source": files.file_url("lying.safetensors"), "folder": "loras", "sha256": wanted})
    failed = finished(server, admin, queued["id"])
    assert (failed["state"], failed["code"]) == ("failed", "HASH_MISMATCH"), failed
    assert wanted in failed["error"] and real in failed["error"]
    path = model_path(server, "loras", "lying.safetensors")
    assert not path.exists() and not Path(str(path) + ".part").exists()


def test_the_catalogues_hash_is_checked_too(server, admin, files: ModelServer) -> None:
    """sdxl_txt2img.json's model from the shipped catalogue: the stand-in bytes are not SDXL's, so it fails."""
    files.hf_file("stabilityai/stable-diffusion-xl-base-1.0", "sd_xl_base_1.0.safetensors", MIB)
    reply = post(f"{server.url}/cozygen/api/downloads/missing", {"workflow": "sdxl_txt2img.json"}, headers=admin)
    assert reply.status == 200, reply.body
    (queued,) = reply.json()["queued"]
    assert queued["sha256_expected"] == "31e35c80fc4829d14f90153f4c74cd59c90b779f6afe05a74cd6120b893f7e5b"
    failed = finished(server, admin, queued["id"])
    assert (failed["state"], failed["code"]) == ("failed", "HASH_MISMATCH"), failed
    line = next(s for s in check(server, admin, "sdxl_txt2img.json")["model_sources"])
    assert line["download"]["id"] == queued["id"] and line["download"]["state"] == "failed"


def test_a_file_larger_than_the_free_space_is_refused(server, admin, files: ModelServer) -> None:
    sha = files.hf_file("acme/huge", "huge.safetensors", MIB, content_length=1 << 50)  # announces a pebibyte
    reply = post(
        f"{server.url}/cozygen/api/downloads",
        {"source": {"hf": {"repo": "acme/huge", "file": "huge.safetensors"}}, "folder": "checkpoints"},
        headers=admin,
    )
    if reply.status == 507:  # refused at once: the size was known
        assert reply.json()["code"] == "NOT_ENOUGH_DISK_SPACE" and reply.json()["need"] > reply.json()["free"]
    else:
        assert reply.status == 202, reply.body
        failed = finished(server, admin, reply.json()["id"])
        assert (failed["state"], failed["code"]) == ("failed", "NOT_ENOUGH_DISK_SPACE"), failed
    assert files.count(f"/cdn/{sha}", "GET") == 0  # nothing was fetched
    assert not model_path(server, "checkpoints", "huge.safetensors").exists()


def test_cancel_stops_a_running_download_and_deletes_its_part(server, admin, files: ModelServer) -> None:
    files.add_file("cancel.safetensors", 4 * MIB, hold_at=MIB)
    queued = start(server, admin, {"source": files.file_url("cancel.safetensors"), "folder": "loras"})
    until(lambda: view(server, admin, queued["id"]), lambda v: v["done"] >= MIB, timeout=30)
    cancelled = post(f"{server.url}/cozygen/api/downloads/{queued['id']}/cancel", headers=admin)
    assert cancelled.status == 200, cancelled.body
    final = finished(server, admin, queued["id"])
    assert final["state"] == "cancelled", final
    path = model_path(server, "loras", "cancel.safetensors")
    assert not path.exists() and not Path(str(path) + ".part").exists()
    again = post(f"{server.url}/cozygen/api/downloads/{queued['id']}/cancel", headers=admin)
    assert (again.status, again.json()["code"]) == (409, "DOWNLOAD_FINISHED")
    files.release("cancel.safetensors")


def test_two_downloads_run_at_once(server, admin, files: ModelServer) -> None:
    shas = [files.add_file(f"pair-{n}.safetensors", 2 * MIB, hold_at=MIB) for n in (1, 2)]
    ids = [
        start(server, admin, {"source": files.file_url(f"pair-{n}.safetensors"), "folder": "loras"})["id"]
        for n in (1, 2)
    ]
    both = until(
        lambda: [view(server, admin, i) for i in ids], lambda vs: all(v["done"] >= MIB for v in vs), timeout=30
    )
    assert [v["state"] for v in both] == ["running", "running"], both  # both held mid-file at the same time
    for n in (1, 2):
        files.release(f"pair-{n}.safetensors")
    assert [finished(server, admin, i)["sha256"] for i in ids] == shas


def test_missing_fetches_every_model_a_workflow_lacks(server, admin, files: ModelServer) -> None:
    """flux_txt2img.json lacks four models; the admin records a source for each (recorded sources win over the
    catalogue, whose hashes the stand-ins would not match), then fetches them all with one call."""
    lacking = check(server, admin, "flux_txt2img.json")["missing_models"]
    wanted = [(folder, name) for folder, names in lacking.items() for name in names]
    assert len(wanted) == 4, lacking
    for n, (folder, name) in enumerate(wanted):
        files.add_file(f"flux-{n}.safetensors", MIB // 2 + n)
        recorded = request(
            "PUT",
            f"{server.url}/cozygen/api/models/sources",
            {"folder": folder, "name": name, "source": files.file_url(f"flux-{n}.safetensors")},
            headers=admin,
        )
        assert recorded.status == 200, recorded.body
    sources = check(server, admin, "flux_txt2img.json")["model_sources"]
    assert sorted((s["folder"], s["name"], s["origin"]) for s in sources) == sorted(
        (f, n, "recorded") for f, n in wanted
    )
    with StreamEvents(server.url, admin, "/cozygen/api/events?workflows=1") as app:
        reply = post(f"{server.url}/cozygen/api/downloads/missing", {"workflow": "flux_txt2img.json"}, headers=admin)
        assert reply.status == 200, reply.body
        answer = reply.json()
        assert (len(answer["queued"]), answer["unknown"], answer["refused"]) == (4, [], []), answer
        again = post(f"{server.url}/cozygen/api/downloads/missing", {"workflow": "flux_txt2img.json"}, headers=admin)
        assert len(again.json()["queued"]) + len(again.json()["already"]) <= 4  # never twice at once
        assert [ended(app, queued["id"])["state"] for queued in answer["queued"]] == ["done"] * 4
        assert check(server, admin, "flux_txt2img.json")["missing_models"] == {}


def test_an_unknown_source_is_reported_not_queued(server, admin) -> None:
    graph = {"1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "nobody-knows.safetensors"}}}
    reply = post(f"{server.url}/cozygen/api/downloads/missing", {"graph": graph}, headers=admin)
    assert reply.status == 200, reply.body
    assert reply.json() == {
        "queued": [],
        "unknown": [{"folder": "checkpoints", "name": "nobody-knows.safetensors"}],
        "already": [],
        "refused": [],
    }


# -- events -----------------------------------------------------------------------------------------------------
def test_progress_reaches_the_download_stream_and_the_apps_stream(server, admin, files: ModelServer) -> None:
    sha = files.add_file("events.safetensors", 3 * MIB, hold_at=MIB)
    with StreamEvents(server.url, admin, "/cozygen/api/events?workflows=1") as app:
        queued = start(server, admin, {"source": files.file_url("events.safetensors"), "folder": "loras"})
        until(lambda: view(server, admin, queued["id"]), lambda v: v["done"] >= MIB, timeout=30)
        files.release("events.safetensors")
        reply = get(f"{server.url}/cozygen/api/downloads/{queued['id']}/events", headers=admin)  # ends with it
        ours = until(
            lambda: [e for e in app.named("download.changed") if e["id"] == queued["id"]],
            lambda es: any(e["state"] == "done" for e in es),
        )
    assert reply.status == 200 and reply.content_type == "text/event-stream"
    streamed = [json.loads(line[6:]) for line in reply.body.decode().splitlines() if line.startswith("data: ")]
    assert streamed and streamed[-1]["state"] == "done" and streamed[-1]["sha256"] == sha
    assert "event: download.changed" in reply.body.decode()
    assert [e["state"] for e in ours][-1] == "done"
    assert {e["state"] for e in ours} >= {"running", "done"}


# -- the model browser ------------------------------------------------------------------------------------------
def test_the_browser_lists_hashes_previews_deletes_and_restores(server, people, files: ModelServer) -> None:
    admin, vera = people["admin"], people["vera"]
    sha = files.add_file("browse.safetensors", MIB + 3)
    queued = start(
        server,
        admin,
        {"source": files.file_url("browse.safetensors"), "folder": "loras", "name": "browse/browse.safetensors"},
    )
    assert finished(server, admin, queued["id"])["state"] == "done"
    path = model_path(server, "loras", "browse/browse.safetensors")
    (path.parent / "browse.preview.png").write_bytes(b"\x89PNG\r\n\x1a\n preview")

    def listed() -> dict[str, Any]:
        query = urlencode({"folder": "loras", "q": "BROWSE"})
        reply = get(f"{server.url}/cozygen/api/models/library?{query}", headers=vera)  # viewers browse
        assert reply.status == 200, reply.body
        return reply.json()

    found = until(listed, lambda f: f["models"] and f["models"][0]["sha256"] is not None, timeout=30)
    assert found["total"] == 1
    assert {k: found["models"][0][k] for k in ("folder", "name", "size", "sha256", "preview", "pickle")} == {
        "folder": "loras",
        "name": "browse/browse.safetensors",
        "size": MIB + 3,
        "sha256": sha,
        "preview": True,
        "pickle": False,
    }
    assert {f["name"]: f["count"] for f in found["folders"]}["loras"] >= 1
    target = {"folder": "loras", "name": "browse/browse.safetensors"}
    preview = get(f"{server.url}/cozygen/api/models/preview?{urlencode(target)}", headers=vera)
    assert (preview.status, preview.body) == (200, b"\x89PNG\r\n\x1a\n preview")

    refused = request("DELETE", f"{server.url}/cozygen/api/models/library", target, headers=vera)
    assert refused.status == 403
    deleted = request("DELETE", f"{server.url}/cozygen/api/models/library", target, headers=admin)
    assert deleted.status == 200, deleted.body
    trashed = deleted.json()["trashed"]
    assert not path.exists() and not (path.parent / "browse.preview.png").exists()
    assert until(listed, lambda f: f["total"] == 0)["total"] == 0
    assert (
        "browse/browse.safetensors"
        not in get(f"{server.url}/cozygen/get_choices?type=loras", headers=admin).json()["choices"]
    )
    trash = get(f"{server.url}/cozygen/api/models/trash", headers=admin).json()["trash"]
    assert trashed["id"] in [t["id"] for t in trash]

    restored = post(f"{server.url}/cozygen/api/models/trash/{trashed['id']}/restore", headers=admin)
    assert restored.status == 200, restored.body
    assert path.read_bytes() == model_path(server, "loras", "browse/browse.safetensors").read_bytes()
    assert hashlib.sha256(path.read_bytes()).hexdigest() == sha and (path.parent / "browse.preview.png").exists()
    assert until(listed, lambda f: f["total"] == 1)["models"][0]["sha256"] == sha  # the cached hash holds
    twice = post(f"{server.url}/cozygen/api/models/trash/{trashed['id']}/restore", headers=admin)
    assert (twice.status, twice.json()["code"]) == (404, "TRASH_NOT_FOUND")


# -- AI Playground ----------------------------------------------------------------------------------------------
AIPG = "/cozygen/compat/aiplayground/api"


def nul_events(body: bytes) -> list[dict[str, Any]]:
    """What AI Playground's real client reads: the body split on NUL, each piece ``data:{json}``."""
    pieces = [p for p in body.split(b"\0") if p.strip()]
    assert all(p.startswith(b"data:") for p in pieces), body[:200]
    return [json.loads(p[5:]) for p in pieces]


def sse_events(body: bytes) -> list[dict[str, Any]]:
    assert b"\0" not in body
    return [json.loads(line[6:]) for line in body.decode().split("\n") if line.startswith("data: ")]


def test_ai_playgrounds_real_client_downloads_with_nul_framing(server, admin, files: ModelServer) -> None:
    sha = files.hf_file("aipg/models", "sub/aipg-real.safetensors", 2 * MIB, throttle=8 * MIB)
    body = {"data": [{"repo_id": "aipg/models/sub/aipg-real.safetensors", "type": 1, "backend": "comfyui"}]}
    loaded = post(f"{server.url}{AIPG}/checkModelAlreadyLoaded", body, headers=admin)
    assert loaded.json()["data"] == [
        {"repo_id": "aipg/models/sub/aipg-real.safetensors", "type": 1, "backend": "comfyui", "already_loaded": False}
    ]
    reply = post(f"{server.url}{AIPG}/downloadModel", body, headers=admin)  # no Accept: the real client
    assert reply.status == 200 and reply.content_type == "text/event-stream"
    events = nul_events(reply.body)
    assert [e["type"] for e in events][-2:] == ["download_model_completed", "allComplete"], events
    completed = events[-2]
    assert completed == {
        "type": "download_model_completed",
        "repo_id": "aipg/models/sub/aipg-real.safetensors",
        "status": "complete",
        "path": "checkpoints/aipg-real.safetensors",
    }
    for event in events[:-2]:
        assert event["type"] == "download_model_progress"
        assert set(event) >= {"repo_id", "download_size", "total_size", "percent", "speed", "status", "progress"}
    assert hashlib.sha256(model_path(server, "checkpoints", "aipg-real.safetensors").read_bytes()).hexdigest() == sha
    loaded = post(f"{server.url}{AIPG}/checkModelAlreadyLoaded", body, headers=admin)
    assert loaded.json() == {
        "code": 0,
        "message": "success",
        "data": [
            {
                "repo_id": "aipg/models/sub/aipg-real.safetensors",
                "type": 1,
                "backend": "comfyui",
                "already_loaded": True,
            }
        ],
    }


def test_ai_playgrounds_seed_shape_with_sse_framing(server, people, files: ModelServer) -> None:
    admin = people["admin"]
    files.hf_file("aipg/seed", "aipg-seed.safetensors", MIB)
    body = {
        "data": {"repo": "aipg/seed", "filename": "aipg-seed.safetensors", "type": "lora", "destination": "loras/aipg"}
    }
    reply = post(f"{server.url}{AIPG}/downloadModel", body, headers={**admin, "Accept": "text/event-stream"})
    assert reply.status == 200, reply.body
    events = sse_events(reply.body)
    assert events[-2:] == [
        {
            "type": "download_model_completed",
            "repo_id": "aipg/seed/aipg-seed.safetensors",
            "status": "complete",
            "path": "loras/aipg/aipg-seed.safetensors",
        },
        {"type": "allComplete"},
    ]
    check_body = {"data": {"repo": "aipg/seed", "filename": "aipg-seed.safetensors"}}
    loaded = post(f"{server.url}{AIPG}/checkModelAlreadyLoaded", check_body, headers=people["vera"])
    assert loaded.json() == {
        "code": 0,
        "message": "success",
        "data": {"loaded": True, "path": "loras/aipg/aipg-seed.safetensors", "in_memory": None},
    }
    again = post(f"{server.url}{AIPG}/downloadModel", body, headers=admin)  # there already: completed at once
    assert [e["type"] for e in nul_events(again.body)] == ["download_model_completed", "allComplete"]


def test_ai_playground_hears_not_enough_disk_space(server, admin, files: ModelServer) -> None:
    files.hf_file("aipg/huge", "huge.safetensors", MIB, content_length=1 << 50)
    body = {"data": [{"repo_id": "aipg/huge/huge.safetensors", "type": "checkpoint", "backend": "comfyui"}]}
    for accept, read in (({}, nul_events), ({"Accept": "text/event-stream"}, sse_events)):
        reply = post(f"{server.url}{AIPG}/downloadModel", body, headers={**admin, **accept})
        assert reply.status == 200, reply.body
        (error,) = [e for e in read(reply.body) if e["type"] == "error"]
        assert error["err_type"] == "not_enough_disk_space", error
        assert error["code"] == "NOT_ENOUGH_DISK_SPACE" and error["requires_space"] == error["need"] == "1024.0TB"
        assert error["free_space"] == error["free"] and error["free"].endswith("B")
        assert not any(e["type"] == "allComplete" for e in read(reply.body))


def test_stop_download_model_cancels_what_the_mount_started(server, admin, files: ModelServer) -> None:
    files.hf_file("aipg/stop", "stop.safetensors", 4 * MIB, hold_at=MIB)
    body = {"data": [{"repo_id": "aipg/stop/stop.safetensors", "type": "lora", "backend": "comfyui"}]}
    answers: list[Any] = []
    stream = threading.Thread(
        target=lambda: answers.append(post(f"{server.url}{AIPG}/downloadModel", body, headers=admin))
    )
    stream.start()
    running = until(
        lambda: get(f"{server.url}/cozygen/api/downloads", headers=admin).json()["downloads"],
        lambda ds: any(d["name"] == "stop.safetensors" and d["done"] >= MIB for d in ds),
    )
    ours = next(d for d in running if d["name"] == "stop.safetensors")
    stopped = get(f"{server.url}{AIPG}/stopDownloadModel", headers=admin)
    assert stopped.json() == {"code": 0, "message": "success"}
    assert finished(server, admin, ours["id"])["state"] == "cancelled"
    stream.join(30)
    (error,) = [e for e in nul_events(answers[0].body) if e["type"] == "error"]
    assert error["code"] == "CANCELLED"
    files.release("aipg/stop/stop.safetensors")
