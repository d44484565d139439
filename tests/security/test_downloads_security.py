"""Model downloads under attack, on a ComfyUI of their own (auth on) fetching from the real model server: no one but
an admin reaches a download or model-changing route, no download reaches the LAN (a private address, a redirect
into loopback, an HF "CDN" on the LAN) unless allowlisted, no name lands outside the model folders, and the Hugging
Face token and Civitai key are never in an answer nor sent past their own host.

The model server listens on 127.0.0.1 and 127.0.0.2. ComfyUI's HF_ENDPOINT names it ``localhost`` (an operator's
endpoint is trusted as a host and, by that name, as a private address: core/models/netguard.py); its "CDN" is
127.0.0.2, the one allowlisted private address. 127.0.0.1 is an allowed host but not an allowed address: anything
reaching it (ComfyUI itself listens there) must be refused.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from model_server import MIB, ModelServer
from support import AUTH_ENV, StreamEvents, get, household, post, request, until

HF_TOKEN, CIVITAI_KEY = "hf_SECRETtoken1234567890", "civitai-SECRETkey0987654321"
ADMIN_ROUTES = [
    ("GET", "/cozygen/api/downloads", None),
    (
        "POST",
        "/cozygen/api/downloads",
        {"source": {"hf": {"repo": "sec/x", "file": "x.safetensors"}}, "folder": "loras"},
    ),
    ("POST", "/cozygen/api/downloads/missing", {"workflow": "sd15_txt2img.json"}),
    ("GET", "/cozygen/api/downloads/0123abcd", None),
    ("POST", "/cozygen/api/downloads/0123abcd/cancel", None),
    ("GET", "/cozygen/api/downloads/0123abcd/events", None),
    (
        "PUT",
        "/cozygen/api/models/sources",
        {"folder": "loras", "name": "x.safetensors", "source": "https://huggingface.co/a/b/resolve/main/x.safetensors"},
    ),
    ("DELETE", "/cozygen/api/models/sources", {"folder": "loras", "name": "x.safetensors"}),
    ("DELETE", "/cozygen/api/models/library", {"folder": "loras", "name": "kept.safetensors"}),
    ("GET", "/cozygen/api/models/trash", None),
    ("POST", "/cozygen/api/models/trash/0123456789abcdef0123456789abcdef/restore", None),
    (
        "POST",
        "/cozygen/compat/aiplayground/api/downloadModel",
        {"data": [{"repo_id": "sec/x/x.safetensors", "type": "lora"}]},
    ),
    ("GET", "/cozygen/compat/aiplayground/api/stopDownloadModel", None),
]


@pytest.fixture(scope="module")
def files() -> Any:
    with ModelServer() as server:
        yield server


@pytest.fixture(scope="module")
def server(start_comfyui, files: ModelServer):
    endpoint = f"http://localhost:{files.port}"
    return start_comfyui("ComfyUI-CozyGen-downloads-sec", env={**AUTH_ENV, "HF_ENDPOINT": endpoint})


@pytest.fixture(scope="module")
def people(server) -> dict[str, dict[str, str]]:
    found = household(server.url, {"alice": "user", "vera": "viewer"})
    settings = {
        "download_hosts": "huggingface.co civitai.com 127.0.0.1 127.0.0.2 169.254.169.254 10.1.2.3",
        "download_private_hosts": "127.0.0.2",
        "hf_token": HF_TOKEN,
        "civitai_api_key": CIVITAI_KEY,
    }
    changed = request("PATCH", f"{server.url}/cozygen/api/settings", settings, headers=found["admin"])
    assert changed.status == 200, changed.body
    return found


def download(server, headers: dict[str, str], body: dict[str, Any]) -> Any:
    return post(f"{server.url}/cozygen/api/downloads", body, headers=headers)


def finished(server, admin: dict[str, str], download_id: str) -> dict[str, Any]:
    found = until(
        lambda: get(f"{server.url}/cozygen/api/downloads/{download_id}", headers=admin).json(),
        lambda v: v["state"] in ("done", "failed", "cancelled"),
        timeout=60,
    )
    assert found["state"] in ("done", "failed", "cancelled"), found
    return found


def refused_or_failed(server, admin: dict[str, str], reply: Any) -> tuple[int, str]:
    """(status, code) of a refused download: at once, or as its failed state (status 0) once it ran."""
    if reply.status == 202:
        failed = finished(server, admin, reply.json()["id"])
        assert failed["state"] == "failed", failed
        return 0, failed["code"]
    return reply.status, reply.json()["code"]


def test_non_admins_are_refused_on_every_admin_route(server, people, files: ModelServer) -> None:
    kept = Path(server.base) / "models" / "loras" / "kept.safetensors"
    kept.parent.mkdir(parents=True, exist_ok=True)
    kept.write_bytes(b"mine")
    before = len(files.requests)
    for who in ("alice", "vera", None):
        headers = people[who] if who else {}
        for method, path, body in ADMIN_ROUTES:
            reply = request(method, f"{server.url}{path}", body, headers=headers)
            assert reply.status == (403 if who else 401), (who, method, path, reply.status, reply.body[:200])
            assert reply.json()["code"] == ("ROLE_REQUIRED" if who else "UNAUTHORIZED"), reply.body
    assert kept.read_bytes() == b"mine"
    assert len(files.requests) == before  # nothing reached out
    # what viewers may do: browse and ask what is there
    for method, path, body in [
        ("GET", "/cozygen/api/models/library?folder=loras", None),
        (
            "POST",
            "/cozygen/compat/aiplayground/api/checkModelAlreadyLoaded",
            {"data": {"repo": "a/b", "filename": "kept.safetensors"}},
        ),
    ]:
        assert request(method, f"{server.url}{path}", body, headers=people["vera"]).status == 200, path


def test_a_private_address_is_refused_without_the_allowlist(server, people, files: ModelServer) -> None:
    admin = people["admin"]
    files.add_file("secret.safetensors", MIB)
    lan = [
        files.file_url("secret.safetensors"),  # an allowed host whose address is loopback
        "http://169.254.169.254/latest/meta-data/x.safetensors",  # link-local: a cloud's metadata service
        "http://10.1.2.3/x.safetensors",  # the LAN
    ]
    for url in lan:
        reply = download(server, admin, {"source": url, "folder": "loras", "name": "lan.safetensors"})
        assert (reply.status, reply.json()["code"]) == (403, "ADDRESS_NOT_ALLOWED"), (url, reply.body)
    for url in [
        f"http://[::1]:{files.port}/files/secret.safetensors",
        f"http://[::ffff:127.0.0.1]:{files.port}/files/secret.safetensors",  # loopback dressed as IPv6
        f"http://0x7f000001:{files.port}/files/secret.safetensors",
        f"http://2130706433:{files.port}/files/secret.safetensors",
    ]:
        reply = download(server, admin, {"source": url, "folder": "loras", "name": "lan.safetensors"})
        assert reply.status in (400, 403), (url, reply.body)  # not an allowed host, or no URL at all
    assert files.count("/files/secret.safetensors") == 0
    assert not (Path(server.base) / "models" / "loras" / "lan.safetensors").exists()


def test_a_redirect_into_loopback_is_refused(server, people, files: ModelServer) -> None:
    admin = people["admin"]
    files.add_file("inner.safetensors", MIB)
    inner = files.file_url("inner.safetensors")
    for n, target in enumerate([inner, f"{server.url}/cozygen/api/settings"]):  # a LAN file, and ComfyUI itself
        files.add_file(f"hop-{n}.safetensors", MIB, redirect=target)
        start = f"http://127.0.0.2:{files.port}/files/hop-{n}.safetensors"  # allowlisted: the redirect is not
        reply = download(server, admin, {"source": start, "folder": "loras", "name": f"hop-{n}.safetensors"})
        assert refused_or_failed(server, admin, reply) == (0, "ADDRESS_NOT_ALLOWED"), reply.body
        assert files.count(f"/files/hop-{n}.safetensors") == 1

    files.hf_file("sec/lan-cdn", "model.safetensors", MIB, redirect=inner)  # an HF "CDN" on the LAN
    reply = download(
        server,
        admin,
        {
            "source": {"hf": {"repo": "sec/lan-cdn", "file": "model.safetensors"}},
            "folder": "loras",
            "name": "lan-cdn.safetensors",
        },
    )
    assert refused_or_failed(server, admin, reply)[1] == "ADDRESS_NOT_ALLOWED", reply.body
    assert files.count("/files/inner.safetensors") == 0


BAD_NAMES = [
    "../escape.safetensors",
    "sub/../../escape.safetensors",
    "/tmp/escape.safetensors",
    "..\\escape.safetensors",
    ".hidden.safetensors",
    "escape.py",
    "notes.txt",
    "escape.safetensors\x00.txt",
    "",
]


def test_traversal_and_non_model_names_are_refused(server, people, files: ModelServer, tmp_path: Path) -> None:
    admin = people["admin"]
    files.add_file("named.safetensors", MIB)
    url = f"http://127.0.0.2:{files.port}/files/named.safetensors"  # a source that would download
    for name in BAD_NAMES:
        if name:  # no name: the file's own
            reply = download(server, admin, {"source": url, "folder": "loras", "name": name})
            assert (reply.status, reply.json()["code"]) == (400, "INVALID_MODEL_NAME"), (name, reply.body)
        recorded = request(
            "PUT",
            f"{server.url}/cozygen/api/models/sources",
            {"folder": "loras", "name": name, "source": url},
            headers=admin,
        )
        assert recorded.status == 400, (name, recorded.body)
        deleted = request(
            "DELETE", f"{server.url}/cozygen/api/models/library", {"folder": "loras", "name": name}, headers=admin
        )
        # a hidden name is a name (nothing of the kind is listed); the others are no model's name
        wanted = (404, "MODEL_NOT_FOUND") if name == ".hidden.safetensors" else (400, "INVALID_MODEL_NAME")
        assert (deleted.status, deleted.json()["code"]) == wanted, (name, deleted.body)
        preview = get(
            f"{server.url}/cozygen/api/models/preview?{urlencode({'folder': 'loras', 'name': name})}", headers=admin
        )
        assert preview.status == wanted[0], (name, preview.body)
    for folder in ("../../etc", "output", "custom_nodes", "configs"):
        reply = download(server, admin, {"source": url, "folder": folder, "name": "x.safetensors"})
        assert (reply.status, reply.json()["code"]) == (400, "UNKNOWN_FOLDER"), (folder, reply.body)

    outside = tmp_path / "outside"
    outside.mkdir()
    link = Path(server.base) / "models" / "loras" / "link"
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(outside, target_is_directory=True)
    reply = download(server, admin, {"source": url, "folder": "loras", "name": "link/escape.safetensors"})
    assert (reply.status, reply.json()["code"]) == (400, "INVALID_MODEL_NAME"), reply.body
    aipg = post(
        f"{server.url}/cozygen/compat/aiplayground/api/downloadModel",
        {"data": [{"repo_id": "sec/x/../../escape.safetensors", "type": "lora"}]},
        headers=admin,
    )
    assert aipg.status == 400, aipg.body
    assert files.count("/files/named.safetensors") == 0
    escaped = [p for p in Path(server.base).rglob("escape*")] + list(outside.iterdir())
    assert escaped == []


def test_the_tokens_are_never_in_an_answer_nor_past_their_host(server, people, files: ModelServer) -> None:
    admin = people["admin"]
    answers: list[bytes] = []

    def seen(reply: Any) -> Any:
        answers.append(reply.body)
        return reply

    settings = seen(get(f"{server.url}/cozygen/api/settings", headers=admin)).json()["settings"]
    assert settings["hf_token_set"] is True and settings["civitai_api_key_set"] is True
    sha = files.hf_file("sec/gated", "gated.safetensors", 2 * MIB, token=HF_TOKEN)
    body = {"source": {"hf": {"repo": "sec/gated", "file": "gated.safetensors"}}, "folder": "loras"}
    with StreamEvents(server.url, admin, "/cozygen/api/events?workflows=1") as app:
        queued = seen(download(server, admin, body))
        assert queued.status == 202, queued.body
        done = finished(server, admin, queued.json()["id"])
        assert (done["state"], done["sha256"]) == ("done", sha)
        until(lambda: app.named("download.changed"), lambda es: any(e["state"] == "done" for e in es))
        streamed = json.dumps(app.events).encode()
    answers.append(streamed)
    seen(get(f"{server.url}/cozygen/api/downloads/{queued.json()['id']}/events", headers=admin))
    seen(get(f"{server.url}/cozygen/api/downloads", headers=admin))
    seen(get(f"{server.url}/cozygen/api/models/library?folder=loras", headers=admin))

    files.hf_file("sec/other-gated", "x.safetensors", MIB, token="another-token")  # the stored token is wrong here
    gated = seen(
        download(
            server, admin, {"source": {"hf": {"repo": "sec/other-gated", "file": "x.safetensors"}}, "folder": "loras"}
        )
    )
    assert (gated.status, gated.json()["code"]) == (403, "MODEL_GATED"), gated.body
    with_key = seen(
        download(server, admin, {"source": f"{files.url}/files/x.safetensors?token={HF_TOKEN}", "folder": "loras"})
    )
    assert (with_key.status, with_key.json()["code"]) == (400, "INVALID_SOURCE")
    seen(
        post(
            f"{server.url}/cozygen/compat/aiplayground/api/downloadModel",
            {"data": [{"repo_id": "sec/other-gated/x.safetensors", "type": "lora"}]},
            headers=admin,
        )
    )

    for answer in answers:
        assert HF_TOKEN.encode() not in answer and CIVITAI_KEY.encode() not in answer, answer[:300]
    resolve = [s for s in files.seen("/sec/gated/resolve/main/gated.safetensors")]
    assert resolve and all(s.headers.get("authorization") == f"Bearer {HF_TOKEN}" for s in resolve)
    cdn = files.seen(f"/cdn/{sha}")
    assert cdn and all("authorization" not in s.headers for s in cdn)  # the CDN is another host: no token
    assert all(CIVITAI_KEY not in json.dumps(s.headers) for s in files.requests)  # not civitai.com: never sent
    log = server.log()
    assert HF_TOKEN not in log and CIVITAI_KEY not in log


def test_download_events_and_sources_are_for_admins(server, people, files: ModelServer) -> None:
    admin, alice, vera = people["admin"], people["alice"], people["vera"]
    files.add_file("quiet.safetensors", MIB)
    with (
        StreamEvents(server.url, admin, "/cozygen/api/events?workflows=1") as admins,
        StreamEvents(server.url, alice, "/cozygen/api/events?workflows=1") as alices,
    ):
        reply = download(
            server, admin, {"source": f"http://127.0.0.2:{files.port}/files/quiet.safetensors", "folder": "loras"}
        )
        assert reply.status == 202, reply.body
        until(lambda: admins.named("download.changed"), lambda es: any(e["state"] == "done" for e in es))
        # a workflow saved now reaches alice after every download event published before it
        saved = post(
            f"{server.url}/cozygen/workflows/alice-marker.json",
            {"1": {"class_type": "EmptyImage", "inputs": {"width": 8, "height": 8, "batch_size": 1, "color": 0}}},
            headers=alice,
        )
        assert saved.status == 200, saved.body
        until(lambda: alices.named("workflows.changed"), bool)
    assert alices.named("workflows.changed") and alices.named("download.changed") == []
    sources = post(f"{server.url}/cozygen/api/workflows/sdxl_txt2img.json/check", headers=vera).json()
    assert sources["model_sources"] == [
        {
            "folder": "checkpoints",
            "name": "sd_xl_base_1.0.safetensors",
            "known": True,
            "source": None,
            "sha256": None,
            "download": None,
        }
    ]
    assert os.path.exists(Path(server.base) / "models" / "loras" / "quiet.safetensors")


def test_a_cross_site_link_cannot_stop_downloads(server, people) -> None:
    """AI Playground's stopDownloadModel is a GET that cancels: with a cookie it must come from this origin."""
    token = people["admin"]["Authorization"].split(" ", 1)[1]
    cookie = {"Cookie": f"cozygen_token={token}"}
    path = f"{server.url}/cozygen/compat/aiplayground/api/stopDownloadModel"
    refused = get(path, headers={**cookie, "Sec-Fetch-Site": "cross-site"})
    assert refused.status == 403 and refused.json()["code"] == "CROSS_ORIGIN", refused.body
    assert get(path, headers={**cookie, "Sec-Fetch-Site": "same-origin"}).status == 200
    assert get(path, headers=people["admin"]).status == 200  # a bearer token (the real client) carries no risk
