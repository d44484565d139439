"""Bad input answers a 4xx JSON error with a message and a code, never a 500, and changes nothing.

Each case here answered 500 before api/params.py (numbers past 64 bits, dates past year 9999, non-UTF-8
query strings), the multipart reader in api/files.py (malformed uploads) and read_json's depth limit and
typed body fields (api/responses.py, api/params.py).
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from household import Household
from PIL import Image, PngImagePlugin
from support import Reply, get, post, request

HUGE = "99999999999999999999999"  # past SQLite's 64-bit INTEGER
INT64_MAX = str(2**63 - 1)
DEEP_OBJECT = '{"a":' * 300 + "1" + "}" * 300  # legal JSON (orjson stops at 1024), deep enough to break recursion
DEEP_LIST = "[" * 300 + "]" * 300


def refused(reply: Reply, status: int | tuple[int, ...], code: str | None = None) -> dict[str, Any]:
    """``reply`` is the JSON error ``status`` (one of them) with a message and a code (``code`` when given)."""
    statuses = status if isinstance(status, tuple) else (status,)
    assert reply.status in statuses, (reply.status, reply.body[:500])
    assert reply.content_type == "application/json", reply.headers
    body = reply.json()
    assert isinstance(body.get("error"), str) and body["error"], body
    assert isinstance(body.get("code"), str) and body["code"], body
    if code is not None:
        assert body["code"] == code, body
    return body


def outputs(home: Household) -> list[str]:
    return sorted(str(p.relative_to(home.server.output_dir)) for p in home.server.output_dir.rglob("*") if p.is_file())


def inputs(home: Household) -> list[str]:
    return sorted(str(p.relative_to(home.server.input_dir)) for p in Path(home.server.input_dir).rglob("*"))


# -- numbers past 64 bits, dates past year 9999, non-UTF-8 query strings ------------------------------------

QUERY_CASES = [
    ("GET", f"/cozygen/api/images/{HUGE}", 404, "IMAGE_NOT_FOUND"),
    ("GET", f"/cozygen/api/images/{HUGE}/metadata", 404, "IMAGE_NOT_FOUND"),
    ("GET", f"/cozygen/api/images/{HUGE}/thumb", 404, "IMAGE_NOT_FOUND"),
    ("DELETE", f"/cozygen/api/images/{HUGE}", 404, "IMAGE_NOT_FOUND"),
    ("POST", f"/cozygen/api/images/{HUGE}/to-input", 404, "IMAGE_NOT_FOUND"),
    ("GET", "/cozygen/api/images/12abc", 400, "INVALID_ID"),
    ("GET", f"/cozygen/api/gallery?page={INT64_MAX}", 400, "BAD_PAGING"),
    ("GET", f"/cozygen/api/gallery?page={HUGE}", 400, "BAD_PAGING"),
    ("GET", f"/cozygen/api/gallery?per_page={HUGE}", 400, "BAD_PAGING"),
    ("GET", f"/cozygen/input?page={INT64_MAX}", 400, "BAD_PAGING"),
    ("GET", f"/cozygen/input?page={HUGE}", 400, "BAD_PAGING"),
    ("GET", f"/cozygen/input?per_page={HUGE}", 400, "BAD_PAGING"),
    ("GET", "/cozygen/api/jobs?to=10000-01-01", 400, "INVALID_DATE"),
    ("GET", "/cozygen/api/jobs?from=1e400", 400, "INVALID_DATE"),
    ("GET", "/cozygen/api/jobs?from=nan", 400, "INVALID_DATE"),
    ("GET", "/cozygen/api/jobs?from=0001-01-01T00:00:00%2B01:00", 400, "INVALID_DATE"),  # an hour before year 1
    ("GET", f"/cozygen/api/jobs?limit={HUGE}", 400, "INVALID_LIMIT"),
    ("GET", "/cozygen/api/jobs/export?to=99999-01-01", 400, "INVALID_DATE"),
    ("GET", "/cozygen/compat/spoonfeeder/api/tasks/history/export?dateFrom=inf", 400, "INVALID_DATE"),
    ("GET", f"/cozygen/compat/cyberimage/api/gallery?page={INT64_MAX}", 400, "BAD_PAGING"),
    ("GET", f"/cozygen/compat/cyberimage/api/gallery?limit={HUGE}", 400, "BAD_PAGING"),
    ("GET", f"/cozygen/compat/cyberimage/api/get_image/img_{HUGE}", 404, "IMAGE_NOT_FOUND"),
    ("GET", f"/cozygen/compat/cyberimage/api/image/{HUGE}/metadata", 404, "IMAGE_NOT_FOUND"),
    ("DELETE", f"/cozygen/compat/cyberimage/api/image/{HUGE}", 404, "IMAGE_NOT_FOUND"),
    ("GET", f"/cozygen/api/tags/search?q=a&min_count={HUGE}", 400, "INVALID_MIN_COUNT"),
    ("DELETE", f"/cozygen/api/tokens/{HUGE}", 404, "TOKEN_NOT_FOUND"),
    ("GET", "/cozygen/api/gallery?search=%ff", 400, "INVALID_ENCODING"),
    ("GET", "/cozygen/api/workflow_presets?workflow=%ed%a0%80", 400, "INVALID_ENCODING"),
]

ADMIN_CASES = [
    ("GET", f"/cozygen/api/audit?before={HUGE}", 400, "INVALID_PAGING"),
    ("GET", f"/cozygen/api/audit?limit={HUGE}", 400, "INVALID_PAGING"),
    ("PATCH", f"/cozygen/api/users/{HUGE}", 404, "USER_NOT_FOUND"),
    ("DELETE", f"/cozygen/api/users/{HUGE}", 404, "USER_NOT_FOUND"),
    ("DELETE", "/cozygen/api/users/1.5", 400, "INVALID_ID"),
]


@pytest.mark.parametrize(("method", "path", "status", "code"), QUERY_CASES)
def test_numbers_dates_and_encodings_out_of_range_are_refused(
    household: Household, method: str, path: str, status: int, code: str
) -> None:
    before = outputs(household)
    body = {"role": "user"} if method == "PATCH" else None
    for who in ("bob", "admin"):
        refused(request(method, f"{household.url}{path}", body, headers=household.as_(who)), status, code)
    assert outputs(household) == before


@pytest.mark.parametrize(("method", "path", "status", "code"), ADMIN_CASES)
def test_admin_routes_refuse_numbers_past_64_bits(
    household: Household, method: str, path: str, status: int, code: str
) -> None:
    people = get(f"{household.url}/cozygen/api/users", headers=household.as_("admin")).json()
    body = {"role": "user"} if method == "PATCH" else None
    refused(request(method, f"{household.url}{path}", body, headers=household.as_("admin")), status, code)
    assert get(f"{household.url}/cozygen/api/users", headers=household.as_("admin")).json() == people


def test_the_last_representable_day_is_a_date_not_an_error(household: Household) -> None:
    """9999-12-31 is a valid ``to`` (the whole day, though the day after has no date): an answer, not a 500."""
    mine = get(f"{household.url}/cozygen/api/jobs", headers=household.as_("alice")).json()["jobs"]
    until = get(f"{household.url}/cozygen/api/jobs?to=9999-12-31", headers=household.as_("alice"))
    assert until.status == 200 and until.json()["jobs"] == mine
    since = get(f"{household.url}/cozygen/api/jobs?from=9999-12-31", headers=household.as_("alice"))
    assert since.status == 200 and since.json()["jobs"] == []
    export = get(
        f"{household.url}/cozygen/compat/spoonfeeder/api/tasks/history/export?dateTo=9999-12-31",
        headers=household.as_("alice"),
    )
    assert export.status == 200 and [r["id"] for r in export.json()["data"]["content"]] == [j["id"] for j in mine]


def test_a_session_limit_past_64_bits_is_refused(household: Household) -> None:
    made = post(f"{household.url}/cozygen/api/sessions", {"name": "bad input"}, headers=household.as_("bob"))
    session = made.json()["session"]["id"]
    for path in (f"/cozygen/api/sessions/{session}", f"/cozygen/compat/spoonfeeder/api/comfyui/sessions/{session}"):
        refused(get(f"{household.url}{path}?limit={HUGE}", headers=household.as_("bob")), 400, "INVALID_LIMIT")
    assert get(f"{household.url}/cozygen/api/sessions/{session}", headers=household.as_("bob")).status == 200


# -- malformed multipart uploads ----------------------------------------------------------------------------

UPLOADS = ["/cozygen/upload_image", "/cozygen/compat/dreamlayer/api/upload-controlnet-image"]
PNG = b"\x89PNG\r\n\x1a\n"


def part(name: str, data: bytes, *, filename: str | None = None, extra: str = "") -> bytes:
    disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
    return f"--b0undary\r\nContent-Disposition: {disposition}\r\n{extra}\r\n".encode() + data + b"\r\n"


MULTIPART_CASES = {
    "no boundary": ("multipart/form-data", part("image", PNG, filename="a.png") + b"--b0undary--\r\n", 400),
    "wrong boundary": (
        "multipart/form-data; boundary=other",
        part("image", PNG, filename="a.png") + b"--b0undary--\r\n",
        400,
    ),
    "empty body": ("multipart/form-data; boundary=b0undary", b"", 400),
    "unterminated body": ("multipart/form-data; boundary=b0undary", part("image", PNG, filename="a.png")[:-2], 400),
    "oversized part header": (
        "multipart/form-data; boundary=b0undary",
        part("image", PNG, filename="a.png", extra="X-Padding: " + "a" * 200_000 + "\r\n") + b"--b0undary--\r\n",
        (400, 413),
    ),
    "non-UTF-8 field": (
        "multipart/form-data; boundary=b0undary",
        part("image", PNG, filename="a.png")
        + part("subfolder", b"\xff\xfe")
        + part("file", PNG, filename="a.png")
        + part("subfolder", b"\xff\xfe")
        + b"--b0undary--\r\n",
        400,
    ),
    "unknown charset": (
        "multipart/form-data; boundary=b0undary",
        part("image", PNG, filename="a.png", extra="Content-Type: text/plain; charset=nonesuch\r\n")
        + part("subfolder", b"x", extra="Content-Type: text/plain; charset=nonesuch\r\n")
        + b"--b0undary--\r\n",
        400,
    ),
    "boundary past 70 characters": ("multipart/form-data; boundary=" + "b" * 80, b"--" + b"b" * 80 + b"--\r\n", 400),
    "not multipart": ("application/x-www-form-urlencoded", b"image=abc", 415),
    "JSON": ("application/json", b'{"image": "abc"}', 415),
}


@pytest.mark.parametrize("path", UPLOADS)
@pytest.mark.parametrize("case", sorted(MULTIPART_CASES))
def test_malformed_multipart_is_a_4xx(household: Household, path: str, case: str) -> None:
    content_type, body, status = MULTIPART_CASES[case]
    before = inputs(household)
    headers = {**household.as_("bob"), "Content-Type": content_type}
    refused(request("POST", f"{household.url}{path}", headers=headers, raw=body), status)
    assert inputs(household) == before  # nothing stored, and no partial file left behind


# -- JSON bodies: wrong types, nesting past the limit -------------------------------------------------------


def test_delete_all_with_a_subfolder_list_is_refused_and_deletes_nothing(household: Household) -> None:
    before = outputs(household)
    for subfolder in (["CozyGen"], {"a": 1}, 5, True):
        for path in ("/cozygen/api/gallery/delete_all", "/cozygen/api/gallery/delete"):
            body = {"confirm": "delete-all", "subfolder": subfolder, "filename": "x.png"}
            refused(post(f"{household.url}{path}", body, headers=household.as_("admin")), 400, "INVALID_SUBFOLDER")
    refused(
        post(
            f"{household.url}/cozygen/api/gallery/delete_all",
            {"confirm": "delete-all", "recursive": "yes"},
            headers=household.as_("admin"),
        ),
        400,
        "INVALID_RECURSIVE",
    )
    assert outputs(household) == before


DEEP_BODIES = [
    ("POST", "/cozygen/api/workflow_presets", '{"workflow": "x.json", "preset": {"name": "p", "values": %s}}'),
    ("POST", "/cozygen/workflows/deep_input.json", '{"1": {"class_type": "EmptyImage", "inputs": %s}}'),
    ("POST", "/cozygen/api/workflows/check", '{"workflow": %s}'),
    ("POST", "/cozygen/api/workflows/cozygen_procedural_form.json/fill", '{"values": {"prompt": %s}}'),
    ("POST", "/cozygen/api/jobs", '{"workflow": "cozygen_procedural_form.json", "values": {"prompt": %s}}'),
    ("POST", "/cozygen/api/tags/validate", '{"tags": %s}'),
    ("POST", "/cozygen/api/sessions", '{"name": %s}'),
    ("POST", "/cozygen/compat/spoonfeeder/api/comfyui/workflows", '{"name": "deep", "workflowJson": %s}'),
    ("PUT", "/cozygen/compat/spoonfeeder/api/comfyui/workflows/sd15_txt2img.json", '{"workflowJson": %s}'),
    (
        "PATCH",
        "/cozygen/compat/spoonfeeder/api/comfyui/workflows/sd15_txt2img.json/parameters",
        '{"default_parameters": %s}',
    ),
    ("POST", "/cozygen/compat/spoonfeeder/api/comfyui/sessions", '{"title": %s}'),
    ("POST", "/cozygen/compat/aiplayground/api/comfyUi/checkWorkflowRequirements", '{"workflow": %s}'),
    ("POST", "/cozygen/compat/cyberimage/api/generate", '{"model_id": "procedural", "prompt": "x", "settings": %s}'),
]


@pytest.mark.parametrize(("method", "path", "template"), DEEP_BODIES)
def test_json_nested_hundreds_of_levels_deep_is_a_400(
    household: Household, method: str, path: str, template: str
) -> None:
    listed = get(f"{household.url}/cozygen/workflows", headers=household.as_("bob")).json()
    presets = get(f"{household.url}/cozygen/api/workflow_presets", headers=household.as_("bob")).json()
    for deep in (DEEP_OBJECT, DEEP_LIST):
        raw = (template % deep).encode()
        headers = {**household.as_("bob"), "Content-Type": "application/json"}
        refused(request(method, f"{household.url}{path}", headers=headers, raw=raw), 400, "JSON_TOO_DEEP")
    assert get(f"{household.url}/cozygen/workflows", headers=household.as_("bob")).json() == listed
    assert get(f"{household.url}/cozygen/api/workflow_presets", headers=household.as_("bob")).json() == presets


def test_admin_json_routes_refuse_deep_nesting(household: Household) -> None:
    aliases = get(f"{household.url}/cozygen/api/aliases", headers=household.as_("admin")).json()
    settings = get(f"{household.url}/cozygen/api/settings", headers=household.as_("admin")).json()
    headers = {**household.as_("admin"), "Content-Type": "application/json"}
    for method, path, raw in [
        ("POST", "/cozygen/api/aliases", DEEP_OBJECT),
        ("POST", "/cozygen/api/aliases", '{"items": {"a": "b"}, "categories": ' + DEEP_OBJECT + "}"),
        ("PATCH", "/cozygen/api/settings", '{"enrich_model": ' + DEEP_LIST + "}"),
    ]:
        refused(request(method, f"{household.url}{path}", headers=headers, raw=raw.encode()), 400, "JSON_TOO_DEEP")
    assert get(f"{household.url}/cozygen/api/aliases", headers=household.as_("admin")).json() == aliases
    assert get(f"{household.url}/cozygen/api/settings", headers=household.as_("admin")).json() == settings


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"[1, 2]", "INVALID_JSON"),  # not an object
        (b'"text"', "INVALID_JSON"),
        (b'{"prompt": NaN}', "INVALID_JSON"),
        (b'{"prompt": Infinity}', "INVALID_JSON"),
        (b'{"prompt": 1e400}', "INVALID_JSON"),
        (b'{"prompt": "\xff"}', "INVALID_JSON"),  # not UTF-8
        (b"{", "INVALID_JSON"),
    ],
)
def test_json_that_is_no_object_or_no_json_is_a_400(household: Household, raw: bytes, code: str) -> None:
    headers = {**household.as_("bob"), "Content-Type": "application/json"}
    for path in ("/cozygen/api/prompts/enrich", "/cozygen/api/workflow_presets", "/cozygen/api/gallery/delete_all"):
        refused(request("POST", f"{household.url}{path}", headers=headers, raw=raw), 400, code)


@pytest.mark.parametrize(
    "workflow",
    [{"customNodes": 5}, {"customNodes": "user/repo"}, {"requiredModels": True}, {"requiredModels": {"a": 1}}],
)
def test_ai_playground_requirements_of_the_wrong_shape_are_a_400(household: Household, workflow: Any) -> None:
    reply = post(
        f"{household.url}/cozygen/compat/aiplayground/api/comfyUi/checkWorkflowRequirements",
        {"workflow": workflow},
        headers=household.as_("vera"),
    )
    refused(reply, 400, "INVALID_WORKFLOW")


@pytest.mark.parametrize(
    "values",
    [
        {"steps": "abc"},
        {"steps": [1]},
        {"steps": {"a": 1}},
        {"seed": 1e300},
        {"size": -(2**63)},
        {"prompt": ["x"]},
        {"seed": json.loads("99999999999999999999999")},
    ],
)
def test_job_values_of_the_wrong_type_are_field_errors(household: Household, values: dict[str, Any]) -> None:
    listed = get(f"{household.url}/cozygen/api/jobs", headers=household.as_("bob")).json()["jobs"]
    reply = post(
        f"{household.url}/cozygen/api/jobs",
        {"workflow": "cozygen_procedural_form.json", "values": values},
        headers=household.as_("bob"),
    )
    assert refused(reply, 400, "INVALID_VALUES")["fields"]
    assert get(f"{household.url}/cozygen/api/jobs", headers=household.as_("bob")).json()["jobs"] == listed


def test_an_uploaded_png_with_metadata_nested_too_deep_reads_as_having_none(household: Household) -> None:
    """A PNG's text chunks are anyone's input (any user can upload one): JSON nested 300 deep in its prompt or
    CozyGen chunk reads as no metadata, where it made the metadata route answer 500 (orjson cannot write it)."""
    info = PngImagePlugin.PngInfo()
    info.add_text("prompt", '{"1": {"class_type": "KSampler", "inputs": {"seed": ' + DEEP_LIST + "}}}")
    info.add_text("cozygen", DEEP_OBJECT)
    picture = io.BytesIO()
    Image.new("RGB", (8, 8)).save(picture, "PNG", pnginfo=info)
    body = part("image", picture.getvalue(), filename="deep.png") + b"--b0undary--\r\n"
    headers = {**household.as_("bob"), "Content-Type": "multipart/form-data; boundary=b0undary"}
    stored = request("POST", f"{household.url}/cozygen/upload_image", headers=headers, raw=body)
    assert stored.status == 200, stored.body
    reply = get(f"{household.url}/cozygen/api/images/{stored.json()['id']}/metadata", headers=household.as_("bob"))
    assert reply.status == 200, reply.body
    assert reply.json()["prompt"] is None and reply.json()["params"] == {}
