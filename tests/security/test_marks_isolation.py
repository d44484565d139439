"""Marks under per_user: bob cannot mark, count, compare, list or delete the rejects of what is alice's (each a 404
as for an image that does not exist), and marks are each user's own, even on a file both may see."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlencode

from household import Household
from PIL import Image
from support import get, post, request

MISSING = 2**62  # no image has this id


def marks_of(home: Household, who: str, image_id: Any, body: Any) -> Any:
    return request("PUT", f"{home.url}/cozygen/api/images/{image_id}/marks", body, headers=home.as_(who))


def listed(home: Household, who: str, **query: Any) -> list[dict[str, Any]]:
    reply = get(
        f"{home.url}/cozygen/api/gallery?" + urlencode({"recursive": "true", "per_page": 500, **query}),
        headers=home.as_(who),
    )
    assert reply.status == 200, reply.body
    return [i for i in reply.json()["items"] if i["type"] != "directory"]


def counts(home: Household, who: str, **query: Any) -> dict[str, Any]:
    reply = get(
        f"{home.url}/cozygen/api/gallery/counts?" + urlencode({"recursive": "true", **query}), headers=home.as_(who)
    )
    assert reply.status == 200, reply.body
    return reply.json()


def refused_as_missing(reply: Any, missing: Any) -> bool:
    """A 404 with the very code a missing image gets."""
    return reply.status == 404 and reply.json()["code"] == missing.json()["code"]


def test_bob_cannot_reach_alices_images_through_marks(household: Household) -> None:
    alices = household.alice_image["id"]
    bob_job = household.generate("bob", "bobs own harbour", 77)
    bobs = household.image_id(bob_job["images"][0])
    assert marks_of(household, "alice", alices, {"favourite": True, "rating": 5}).status == 200

    attempts = {
        "mark": lambda image_id: marks_of(household, "bob", image_id, {"rejected": True}),
        "mark many": lambda image_id: post(
            f"{household.url}/cozygen/api/gallery/marks", {"ids": [image_id], "set": {"rating": 1}},
            headers=household.as_("bob")),
        "compare as a": lambda image_id: get(
            f"{household.url}/cozygen/api/images/compare?a={image_id}&b={bobs}", headers=household.as_("bob")),
        "compare as b": lambda image_id: get(
            f"{household.url}/cozygen/api/images/compare?a={bobs}&b={image_id}", headers=household.as_("bob")),
    }  # fmt: skip
    for what, attempt in attempts.items():
        assert refused_as_missing(attempt(alices), attempt(MISSING)), what

    # what bob lists and counts holds none of alice's, whatever the filter or sort
    for query in ({}, {"favourite": 1}, {"min_rating": 5}, {"sort": "rating"}, {"rejected": "hide"}, {"sort": "size"}):
        assert alices not in {i["id"] for i in listed(household, "bob", **query)}, query
    assert counts(household, "bob")["total"] == len(listed(household, "bob"))
    assert counts(household, "bob")["favourite"] == 0 and counts(household, "bob")["ratings"]["5"] == 0

    # a selection by query is bob's files alone, and leaves alice's marks as they were
    everything = post(
        f"{household.url}/cozygen/api/gallery/marks",
        {"query": "recursive=1", "set": {"rejected": True}},
        headers=household.as_("bob"),
    )
    assert everything.status == 200 and everything.json()["updated"] == len(listed(household, "bob"))
    alice_sees = {i["id"]: i["marks"] for i in listed(household, "alice")}
    assert alice_sees[alices] == {"favourite": True, "rejected": False, "rating": 5}

    # bob's delete of his rejects takes his files only
    deleted = post(
        f"{household.url}/cozygen/api/gallery/delete_rejected", {"recursive": True}, headers=household.as_("bob")
    )
    assert deleted.status == 200 and deleted.json()["deleted"] >= 1
    assert bobs not in {i["id"] for i in listed(household, "admin")}
    path = household.server.output_dir / household.alice_image["subfolder"] / household.alice_image["filename"]
    assert path.exists() and alices in {i["id"] for i in listed(household, "alice")}
    restored = post(f"{household.url}/cozygen/api/gallery/restore", {"batch": deleted.json()["batch"]},
                    headers=household.as_("alice"))  # fmt: skip
    assert restored.status == 404  # alice cannot undo (or learn of) bob's delete

    # a viewer marks nothing
    assert marks_of(household, "vera", alices, {"favourite": True}).status == 403


def test_marks_on_a_file_both_see_are_each_users_own(household: Household) -> None:
    shared = household.server.input_dir / "everyones_marks.png"
    Image.new("RGB", (4, 4), "teal").save(shared)
    deadline = time.monotonic() + 20
    found: dict[str, Any] = {}
    while not found and time.monotonic() < deadline:
        found = {i["filename"]: i for i in listed(household, "bob", type="input") if i["filename"] == shared.name}
        time.sleep(0.1)
    file_id = found[shared.name]["id"]
    assert marks_of(household, "bob", file_id, {"rejected": True, "rating": 2}).status == 200
    assert marks_of(household, "alice", file_id, {"favourite": True}).status == 200

    alices = {i["filename"]: i for i in listed(household, "alice", type="input")}
    assert alices[shared.name]["marks"] == {"favourite": True, "rejected": False, "rating": 0}
    assert shared.name not in {i["filename"] for i in listed(household, "alice", type="input", rejected="only")}
    assert counts(household, "alice", type="input")["rejected"] == 0
    assert counts(household, "bob", type="input")["favourite"] == 0

    bob_deletes = post(f"{household.url}/cozygen/api/gallery/delete_rejected", {"type": "input"},
                       headers=household.as_("bob"))  # fmt: skip
    assert bob_deletes.status == 200 and bob_deletes.json()["deleted"] == 1  # his reject: a file he may see
    assert not shared.exists()
