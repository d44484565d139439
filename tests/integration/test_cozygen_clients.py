"""The real front ends of CozyGen (seed 004), replayed against a real ComfyUI with CozyGen, auth on and outputs per
user: rusticchamplain/NeonCozyGen (the "neon" fork, the contract's source) and gsusgg/ComfyUI_CozyGen (the
original).

Each test sends the requests the front end's own source sends (method, path, headers, body), with only the base URL
changed, and asserts every field that front end reads, with the type it expects. Where each request comes from:
  NeonCozyGen  js/src/services/api.js (every call: ``Authorization: Bearer <token>`` from localStorage, JSON bodies),
               features/auth/hooks/useAuth.jsx (login, auth_status), features/workflow/hooks/useWorkflowForm.js
               (workflow load, get_choices of Choice and DROPDOWN nodes), utils/workflowGraph.js (value injection),
               hooks/useExecutionQueue.js (prompt_raw when a field holds an $alias$, then /prompt with the same
               client-made prompt_id), features/gallery/hooks/useGallery.js (gallery with include_meta),
               components/MediaViewerModal.jsx (gallery/prompt, delete), features/tags/components/TagLibrarySheet.jsx
               (tag categories and search, opened with an empty q), pages/WorkflowControlsPage.jsx (presets)
  gsusgg       js/src/api.js and pages/MainPage.jsx, pages/Gallery.jsx: plain ``fetch`` with no header of its own
               (so the session cookie a browser sends), ``/cozygen/gallery`` for the listing, ``/prompt`` with only
               ``{prompt}``
None of their code is copied here; the requests are rewritten from reading it.
"""

from __future__ import annotations

import time
import uuid
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from support import get, post, request

ADMIN, ADMIN_PASSWORD = "admin", "correct horse battery"
CLASSIC = "cozygen_procedural_form.classic.json"
INPUT_NODES = (  # the classes both front ends look for (COZYGEN_INPUT_TYPES)
    "CozyGenDynamicInput",
    "CozyGenImageInput",
    "CozyGenFloatInput",
    "CozyGenIntInput",
    "CozyGenStringInput",
    "CozyGenChoiceInput",
)
PNG = b"\x89PNG\r\n\x1a\n"
FETCH = {"Accept": "*/*"}  # what a browser's fetch() sends as Accept when the script names none


@pytest.fixture(scope="module")
def server(start_comfyui):
    return start_comfyui(
        "ComfyUI-CozyGen-cozygen-clients",
        env={"COZYGEN_AUTH": "on", "COZYGEN_ADMIN_USER": ADMIN, "COZYGEN_ADMIN_PASSWORD": ADMIN_PASSWORD},
    )


def login(server, username: str, password: str):
    # api.js login(): jpost('/cozygen/api/login', {username, password}); useAuth reads token, user,
    # default_credentials
    return post(f"{server.url}/cozygen/api/login", {"username": username, "password": password}, headers=FETCH)


@pytest.fixture(scope="module")
def tokens(server) -> dict[str, str]:
    """Session tokens of the admin, two users and a viewer; outputs are per user."""
    found = {"admin": login(server, ADMIN, ADMIN_PASSWORD).json()["token"]}
    for name, role in (("ann", "user"), ("bob", "user"), ("vic", "viewer")):
        made = post(
            f"{server.url}/cozygen/api/users",
            {"username": name, "password": f"{name}-pass-123", "role": role},
            headers=bearer(found["admin"]),
        )
        assert made.status == 201, made.body
        found[name] = login(server, name, f"{name}-pass-123").json()["token"]
    changed = request(
        "PATCH",
        f"{server.url}/cozygen/api/settings",
        {"gallery_visibility": "per_user"},
        headers=bearer(found["admin"]),
    )
    assert changed.status == 200, changed.body
    return found


