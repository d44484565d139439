"""Marks (favourite, reject, rating per user), the listing's new filters and sorts, counts, compare, the input
folder as a gallery and deleting the rejects, on a real ComfyUI with auth on."""

from __future__ import annotations

import asyncio
import io
import json
import os
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo
from support import AUTH_ENV, get, household, post, request

EPOCH = 1_767_225_600  # 2026-01-01T00:00:00Z


@pytest.fixture(scope="module")
def server(start_comfyui):
    return start_comfyui("ComfyUI-CozyGen-marks", env=AUTH_ENV)


@pytest.fixture(scope="module")
def people(server) -> dict[str, dict[str, str]]:
    return household(server.url, {"ann": "user", "bob": "user", "vic": "viewer"})


def graph(seed: int, steps: int = 20, lora: float = 0.8) -> dict[str, Any]:
    return {
        "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sd15.safetensors"}},
        "10": {
            "class_type": "LoraLoader",
            "inputs": {
                "lora_name": "detail.safetensors",
                "strength_model": lora,
                "strength_clip": 1.0,
                "model": ["4", 0],
                "clip": ["4", 1],
            },
        },  # fmt: skip
        "6": {"class_type": "CLIPTextEncode", "inputs": {"text": f"a lantern number {seed}", "clip": ["10", 1]}},
        "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "blurry", "clip": ["10", 1]}},
        "3": {
            "class_type": "KSampler",
            "inputs": {
                "seed": seed,
                "steps": steps,
                "cfg": 6.5,
                "sampler_name": "euler",
                "scheduler": "normal",
                "denoise": 1.0,
                "model": ["10", 0],
                "positive": ["6", 0],
                "negative": ["7", 0],
            },
        },  # fmt: skip
    }


