"""Under per_user, bob cannot move, delete, zip or take the folders of alice's images: every way in is refused as if
the image did not exist, or (a folder holding her files) as not his, and nothing of hers changes."""

from __future__ import annotations

import time
from typing import Any

from household import Household
from support import StreamEvents, get, request


def manage(home: Household, who: str, method: str, path: str, body: Any = None) -> Any:
    return request(method, f"{home.url}/cozygen/api/gallery/{path}", body, headers=home.as_(who))


def alices_folder(home: Household) -> tuple[str, int, str]:
    """A folder of alice's holding one new image of hers: (folder, image id, file name)."""
    image = home.generate("alice", "alicesecret folder piece", 5151)["images"][0]
    image_id = home.image_id(image)
    assert manage(home, "alice", "POST", "folders", {"name": "alice-private"}).status == 201
    with (
        StreamEvents(home.url, home.as_("alice"), "/cozygen/api/gallery/stream?recursive=true") as hers,
        StreamEvents(home.url, home.as_("bob"), "/cozygen/api/gallery/stream?recursive=true") as bobs,
    ):
        moved = manage(home, "alice", "POST", "move", {"ids": [image_id], "to": "alice-private"})
        assert moved.status == 200, moved.body
        deadline = time.monotonic() + 20
        while not any(d.get("event") == "moved" for _, d in hers.events) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # anything the stream would (wrongly) give bob comes with hers
    assert any(d.get("event") == "moved" for _, d in hers.events)
    assert not [d for _, d in bobs.events if image["filename"] in str(d)]  # bob never hears of her move
    return "alice-private", image_id, image["filename"]


def test_bob_cannot_touch_alices_images_or_folders(household: Household) -> None:
    home = household
    folder, image_id, name = alices_folder(home)
    original = home.alice_image
    search = {"query": "search=alicesecret&recursive=1"}

    by_id = {
        "move": manage(home, "bob", "POST", "move", {"ids": [image_id], "to": ""}),
        "move of both of hers": manage(home, "bob", "POST", "move", {"ids": [image_id, original["id"]], "to": ""}),
        "delete_many": manage(home, "bob", "POST", "delete_many", {"ids": [image_id]}),
        "zip": manage(home, "bob", "POST", "zip", {"ids": [image_id]}),
        "zip of her first": manage(home, "bob", "POST", "zip", {"ids": [original["id"]]}),
    }
    assert {k: (r.status, r.json()["code"]) for k, r in by_id.items()} == dict.fromkeys(by_id, (404, "IMAGE_NOT_FOUND"))
    by_query = {
        "move": manage(home, "bob", "POST", "move", {**search, "to": ""}),
        "delete_many": manage(home, "bob", "POST", "delete_many", search),
        "zip": manage(home, "bob", "POST", "zip", search),
        "zip of her folder": manage(home, "bob", "POST", "zip", {"query": f"subfolder={folder}"}),
    }
    assert {k: (r.status, r.json()["code"]) for k, r in by_query.items()} == dict.fromkeys(
        by_query, (400, "EMPTY_SELECTION")
    )
    folders = {
        "rename": manage(home, "bob", "PATCH", "folders", {"subfolder": folder, "name": "bobs-now"}),
        "delete to trash": manage(home, "bob", "DELETE", f"folders?subfolder={folder}&trash=1"),
        "delete": manage(home, "bob", "DELETE", f"folders?subfolder={folder}"),
    }
    assert {k: (r.status, r.json()["code"]) for k, r in folders.items()} == dict.fromkeys(
        folders, (403, "FOLDER_NOT_YOURS")
    )
    sneaky = manage(home, "bob", "PATCH", "folders", {"subfolder": f"x/../{folder}", "name": "bobs-now"})
    assert (sneaky.status, sneaky.json()["code"]) == (400, "INVALID_PATH")

    # her zip is hers: a ticket is no key for anyone else
    ticket = manage(home, "alice", "POST", "zip", {"ids": [image_id]}).json()
    for who in ("bob", "vera"):
        taken = get(f"{home.url}{ticket['url']}", headers=home.as_(who))
        assert (taken.status, taken.json()["code"]) == (404, "ZIP_NOT_FOUND")
    assert get(f"{home.url}{ticket['url']}", headers=home.as_("alice")).status == 200

    # vera only reads
    for method, path, body in (
        ("POST", "folders", {"name": "veras"}),
        ("POST", "move", {"ids": [image_id], "to": ""}),
        ("POST", "delete_many", {"ids": [image_id]}),
        ("DELETE", f"folders?subfolder={folder}", None),
    ):
        assert manage(home, "vera", method, path, body).status == 403, path

    # nothing of hers moved
    assert (home.server.output_dir / folder / name).is_file()
    assert (home.server.output_dir / original["subfolder"] / original["filename"]).is_file()
    mine = get(f"{home.url}/cozygen/api/images/{image_id}/metadata", headers=home.as_("alice")).json()
    assert (mine["subfolder"], mine["filename"]) == (folder, name)