def bearer(token: str) -> dict[str, str]:
    """authHeaders(): the token kept in localStorage, as NeonCozyGen sends it on every call."""
    return {"Authorization": f"Bearer {token}", **FETCH}


def cookie(server, token: str, *, state_change: bool = False) -> dict[str, str]:
    """What a browser adds to the original app's bare fetch(): the session cookie (and, on a POST, its Origin)."""
    headers = {"Cookie": f"cozygen_token={token}", **FETCH}
    return {**headers, "Origin": server.url, "Sec-Fetch-Site": "same-origin"} if state_change else headers


def is_text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def ok(reply, status: int = 200) -> Any:
    assert reply.status == status, reply.body
    assert reply.content_type == "application/json", reply.headers
    return reply.json()


def load_workflow(server, headers: dict[str, str], name: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """useWorkflowForm: GET /cozygen/workflows/{encodeURIComponent(name)}, then every node whose class_type is an
    input class, with its id, sorted by inputs.priority (MainPage.jsx does the same)."""
    graph = ok(get(f"{server.url}/cozygen/workflows/{quote(name, safe='')}", headers=headers))
    assert isinstance(graph, dict) and graph
    for node_id, node in graph.items():
        assert isinstance(node["class_type"], str) and isinstance(node["inputs"], dict)
        node["id"] = node_id  # the client adds it (and sends it back with the graph)
    inputs = [node for node in graph.values() if node["class_type"] in INPUT_NODES]
    return graph, sorted(inputs, key=lambda n: n["inputs"].get("priority") or 0)


def inject(graph: dict[str, Any], inputs: list[dict[str, Any]], form: dict[str, Any]) -> dict[str, Any]:
    """workflowGraph.injectFormValues (contract §11 "Value injection"): the form's value, by param_name, into
    default_value (Float, Int, String, Dynamic) or value (Choice)."""
    final = {node_id: {**node, "inputs": dict(node["inputs"])} for node_id, node in graph.items()}
    for node in inputs:
        target = final[node["id"]]["inputs"]
        value = form.get(node["inputs"]["param_name"])
        if node["class_type"] in ("CozyGenFloatInput", "CozyGenIntInput", "CozyGenStringInput", "CozyGenDynamicInput"):
            target["default_value"] = node["inputs"]["default_value"] if value is None else value
        elif node["class_type"] == "CozyGenChoiceInput":
            target["value"] = value if value is not None else node["inputs"].get("value", "")
    return final


def initial_form(inputs: list[dict[str, Any]]) -> dict[str, Any]:
    """useWorkflowForm's initialForm: default_value, parseInt for Int, parseFloat for Float."""
    form: dict[str, Any] = {}
    for node in inputs:
        default = node["inputs"].get("default_value")
        if node["class_type"] == "CozyGenIntInput":
            default = int(default)
        elif node["class_type"] == "CozyGenFloatInput":
            default = float(default)
        form[node["inputs"]["param_name"]] = default
    return form


def wait_for_output(server, headers: dict[str, str], prompt_id: str) -> dict[str, Any]:
    """The image a prompt saved, from ComfyUI's /history/{prompt_id} (the owner's own prompt)."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        reply = get(f"{server.url}/history/{prompt_id}", headers=headers)
        assert reply.status == 200, reply.body
        entry = reply.json().get(prompt_id)
        if entry and entry.get("status", {}).get("completed"):
            images = [image for output in entry["outputs"].values() for image in output.get("images", [])]
            assert images, entry
            return images[0]
        assert not (entry and entry.get("status", {}).get("status_str") == "error"), entry
        time.sleep(0.1)
    raise AssertionError(f"prompt {prompt_id} did not finish")


def gallery_prompt(server, headers: dict[str, str], image: dict[str, Any]):
    # getGalleryPrompt: fetch(`/cozygen/api/gallery/prompt?${filename, subfolder}`); payload.prompt, the optional
    # payload.cozygen_prompt_raw (an object), payload.error when not ok
    query = urlencode({"filename": image["filename"], "subfolder": image["subfolder"]})
    return get(f"{server.url}/cozygen/api/gallery/prompt?{query}", headers=headers)


# --- NeonCozyGen ----------------------------------------------------------------------------------------------------


def test_neon_sign_in_and_auth_status(server, tokens) -> None:
    signed = ok(login(server, "ann", "ann-pass-123"))
    assert is_text(signed["token"]) and signed["user"] == "ann" and isinstance(signed["default_credentials"], bool)
    assert isinstance(signed["expires_in"], int) and signed["expires_in"] > 0
    status = ok(get(f"{server.url}/cozygen/api/auth_status", headers=bearer(signed["token"])))
    assert status["authenticated"] is True and status["user"] == "ann" and status["auth_enabled"] is True
    assert isinstance(status["default_credentials"], bool)
    assert isinstance(status["exp"], int) and 0 < status["exp"] - time.time() <= signed["expires_in"] + 5
    # no token, or a bad one: 401, which handleResponse turns into "sign in again"
    for headers in (FETCH, bearer("not-a-token")):
        refused = get(f"{server.url}/cozygen/api/auth_status", headers=headers)
        assert refused.status == 401 and refused.json()["authenticated"] is False and refused.json()["user"] is None
    # wrong password: the seed's 401 body (Login.jsx shows its own text on a 401)
    wrong = login(server, "ann", "nope")
    assert wrong.status == 401 and wrong.json()["error"] == "invalid_credentials"
    not_json = request(
        "POST", f"{server.url}/cozygen/api/login", raw=b"{", headers={"Content-Type": "application/json"}
    )
    assert not_json.status == 400 and not_json.json()["error"] == "invalid_body"
    # any guarded route without a token: the seed's 401 {"error": "unauthorized"}
    guarded = get(f"{server.url}/cozygen/workflows", headers=FETCH)
    assert guarded.status == 401 and guarded.json()["error"] == "unauthorized"


def test_neon_workflow_list_load_and_choices(server, tokens) -> None:
    headers = bearer(tokens["vic"])
    listed = ok(get(f"{server.url}/cozygen/workflows", headers=headers))
    assert isinstance(listed["workflows"], list) and all(is_text(n) for n in listed["workflows"])
    assert CLASSIC in listed["workflows"]
    graph, inputs = load_workflow(server, headers, CLASSIC)
    assert [n["inputs"]["param_name"] for n in inputs] == ["Prompt", "Seed", "Steps", "Size"]  # fields to show
    for node in inputs:
        assert isinstance(node["inputs"]["priority"], int)
        if node["class_type"] == "CozyGenIntInput":
            assert all(isinstance(node["inputs"][k], int) for k in ("default_value", "min_value", "max_value", "step"))
    # getChoices(type, {refresh}) for Choice and DROPDOWN nodes: {choices: [str]}
    for query in ("type=sampler", "type=scheduler", "type=checkpoints&refresh=1", "type=samplers_list"):
        choices = ok(get(f"{server.url}/cozygen/get_choices?{query}", headers=headers))["choices"]
        assert isinstance(choices, list) and all(isinstance(c, str) for c in choices)
    assert "euler" in ok(get(f"{server.url}/cozygen/get_choices?type=sampler", headers=headers))["choices"]
    missing = get(f"{server.url}/cozygen/get_choices", headers=headers)
    assert missing.status == 400 and missing.json()["error"] == "missing type"
    bad = get(f"{server.url}/cozygen/get_choices?type=nowhere", headers=headers)
    assert bad.status == 400 and bad.json()["error"] == "invalid type nowhere"
    gone = get(f"{server.url}/cozygen/workflows/{quote('nope.json')}", headers=headers)
    assert gone.status == 404 and gone.json()["error"] == "not found"


def test_neon_generates_with_prompt_raw_and_reads_it_back(server, tokens) -> None:
    ann = bearer(tokens["ann"])
    graph, inputs = load_workflow(server, ann, CLASSIC)
    typed = {**initial_form(inputs), "Prompt": "$cozy$, by the fire", "Steps": 2, "Size": 64, "Seed": 7}
    expanded_form = {**typed, "Prompt": "a cozy evening, by the fire"}  # aliases expanded client-side
    final = inject(graph, inputs, expanded_form)
    prompt_id = str(uuid.uuid4())  # createPromptId(): crypto.randomUUID()
    raw = {"1:default_value": typed["Prompt"]}  # getPromptTargets' key of the "Prompt" field
    # storePromptRaw: jpost('/cozygen/api/prompt_raw', {prompt_id, prompt_raw}) before queueing
    assert ok(
        post(f"{server.url}/cozygen/api/prompt_raw", {"prompt_id": prompt_id, "prompt_raw": raw}, headers=ann)
    ) == {"ok": True}
    # another user posting for the same prompt id neither clobbers nor reads ann's map
    bob = bearer(tokens["bob"])
    assert ok(
        post(f"{server.url}/cozygen/api/prompt_raw", {"prompt_id": prompt_id, "raw": {"1:x": "bob"}}, headers=bob)
    )
    # queuePrompt({prompt, prompt_id}): ComfyUI's own /prompt, no client_id
    queued = ok(post(f"{server.url}/prompt", {"prompt": final, "prompt_id": prompt_id}, headers=ann))
    assert queued["prompt_id"] == prompt_id and queued.get("node_errors") in ({}, None)
    image = wait_for_output(server, ann, prompt_id)
    assert image["type"] == "output" and image["filename"].endswith(".png")

    deadline, reply = time.monotonic() + 30, None
    while time.monotonic() < deadline:  # the gallery indexes the file, the tracker records the job
        reply = gallery_prompt(server, ann, image)
        if reply.status == 200 and "cozygen_prompt_raw" in reply.json():
            break
        time.sleep(0.1)
    body = ok(reply)
    assert isinstance(body["prompt"], dict)
    assert body["prompt"]["1"]["inputs"]["default_value"] == "a cozy evening, by the fire"
    assert body["cozygen_prompt_raw"] == raw
    # the admin sees the file (per user: admins see all) but not ann's raw map; bob does not see the file at all
    assert "cozygen_prompt_raw" not in ok(gallery_prompt(server, bearer(tokens["admin"]), image))
    hidden = gallery_prompt(server, bob, image)
    assert hidden.status == 404 and hidden.json()["error"] == "prompt metadata not found"

    # useGallery: getGallery(path, page, perPage, showHidden, recursive, kind, reloadKey, {includeMeta: true})
    query = urlencode(
        {"subfolder": image["subfolder"], "page": "1", "per_page": "50", "show_hidden": "0", "recursive": "0"}
        | {"kind": "all", "include_meta": "1", "cache_bust": "3"}
    )
    listing = ok(get(f"{server.url}/cozygen/api/gallery?{query}", headers=ann))
    assert isinstance(listing["total_pages"], int) and isinstance(listing["items"], list)
    mine = [i for i in listing["items"] if i["filename"] == image["filename"]]
    assert len(mine) == 1 and mine[0]["type"] == "output" and mine[0]["subfolder"] == image["subfolder"]
    assert isinstance(mine[0]["mtime"], float) and mine[0]["meta"]["has_prompt"] is True
    assert not ok(get(f"{server.url}/cozygen/api/gallery?{query}", headers=bob))["items"]  # not bob's
    # the thumbnail and the file, as <img> loads them (the cookie, no Bearer header)
    thumb = get(
        f"{server.url}/cozygen/thumb?{urlencode({'type': 'output', 'filename': image['filename']})}"
        f"&{urlencode({'subfolder': image['subfolder'], 'w': 384, 'v': mine[0]['mtime']})}",
        headers=cookie(server, tokens["ann"]),
    )
    assert thumb.status == 200 and thumb.content_type.startswith("image/")
    view = get(
        f"{server.url}/view?{urlencode({'filename': image['filename'], 'subfolder': image['subfolder']})}&type=output",
        headers=cookie(server, tokens["ann"]),
    )
    assert view.status == 200 and view.body[:8] == PNG

    # deleteGalleryItem({filename, subfolder}); the viewer only checks ok
    gone = {"filename": image["filename"], "subfolder": image["subfolder"]}
    assert post(f"{server.url}/cozygen/api/gallery/delete", gone, headers=bob).status == 404  # not bob's
    deleted = ok(post(f"{server.url}/cozygen/api/gallery/delete", gone, headers=ann))
    assert deleted["ok"] is True and deleted["filename"] == image["filename"]
    again = post(f"{server.url}/cozygen/api/gallery/delete", gone, headers=ann)
    assert again.status == 404 and again.json()["error"] == "not found"


def test_neon_prompt_raw_errors_are_the_seeds(server, tokens) -> None:
    url, ann = f"{server.url}/cozygen/api/prompt_raw", bearer(tokens["ann"])
    for body, error in (
        ({"prompt_raw": {"1:text": "$a$"}}, "prompt_id required"),
        ({"prompt_id": "p"}, "prompt_raw required"),
        ({"prompt_id": "p", "prompt_raw": {"1:text": 5}}, "prompt_raw invalid"),
    ):
        reply = post(url, body, headers=ann)
        assert reply.status == 400 and reply.json()["error"] == error, reply.body
    broken = request("POST", url, raw=b"{", headers={**ann, "Content-Type": "application/json"})
    assert broken.status == 400 and broken.json()["error"] == "invalid json payload"
    huge = post(url, {"prompt_id": "p", "prompt_raw": {"1:text": "x" * 300_000}}, headers=ann)
    assert huge.status == 413
    assert post(url, {"prompt_id": "p", "prompt_raw": {"1:t": "$a$"}}, headers=bearer(tokens["vic"])).status == 403


def test_neon_gallery_errors_are_the_seeds(server, tokens) -> None:
    ann = bearer(tokens["ann"])
    for query, status, error in (
        ("subfolder=../..", 403, "forbidden"),
        ("subfolder=..", 403, "forbidden"),
        ("subfolder=no-such-folder", 404, "not found"),
        ("page=x", 400, "bad paging"),
    ):
        reply = get(f"{server.url}/cozygen/api/gallery?{query}", headers=ann)
        assert reply.status == status and reply.json()["error"] == error, (query, reply.body)
    assert get(f"{server.url}/cozygen/api/gallery?subfolder=../..", headers=ann).json() == {
        "error": "forbidden",
        "code": "INVALID_PATH",
        "detail": "the subfolder may not contain '..': '../..'",
    }
    missing = gallery_prompt(server, ann, {"filename": "", "subfolder": ""})
    assert missing.status == 400 and missing.json()["error"] == "missing filename"
    escaped = gallery_prompt(server, ann, {"filename": "x.png", "subfolder": "../.."})
    assert escaped.status == 404 and escaped.json()["error"] == "prompt metadata not found"
    delete = f"{server.url}/cozygen/api/gallery/delete"
    for body, status, error in (
        ({"filename": ""}, 400, "missing filename"),
        ({"filename": "a/b.png"}, 400, "invalid filename"),
        ({"filename": "b.png", "subfolder": "../x"}, 403, "forbidden"),
    ):
        reply = post(delete, body, headers=ann)
        assert reply.status == status and reply.json()["error"] == error, (body, reply.body)
    delete_all = f"{server.url}/cozygen/api/gallery/delete_all"
    for body, status, error in (
        ({"subfolder": "", "recursive": True}, 400, "confirm flag required"),
        ({"subfolder": "../x", "confirm": "delete-all"}, 403, "forbidden"),
        ({"subfolder": "no-such-folder", "confirm": "delete-all"}, 404, "not found"),
    ):
        reply = post(delete_all, body, headers=ann)
        assert reply.status == status and reply.json()["error"] == error, (body, reply.body)


def test_neon_tag_library_opens_with_an_empty_query(server, tokens) -> None:
    headers = bearer(tokens["vic"])
    tags = server.user_dir / "cozygen" / "tags"
    tags.mkdir(parents=True, exist_ok=True)
    (tags / "danbooru.csv").write_text("long_hair,0,4200000,\nsolo,0,5000000,\nsmile,0,3000000,\nartist_x,1,10,\n")
    # getDanbooruTagCategories: res.categories [{key, count|actual}]
    categories = ok(get(f"{server.url}/cozygen/api/tags/categories", headers=headers))
    assert all(
        is_text(c["key"]) and isinstance(c["count"], int) and isinstance(c["actual"], int)
        for c in categories["categories"]
    )
    assert isinstance(categories["total"], int)
    # searchDanbooruTags({q: '', category, sort: 'count', limit: 80, offset: 0}): res.items [{tag, count, category}],
    # res.total
    deadline = time.monotonic() + 10
    while True:
        found = ok(
            get(f"{server.url}/cozygen/api/tags/search?q=&category=&sort=count&limit=80&offset=0", headers=headers)
        )
        if found["total"] or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert [i["tag"] for i in found["items"]][:3] == ["solo", "long_hair", "smile"] and found["total"] == 4
    assert all(isinstance(i["count"], int) and is_text(i["category"]) for i in found["items"])
    assert found["q"] == "" and found["limit"] == 80 and found["offset"] == 0 and found["sort"] == "count"
    artists = ok(
        get(f"{server.url}/cozygen/api/tags/search?q=&category=artist&sort=count&limit=80&offset=0", headers=headers)
    )
    assert [i["tag"] for i in artists["items"]] == ["artist_x"]
    assert ok(get(f"{server.url}/cozygen/api/tags/search?sort=count", headers=headers))["total"] == 4  # q absent
    paged = ok(get(f"{server.url}/cozygen/api/tags/search?q=&category=&sort=alpha&limit=2&offset=1", headers=headers))
    assert [i["tag"] for i in paged["items"]] == ["long_hair", "smile"]


def test_neon_presets(server, tokens) -> None:
    headers, wf = bearer(tokens["ann"]), CLASSIC
    url = f"{server.url}/cozygen/api/workflow_presets"
    # getWorkflowPresets(workflow): data.presets (array of {id, name, values})
    assert ok(get(f"{url}?workflow={quote(wf)}", headers=headers))["presets"] == []
    saved = ok(
        post(url, {"workflow": wf, "preset": {"name": "Tiny", "values": {"Steps": 2, "Size": 64}}}, headers=headers)
    )
    preset = saved["preset"]
    assert is_text(preset["id"]) and preset["name"] == "Tiny" and preset["values"] == {"Steps": 2, "Size": 64}
    assert [p["id"] for p in saved["presets"]] == [preset["id"]]
    assert ok(get(f"{url}?workflow={quote(wf)}", headers=bearer(tokens["bob"])))["presets"] == []  # ann's own
    left = ok(post(url, {"workflow": wf, "delete": preset["id"]}, headers=headers))
    assert left["presets"] == [] and "preset" not in left
    for body, error in (
        ({"preset": {"name": "x"}}, "Missing workflow"),
        ({"workflow": wf, "preset": {}}, "Missing preset name"),
    ):
        reply = post(url, body, headers=headers)
        assert reply.status == 400 and reply.json()["error"] == error, reply.body


# --- gsusgg/ComfyUI_CozyGen (the original front end) ----------------------------------------------------------------


def test_original_app_loads_the_classic_workflow_and_generates(server, tokens) -> None:
    read, write = cookie(server, tokens["ann"]), cookie(server, tokens["ann"], state_change=True)
    # getWorkflows(): data.workflows; getWorkflow(filename) (not encoded)
    assert CLASSIC in ok(get(f"{server.url}/cozygen/workflows", headers=read))["workflows"]
    graph, inputs = load_workflow(server, read, CLASSIC)
    assert {n["class_type"] for n in inputs} == {"CozyGenStringInput", "CozyGenIntInput"}
    form = {**initial_form(inputs), "Steps": 2, "Size": 64}
    # queuePrompt({prompt: finalWorkflow}): no prompt_id, no client_id; ComfyUI answers its prompt_id
    queued = ok(post(f"{server.url}/prompt", {"prompt": inject(graph, inputs, form)}, headers=write))
    image = wait_for_output(server, read, queued["prompt_id"])
    # getGallery(subfolder, page, pageSize): /cozygen/gallery?subfolder=&page=&per_page=; data.items,
    # data.total_pages; items [{filename, type: 'directory'|'output', subfolder}]
    listing = f"{server.url}/cozygen/gallery?{urlencode({'subfolder': image['subfolder']})}&page=1&per_page=20"
    wanted, names = (image["filename"], "output", image["subfolder"]), []
    deadline = time.monotonic() + 30
    while wanted not in names and time.monotonic() < deadline:  # the app refetches; the gallery indexes the file
        inside = ok(get(listing, headers=read))
        assert isinstance(inside["total_pages"], int) and isinstance(inside["items"], list)
        names = [(i["filename"], i["type"], i["subfolder"]) for i in inside["items"]]
        time.sleep(0.1)
    assert wanted in names
    root = ok(get(f"{server.url}/cozygen/gallery?subfolder=&page=1&per_page=20", headers=read))
    assert isinstance(root["total_pages"], int) and root["page"] == 1 and root["per_page"] == 20
    folders = [i for i in root["items"] if i["type"] == "directory"]  # per user: the folders of ann's outputs
    assert [(f["filename"], f["subfolder"]) for f in folders] == [("CozyGen", "CozyGen")]
    # another user's listing does not show ann's output; no sign-in at all is a 401, not the page
    assert image["filename"] not in str(
        get(f"{server.url}/cozygen/gallery?subfolder=CozyGen", headers=cookie(server, tokens["bob"])).body
    )
    assert get(f"{server.url}/cozygen/gallery?subfolder=", headers=FETCH).status == 401
    refused = get(f"{server.url}/cozygen/gallery?subfolder=../..", headers=read)
    assert refused.status == 403 and refused.json()["error"] == "forbidden"


def test_unknown_cozygen_paths_never_answer_the_shell_to_a_client_asking_for_data(server, tokens) -> None:
    headers = bearer(tokens["ann"])
    for path in (
        "/cozygen/api/nothing",
        "/cozygen/workflows/a/b",
        "/cozygen/input/x/y",
        "/cozygen/nothing",
        "/cozygen/queue",  # a page of the app, but not to a client naming JSON
    ):
        for accept in ("application/json", "*/*"):
            if path == "/cozygen/queue" and accept == "*/*":
                continue
            reply = get(f"{server.url}{path}", headers={**headers, "Accept": accept})
            assert reply.status == 404 and reply.content_type == "application/json", (path, accept, reply.body[:80])
    assert get(f"{server.url}/cozygen/queue", headers={**headers, **FETCH}).content_type == "text/html"
    for path in ("/cozygen/gallery", "/cozygen/queue", "/cozygen/generate/x.json", "/cozygen/whatever"):  # pages
        page = get(f"{server.url}{path}", headers={"Accept": "text/html,application/xhtml+xml"})
        assert page.status == 200 and page.content_type == "text/html", path
    assert get(f"{server.url}/cozygen/gallery").content_type == "text/html"  # no Accept: the page