def save_png(path: Path, seed: int, *, size: int = 8, mtime: float | None = None, **prompt: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    info = PngInfo()
    info.add_text("prompt", json.dumps(graph(seed, **prompt)))
    image = Image.effect_noise((size, size), 64 + seed).convert("RGB")  # noise: sizes differ with size
    partial = path.with_name(path.name + ".part")
    image.save(partial, format="PNG", pnginfo=info)
    if mtime is not None:
        os.utime(partial, (mtime, mtime))
    partial.replace(path)
    return path


def listing(server, headers: dict[str, str], **query: Any) -> dict[str, Any]:
    reply = get(f"{server.url}/cozygen/api/gallery?" + urlencode({"per_page": 100, **query}), headers=headers)
    assert reply.status == 200, reply.body
    return reply.json()


def files(server, headers: dict[str, str], **query: Any) -> list[dict[str, Any]]:
    return [i for i in listing(server, headers, **query)["items"] if i["type"] != "directory"]


def names(server, headers: dict[str, str], **query: Any) -> list[str]:
    return [i["filename"] for i in files(server, headers, **query)]


def indexed(server, headers: dict[str, str], count: int, **query: Any) -> dict[str, dict[str, Any]]:
    """filename -> item, once the watcher has brought the listing to ``count`` files."""
    deadline = time.monotonic() + 20
    while True:
        found = {i["filename"]: i for i in files(server, headers, **query)}
        if len(found) == count or time.monotonic() > deadline:
            assert len(found) == count, found
            return found
        time.sleep(0.1)


def put_marks(server, headers: dict[str, str], image_id: Any, body: Any) -> Any:
    return request("PUT", f"{server.url}/cozygen/api/images/{image_id}/marks", body, headers=headers)


def counts(server, headers: dict[str, str], **query: Any) -> dict[str, Any]:
    reply = get(f"{server.url}/cozygen/api/gallery/counts?" + urlencode(query), headers=headers)
    assert reply.status == 200, reply.body
    return reply.json()


@pytest.fixture(scope="module")
def shelf(server, people) -> dict[str, dict[str, Any]]:
    """Six PNGs in output/shelf: s1 (oldest) .. s6 (newest), growing in size."""
    for n in range(1, 7):
        save_png(server.output_dir / "shelf" / f"s{n}.png", n, size=8 * n, mtime=EPOCH + n * 86400)
    return indexed(server, people["ann"], 6, subfolder="shelf")


def test_marks_are_each_users_own_and_filter_count_and_sort(server, people, shelf) -> None:
    ann, bob = people["ann"], people["bob"]
    ids = {name: item["id"] for name, item in shelf.items()}
    item = shelf["s1.png"]
    assert item["marks"] == {"favourite": False, "rejected": False, "rating": 0}
    assert item["kind"] == "image" and (item["width"], item["height"]) == (8, 8)
    assert item["size"] == (server.output_dir / "shelf" / "s1.png").stat().st_size
    assert item["created"] == item["mtime"] == EPOCH + 86400

    marked = put_marks(server, ann, ids["s1.png"], {"favourite": True, "rating": 4})
    assert marked.status == 200, marked.body
    assert marked.json() == {"id": ids["s1.png"], "marks": {"favourite": True, "rejected": False, "rating": 4}}
    for name in ("s2.png", "s3.png"):
        assert put_marks(server, ann, ids[name], {"rejected": True}).status == 200
    five = {"ids": [ids["s4.png"], ids["s5.png"]], "set": {"rating": 5}}
    bulk = post(f"{server.url}/cozygen/api/gallery/marks", five, headers=ann)
    assert bulk.status == 200 and bulk.json() == {"ok": True, "updated": 2}
    assert put_marks(server, bob, ids["s2.png"], {"favourite": True}).status == 200

    mine = {i["filename"]: i["marks"] for i in files(server, ann, subfolder="shelf")}
    assert mine["s1.png"] == {"favourite": True, "rejected": False, "rating": 4}
    assert mine["s2.png"] == {"favourite": False, "rejected": True, "rating": 0}
    theirs = {i["filename"]: i["marks"] for i in files(server, bob, subfolder="shelf")}
    assert theirs["s2.png"] == {"favourite": True, "rejected": False, "rating": 0}
    for who, marks in ((ann, mine), (bob, theirs)):  # an image's metadata (the viewer from a job) has them too
        meta = get(f"{server.url}/cozygen/api/images/{ids['s2.png']}/metadata", headers=who)
        assert meta.status == 200 and meta.json()["marks"] == marks["s2.png"], meta.body
    assert sum(m["rejected"] or m["rating"] > 0 for m in theirs.values()) == 0

    assert names(server, ann, subfolder="shelf", rejected="hide") == ["s6.png", "s5.png", "s4.png", "s1.png"]
    assert names(server, bob, subfolder="shelf", rejected="hide") == [f"s{n}.png" for n in range(6, 0, -1)]
    assert names(server, ann, subfolder="shelf", rejected="only") == ["s3.png", "s2.png"]
    assert names(server, ann, subfolder="shelf", favourite=1) == ["s1.png"]
    assert names(server, bob, subfolder="shelf", favourite=1) == ["s2.png"]
    assert names(server, ann, subfolder="shelf", min_rating=5) == ["s5.png", "s4.png"]
    assert names(server, ann, subfolder="shelf", sort="rating") == [
        "s5.png", "s4.png", "s1.png", "s6.png", "s3.png", "s2.png"]  # fmt: skip
    assert listing(server, ann, subfolder="shelf", rejected="hide")["total_items"] == 4

    expected = {
        "total": 6,
        "favourite": 1,
        "rejected": 2,
        "rated": 3,
        "ratings": {"1": 0, "2": 0, "3": 0, "4": 1, "5": 2},
    }
    assert counts(server, ann, subfolder="shelf") == expected
    assert counts(server, ann, subfolder="shelf", rejected="hide", favourite=1) == expected  # mark filters left out
    assert counts(server, bob, subfolder="shelf")["favourite"] == 1
    assert counts(server, bob, subfolder="shelf")["rejected"] == 0

    # a favourite is never rejected, and a selection by query marks every file the listing shows
    flipped = put_marks(server, ann, ids["s2.png"], {"favourite": True})
    assert flipped.json()["marks"] == {"favourite": True, "rejected": False, "rating": 0}
    by_query = {"query": "subfolder=shelf&rejected=only", "set": {"rejected": False, "rating": 1}}
    selected = post(f"{server.url}/cozygen/api/gallery/marks", by_query, headers=ann)
    assert selected.json() == {"ok": True, "updated": 1}
    assert counts(server, ann, subfolder="shelf")["rejected"] == 0
    assert post(f"{server.url}/cozygen/api/gallery/marks", {"ids": [ids["s3.png"]], "set": {"rejected": True}},
                headers=ann).status == 200  # fmt: skip
    put_marks(server, ann, ids["s2.png"], {"favourite": False, "rejected": True})

    # a viewer reads and counts, but cannot mark
    assert put_marks(server, people["vic"], ids["s1.png"], {"favourite": True}).status == 403
    assert post(f"{server.url}/cozygen/api/gallery/marks", {"ids": [ids["s1.png"]], "set": {"rating": 2}},
                headers=people["vic"]).status == 403  # fmt: skip
    assert counts(server, people["vic"], subfolder="shelf")["favourite"] == 0


def test_sorts_sizes_dates_kinds_and_cursors(server, people, shelf) -> None:
    ann = people["ann"]
    newest_first = [f"s{n}.png" for n in range(6, 0, -1)]
    assert names(server, ann, subfolder="shelf") == newest_first  # the seed's listing: newest first
    assert names(server, ann, subfolder="shelf", sort="created") == newest_first
    assert names(server, ann, subfolder="shelf", sort="name") == sorted(newest_first)
    assert names(server, ann, subfolder="shelf", sort="size", order="asc") == newest_first[::-1]
    sizes = {i["filename"]: i["size"] for i in files(server, ann, subfolder="shelf")}
    low, high = sizes["s2.png"], sizes["s4.png"]
    assert names(server, ann, subfolder="shelf", min_size=low, max_size=high) == ["s4.png", "s3.png", "s2.png"]
    assert names(server, ann, subfolder="shelf", since="2026-01-04", until="2026-01-05") == ["s4.png", "s3.png"]
    assert names(server, ann, subfolder="shelf", since=EPOCH + 5 * 86400) == ["s6.png", "s5.png"]
    assert names(server, ann, subfolder="shelf", kind="video") == []
    assert names(server, ann, subfolder="shelf", kind="animated") == []

    for sort in ("mtime", "created", "name", "size", "rating"):
        walked, cursor = [], None
        while True:
            query = {"subfolder": "shelf", "sort": sort, "per_page": 2, **({"cursor": cursor} if cursor else {})}
            body = listing(server, ann, **query)
            assert body["page"] == (None if cursor else 1)
            walked += [i["filename"] for i in body["items"]]
            cursor = body["next_cursor"]
            if cursor is None:
                break
        assert walked == names(server, ann, subfolder="shelf", sort=sort), sort

    # an animated GIF is an image, and the animated one
    frames = [Image.new("RGB", (5, 5), c) for c in ("red", "blue")]
    frames[0].save(server.output_dir / "shelf" / "moving.gif", save_all=True, append_images=frames[1:], duration=50)
    found = indexed(server, ann, 1, subfolder="shelf", kind="animated")
    assert found["moving.gif"]["kind"] == "animated" and found["moving.gif"]["width"] == 5
    assert "moving.gif" in names(server, ann, subfolder="shelf", kind="image")
    (server.output_dir / "shelf" / "moving.gif").unlink()
    indexed(server, ann, 6, subfolder="shelf")


def test_a_listing_without_the_new_parameters_answers_as_before(server, people, shelf) -> None:
    save_png(server.output_dir / "before" / "x.png", 40, mtime=EPOCH)
    save_png(server.output_dir / "before" / "inner" / "y.png", 41, mtime=EPOCH + 1)
    found = indexed(server, people["ann"], 1, subfolder="before")
    assert put_marks(server, people["ann"], found["x.png"]["id"], {"rejected": True}).status == 200
    body = listing(server, people["ann"], subfolder="before", per_page=20)
    assert [(i["type"], i["filename"]) for i in body["items"]] == [("directory", "inner"), ("output", "x.png")]
    assert (body["page"], body["per_page"], body["total_pages"], body["total_items"]) == (1, 20, 1, 2)
    file_item = body["items"][1]
    assert {"filename", "type", "subfolder", "mtime", "id"} <= set(file_item)
    assert file_item["subfolder"] == "before" and file_item["mtime"] == EPOCH
    narrowed = listing(server, people["ann"], subfolder="before", rejected="only")
    assert [i["filename"] for i in narrowed["items"]] == ["x.png"]  # no folder items when narrowed
    kept = listing(server, people["ann"], subfolder="before", rejected="hide")
    assert [i["filename"] for i in kept["items"]] == ["inner"]


def test_compare_two_images(server, people) -> None:
    save_png(server.output_dir / "cmp" / "a.png", 7, steps=20, lora=0.8)
    save_png(server.output_dir / "cmp" / "b.png", 8, steps=30, lora=0.6)
    found = indexed(server, people["ann"], 2, subfolder="cmp")
    a, b = found["a.png"]["id"], found["b.png"]["id"]
    reply = get(f"{server.url}/cozygen/api/images/compare?a={a}&b={b}", headers=people["vic"])
    assert reply.status == 200, reply.body
    body = reply.json()
    assert body["a"]["id"] == a and body["b"]["id"] == b and body["a"]["fields"]["seed"] == 7
    differences = {d["name"]: (d["a"], d["b"]) for d in body["differences"]}
    assert differences == {
        "seed": (7, 8),
        "steps": (20, 30),
        "positive": ("a lantern number 7", "a lantern number 8"),
        "lora:detail.safetensors": (0.8, 0.6),
    }
    same = {s["name"]: s["value"] for s in body["same"]}
    assert same["cfg"] == 6.5 and same["sampler"] == "euler" and same["lora_clip:detail.safetensors"] == 1.0


def upload(server, headers: dict[str, str], name: str) -> str:
    data = io.BytesIO()
    Image.new("RGB", (4, 4), "green").save(data, format="PNG")

    async def send() -> tuple[int, Any]:
        form = aiohttp.FormData()
        form.add_field("image", data.getvalue(), filename=name, content_type="image/png")
        async with aiohttp.ClientSession() as session:
            async with session.post(f"{server.url}/cozygen/upload_image", data=form, headers=headers) as response:
                return response.status, await response.json()

    status, body = asyncio.run(send())
    assert status == 200, body
    return str(body["filename"])


def test_delete_rejected_to_the_trash_and_back(server, people) -> None:
    ann = people["ann"]
    for n in range(3):
        save_png(server.output_dir / "cull" / f"c{n}.png", 20 + n)
    save_png(server.output_dir / "cull" / "deeper" / "d.png", 30)
    found = indexed(server, ann, 3, subfolder="cull")
    deeper = indexed(server, ann, 1, subfolder="cull/deeper")
    for item in (found["c0.png"], found["c1.png"], deeper["d.png"]):
        assert put_marks(server, ann, item["id"], {"rejected": True, "rating": 1}).status == 200
    assert put_marks(server, people["bob"], found["c2.png"]["id"], {"rejected": True}).status == 200

    deleted = post(f"{server.url}/cozygen/api/gallery/delete_rejected", {"subfolder": "cull"}, headers=ann)
    assert deleted.status == 200, deleted.body
    body = deleted.json()
    assert body["ok"] is True and body["deleted"] == 2 and body["batch"]
    assert sorted(p.name for p in (server.output_dir / "cull").glob("*.png")) == ["c2.png"]  # bob's reject stays
    assert (server.output_dir / "cull" / "deeper" / "d.png").exists()  # not recursive
    again = post(f"{server.url}/cozygen/api/gallery/delete_rejected", {"subfolder": "cull"}, headers=ann)
    assert again.json() == {"ok": True, "deleted": 0, "batch": None}

    restored = post(f"{server.url}/cozygen/api/gallery/restore", {"batch": body["batch"]}, headers=ann)
    assert restored.status == 200 and len(restored.json()["restored"]) == 2
    back = {i["filename"]: i for i in files(server, ann, subfolder="cull")}
    assert set(back) == {"c0.png", "c1.png", "c2.png"}
    assert back["c0.png"]["marks"] == {"favourite": False, "rejected": True, "rating": 1}  # its marks came back
    assert names(server, ann, subfolder="cull", rejected="hide") == ["c2.png"]

    everything = post(f"{server.url}/cozygen/api/gallery/delete_rejected", {"subfolder": "cull", "recursive": True},
                      headers=ann)  # fmt: skip
    assert everything.json()["deleted"] == 3
    assert not (server.output_dir / "cull" / "deeper" / "d.png").exists()
    assert post(f"{server.url}/cozygen/api/gallery/delete_rejected", {}, headers=people["vic"]).status == 403


def test_the_input_folder_as_a_gallery_per_user(server, people) -> None:
    ann, bob = people["ann"], people["bob"]
    save_png(server.input_dir / "nobodys.png", 50)
    anns = upload(server, ann, "anns.png")
    bobs = upload(server, bob, "bobs.png")
    deadline = time.monotonic() + 20
    while True:
        everything = {i["filename"]: i for i in files(server, people["admin"], type="input")}
        if {"nobodys.png", anns, bobs} <= set(everything) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert {"nobodys.png", anns, bobs} <= set(everything)
    assert {i["type"] for i in everything.values()} == {"input"}
    others = set(everything) - {anns, bobs}  # the input folder's own files are nobody's
    changed = request("PATCH", f"{server.url}/cozygen/api/settings", {"gallery_visibility": "per_user"},
                      headers=people["admin"])  # fmt: skip
    assert changed.status == 200, changed.body
    try:
        assert set(names(server, ann, type="input")) == others | {anns}
        assert set(names(server, bob, type="input")) == others | {bobs}
        assert counts(server, bob, type="input")["total"] == len(others) + 1
        theirs = everything[anns]["id"]
        assert put_marks(server, bob, theirs, {"favourite": True}).status == 404
        assert put_marks(server, bob, everything[bobs]["id"], {"favourite": True}).status == 200
        assert names(server, bob, type="input", favourite=1) == [bobs]
        refused = post(f"{server.url}/cozygen/api/gallery/marks", {"ids": [theirs], "set": {"rating": 1}}, headers=bob)
        assert refused.status == 404
        assert get(f"{server.url}/cozygen/api/images/compare?a={theirs}&b={theirs}", headers=bob).status == 404
    finally:
        request(
            "PATCH", f"{server.url}/cozygen/api/settings", {"gallery_visibility": "shared"}, headers=people["admin"]
        )


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ({"sort": "stars"}, "INVALID_SORT"),
        ({"order": "up"}, "INVALID_ORDER"),
        ({"kind": "gif"}, "INVALID_KIND"),
        ({"type": "temp"}, "INVALID_TYPE"),
        ({"rejected": "maybe"}, "INVALID_REJECTED"),
        ({"min_rating": 7}, "INVALID_RATING"),
        ({"min_rating": "high"}, "INVALID_RATING"),
        ({"min_size": -1}, "INVALID_SIZE"),
        ({"max_size": "big"}, "INVALID_SIZE"),
        ({"min_size": 10, "max_size": 5}, "INVALID_SIZE"),
        ({"min_size": 2**70}, "INVALID_SIZE"),
        ({"since": "yesterday"}, "INVALID_DATE"),
        ({"until": "2026-13-01"}, "INVALID_DATE"),
        ({"since": "2026-02-01", "until": "2026-01-01"}, "INVALID_DATE"),
        ({"since": "nan"}, "INVALID_DATE"),
    ],
)
def test_bad_listing_parameters_are_400s_with_codes(server, people, query: dict[str, Any], code: str) -> None:
    for path in ("/cozygen/api/gallery", "/cozygen/api/gallery/counts"):
        reply = get(f"{server.url}{path}?" + urlencode(query), headers=people["ann"])
        assert (reply.status, reply.json()["code"]) == (400, code), (path, reply.body)


