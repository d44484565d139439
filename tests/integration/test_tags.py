"""Danbooru tags against a real ComfyUI: lists in <data dir>/tags/, the user's prompts, shapes and 400s."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from support import PROJECT, get, post, request

DANBOORU_CSV = PROJECT.parent / "shared" / "data" / "danbooru.csv"
SMALL_LIST = '1girl,0,6008644,"1girls,sole_female"\nlong_hair,0,4350743,"/lh,longhair"\nvery_long_hair,0,952244,\n'
FORM = "cozygen_procedural_form.json"


@pytest.fixture(scope="module")
def server(start_comfyui):
    return start_comfyui("ComfyUI-CozyGen-tags")


def search(server, **query: Any):
    text = "&".join(f"{k}={quote(str(v))}" for k, v in query.items())
    return get(f"{server.url}/cozygen/api/tags/search?{text}")


def until(check, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


@pytest.fixture(scope="module")
def with_list(server) -> Path:
    """The real danbooru.csv (linked, never copied) when it is here, else a small list."""
    folder = server.user_dir / "cozygen" / "tags"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "danbooru.csv"
    if DANBOORU_CSV.is_file():
        os.symlink(DANBOORU_CSV, target)
    else:
        target.write_text(SMALL_LIST)

    def loaded() -> bool:  # whole: a search during the build answers "partial": true with the prefix matches
        body = search(server, q="long_h").json()
        return bool(body["items"]) and "partial" not in body

    assert until(loaded), "the list was never loaded"
    return folder


def test_without_a_list_the_routes_answer_in_shape(server) -> None:
    categories = get(f"{server.url}/cozygen/api/tags/categories")
    assert categories.status == 200
    body = categories.json()
    assert set(body) >= {"categories", "total", "lists", "history"} and body["lists"] == []
    found = search(server, q="anything")
    assert found.status == 200
    assert found.json() == {
        "items": [], "total": 0, "limit": 80, "offset": 0, "q": "anything", "category": "", "sort": "count",
    }  # fmt: skip
    checked = post(f"{server.url}/cozygen/api/tags/validate", {"tags": []})
    assert checked.json() == {"invalid": [], "suggestions": {}, "aliases": {}}


def test_search_shapes_and_ranking(server, with_list) -> None:
    body = search(server, q="Long H", limit=5).json()
    assert body["q"] == "long h" and body["limit"] == 5 and body["sort"] == "count" and body["category"] == ""
    first = body["items"][0]
    assert first == {"tag": "long_hair", "count": 4350743, "category": "general", "match": "prefix"}
    assert body["total"] >= 2
    word = search(server, q="hair", limit=200).json()["items"]
    assert {"tag": "long_hair", "count": 4350743, "category": "general", "match": "word"} in word
    alias = search(server, q="/lh").json()["items"][0]
    assert alias == {"tag": "long_hair", "count": 4350743, "category": "general", "match": "alias", "alias": "/lh"}
    also = get(f"{server.url}/api/cozygen/api/tags/search?q=long_h&limit=1").json()  # ComfyUI's /api copy
    assert also["items"][0]["tag"] == "long_hair"
    general = search(server, q="1", category="general", min_count=1000, sort="alpha", limit=3, offset=0).json()
    assert general["category"] == "general" and general["sort"] == "alpha"
    assert all(i["category"] == "general" and i["count"] >= 1000 for i in general["items"])
    categories = get(f"{server.url}/cozygen/api/tags/categories").json()
    assert categories["lists"][0]["name"] == "danbooru.csv"
    general_count = next(c for c in categories["categories"] if c["key"] == "general")
    assert general_count["count"] == general_count["actual"] > 0 and categories["total"] >= general_count["count"]


def test_validate(server, with_list) -> None:
    reply = post(f"{server.url}/cozygen/api/tags/validate", {"tags": ["1girl", "sole_female", "long_hiar", 3, ""]})
    assert reply.status == 200
    body = reply.json()
    assert body["invalid"] == ["long_hiar"] and body["suggestions"]["long_hiar"][0] == "long_hair"
    assert body["aliases"] == {"sole_female": "1girl"}


def test_bad_requests_are_clear_400s(server) -> None:
    url = f"{server.url}/cozygen/api/tags/search"
    for query, code in [
        ("q=a&limit=500", "INVALID_LIMIT"),
        ("q=a&limit=0", "INVALID_LIMIT"),
        ("q=a&limit=ten", "INVALID_LIMIT"),
        ("q=a&offset=-1", "INVALID_OFFSET"),
        ("q=a&min_count=-3", "INVALID_MIN_COUNT"),
        ("q=a&category=bogus", "INVALID_CATEGORY"),
        ("q=a&sort=random", "INVALID_SORT"),
        ("q=%FF%FE", "INVALID_ENCODING"),
        ("q=" + "a" * 201, "INVALID_Q"),
    ]:
        reply = get(f"{url}?{query}")
        assert reply.status == 400 and reply.json()["code"] == code, (query, reply.body)
        assert reply.json()["error"]
    browsed = get(f"{url}?category=artist&limit=5")  # no q: browsing a category is fine
    assert browsed.status == 200 and {i["category"] for i in browsed.json()["items"]} <= {"artist"}
    for query in ("q=", "q=%20_", "sort=count"):  # no q at all (the seed's default): every tag, by count
        listed = get(f"{url}?{query}").json()
        counts = [i["count"] for i in listed["items"]]
        assert listed["total"] >= len(counts) and counts == sorted(counts, reverse=True), (query, listed)
    validate = f"{server.url}/cozygen/api/tags/validate"
    assert post(validate, {"tags": "1girl"}).json() == {"error": "tags must be a list", "code": "INVALID_TAGS"}
    assert post(validate, {"tags": ["x"] * 501}).json()["code"] == "TOO_MANY_TAGS"
    not_json = request("POST", validate, headers={"Content-Type": "application/json"}, raw=b"{nope")
    assert not_json.status == 400 and not_json.json()["code"] == "INVALID_JSON"


def test_the_users_prompts_become_tags(server, with_list) -> None:
    created = post(
        f"{server.url}/cozygen/api/jobs",
        {"workflow": FORM, "values": {"prompt": "silver kettle, (zzcozy teapot:1.2)", "steps": 1, "size": 64}},
    )
    assert created.status == 201, created.body
    job_id = created.json()["job"]["id"]
    assert until(lambda: get(f"{server.url}/cozygen/api/jobs/{job_id}").json()["job"]["status"] == "completed", 90)

    def history_hit() -> dict | None:
        items = search(server, q="zzcozy").json()["items"]
        return items[0] if items else None

    hit = until(history_hit)
    assert hit == {"tag": "zzcozy_teapot", "count": 1, "category": "general", "match": "prefix", "source": "history"}
    assert search(server, q="silver_ket").json()["items"][0]["tag"] == "silver_kettle"
    assert post(f"{server.url}/cozygen/api/tags/validate", {"tags": ["silver kettle"]}).json()["invalid"] == []
    assert get(f"{server.url}/cozygen/api/tags/categories").json()["history"] >= 2


def test_a_changed_list_is_read_again(server, with_list) -> None:
    extra = with_list / "extra.csv"
    extra.write_text("zzextra_tag,4,12,\n")
    hit = until(lambda: search(server, q="zzextra").json()["items"])
    assert hit == [{"tag": "zzextra_tag", "count": 12, "category": "character", "match": "prefix"}]
    extra.unlink()
    assert until(lambda: search(server, q="zzextra").json()["total"] == 0)
