"""Restores at the same moment, over HTTP on a real ComfyUI: same-named trash entries all come back, none over
another; one entry restored by several requests at once comes back once; copies to input get names of their own."""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest
from PIL import Image
from support import at_once, get, post, request

COUNT = 12
TIMEOUT = 60.0


@pytest.fixture(scope="module")
def server(start_comfyui):
    return start_comfyui("ComfyUI-CozyGen-trash-race")


def png(n: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (n + 1, 3), (n * 20 % 256, 10, 200)).save(out, format="PNG")
    return out.getvalue()


def image_id(server, subfolder: str, filename: str) -> int:
    """The gallery id of a file the watcher indexes (polled until it is listed)."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        listed = get(f"{server.url}/cozygen/api/gallery?subfolder={subfolder}&per_page=500")
        if listed.status == 200:
            for entry in listed.json()["items"]:
                if entry["filename"] == filename and entry.get("id") is not None:
                    return int(entry["id"])
        time.sleep(0.05)
    raise AssertionError(f"{subfolder}/{filename} was never indexed")


def trash_same_named(server, subfolder: str, count: int) -> list[str]:
    folder = server.output_dir / subfolder
    folder.mkdir()
    ids = []
    for n in range(count):
        (folder / "x.png").write_bytes(png(n))
        deleted = request("DELETE", f"{server.url}/cozygen/api/images/{image_id(server, subfolder, 'x.png')}")
        assert deleted.status == 200, deleted.body
        ids += deleted.json()["trash_ids"]
        assert not (folder / "x.png").exists()
    return ids


def contents(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


def test_same_named_entries_restored_at_once_all_come_back(server) -> None:
    ids = trash_same_named(server, "race", COUNT)
    replies = at_once(lambda trash_id: post(f"{server.url}/cozygen/api/gallery/restore", {"ids": [trash_id]}), ids)
    assert [r.status for r in replies] == [200] * COUNT
    restored = sorted(item["filename"] for r in replies for item in r.json()["restored"])
    files = contents(server.output_dir / "race")
    assert sorted(files) == restored and len(files) == COUNT
    assert sorted(files.values()) == sorted(png(n) for n in range(COUNT))  # every file with its own content


def test_one_entry_restored_by_several_requests_at_once_comes_back_once(server) -> None:
    (trash_id,) = trash_same_named(server, "once", 1)
    replies = at_once(lambda _n: post(f"{server.url}/cozygen/api/gallery/restore", {"ids": [trash_id]}), [0] * 8)
    assert {r.status for r in replies} <= {200, 404}
    restored = [item["filename"] for r in replies if r.status == 200 for item in r.json()["restored"]]
    assert restored == ["x.png"]
    assert contents(server.output_dir / "once") == {"x.png": png(0)}


def test_copies_to_input_at_once_get_names_of_their_own(server) -> None:
    folder = server.output_dir / "copies"
    folder.mkdir()
    (folder / "a.png").write_bytes(png(5))
    found = image_id(server, "copies", "a.png")
    replies = at_once(lambda _n: post(f"{server.url}/cozygen/api/images/{found}/to-input"), [0] * 8)
    assert [r.status for r in replies] == [200] * 8
    names = {r.json()["filename"] for r in replies}
    copied = {name: data for name, data in contents(server.input_dir).items() if name in names}
    assert len(names) == 8 and set(copied.values()) == {png(5)}
    assert not [p.name for p in server.input_dir.iterdir() if p.name.endswith(".part")]  # nothing left aside