def test_bad_marks_ids_cursors_and_bodies(server, people, shelf) -> None:
    ann, some = people["ann"], shelf["s1.png"]["id"]
    cases = [
        (put_marks(server, ann, some, {"rating": 7}), 400, "INVALID_RATING"),
        (put_marks(server, ann, some, {"rating": "5"}), 400, "INVALID_RATING"),
        (put_marks(server, ann, some, {"favourite": True, "rejected": True}), 400, "CONFLICTING_MARKS"),
        (put_marks(server, ann, some, {"stars": 3}), 400, "INVALID_MARKS"),
        (put_marks(server, ann, some, []), 400, "INVALID_JSON"),
        (put_marks(server, ann, 999_999, {"rating": 1}), 404, "IMAGE_NOT_FOUND"),
        (put_marks(server, ann, "abc", {"rating": 1}), 400, "INVALID_ID"),
        (post(f"{server.url}/cozygen/api/gallery/marks", {"ids": [some]}, headers=ann), 400, "INVALID_MARKS"),
        (post(f"{server.url}/cozygen/api/gallery/marks", {"ids": [], "set": {"rating": 1}}, headers=ann), 400,
         "EMPTY_SELECTION"),
        (post(f"{server.url}/cozygen/api/gallery/marks", {"ids": [999_999], "set": {"rating": 1}}, headers=ann), 404,
         "IMAGE_NOT_FOUND"),
        (post(f"{server.url}/cozygen/api/gallery/marks", {"set": {"rating": 1}}, headers=ann), 400,
         "INVALID_SELECTION"),
        (get(f"{server.url}/cozygen/api/images/compare?a={some}", headers=ann), 400, "MISSING_ID"),
        (get(f"{server.url}/cozygen/api/images/compare?a={some}&b=x", headers=ann), 400, "INVALID_ID"),
        (get(f"{server.url}/cozygen/api/images/compare?a={some}&b=999999", headers=ann), 404, "IMAGE_NOT_FOUND"),
        (post(f"{server.url}/cozygen/api/gallery/delete_rejected", {"subfolder": "../x"}, headers=ann), 400,
         "INVALID_PATH"),
        (post(f"{server.url}/cozygen/api/gallery/delete_rejected", {"subfolder": "nowhere"}, headers=ann), 404,
         "FOLDER_NOT_FOUND"),
        (post(f"{server.url}/cozygen/api/gallery/delete_rejected", {"type": "temp"}, headers=ann), 400,
         "INVALID_TYPE"),
        (post(f"{server.url}/cozygen/api/gallery/delete_rejected", {"recursive": "yes"}, headers=ann), 400,
         "INVALID_RECURSIVE"),
        (get(f"{server.url}/cozygen/api/gallery/counts?subfolder=nowhere", headers=ann), 404, "FOLDER_NOT_FOUND"),
    ]  # fmt: skip
    assert [(r.status, r.json()["code"]) for r, _, _ in cases] == [(status, code) for _, status, code in cases]
    by_name = listing(server, ann, subfolder="shelf", sort="name", per_page=2)["next_cursor"]
    other_sort = urlencode({"subfolder": "shelf", "sort": "size", "cursor": by_name})
    wrong = get(f"{server.url}/cozygen/api/gallery?{other_sort}", headers=ann)
    assert (wrong.status, wrong.json()["code"]) == (400, "INVALID_CURSOR")
