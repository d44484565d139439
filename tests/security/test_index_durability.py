"""The gallery index keeps up with files written the way other programs write them, on a real ComfyUI.

A burst of PNGs is written as hidden partial files (the first half of their bytes, no IEND yet), each renamed to its
final name and then completed; other bursts go through one temporary name used again and again (renamed while
still being written, or complete: the usual atomic save). Every file must end up in the gallery, with its final size
and dimensions.
"""

from __future__ import annotations

import io
import os
import time
from pathlib import Path

import pytest
from PIL import Image
from support import get

COUNT = 200
TIMEOUT = 120.0


@pytest.fixture(scope="module")
def server(start_comfyui):
    return start_comfyui("ComfyUI-CozyGen-index")


def png(n: int) -> tuple[bytes, tuple[int, int]]:
    size = (8 + n % 17, 5 + n % 7)
    out = io.BytesIO()
    Image.new("RGB", size, (n % 256, 80, 160)).save(out, format="PNG")
    return out.getvalue(), size


def indexed(server, subfolder: str) -> dict[str, dict]:
    """filename -> metadata (size, width, height) of every file the gallery lists in ``subfolder``."""
    listed = get(f"{server.url}/cozygen/api/gallery?subfolder={subfolder}&per_page=500")
    assert listed.status == 200, listed.body
    found = {}
    for entry in listed.json()["items"]:
        if entry["type"] == "directory":
            continue
        meta = get(f"{server.url}/cozygen/api/images/{entry['id']}/metadata")
        if meta.status == 200:
            found[entry["filename"]] = meta.json()
    return found


def wait_for_all(server, subfolder: str, expected: dict[str, tuple[bytes, tuple[int, int]]]) -> None:
    deadline = time.monotonic() + TIMEOUT
    while True:
        found = indexed(server, subfolder)
        wrong = sorted(
            name
            for name, (data, (width, height)) in expected.items()
            if name not in found
            or (found[name]["size"], found[name]["width"], found[name]["height"]) != (len(data), width, height)
        )
        if not wrong:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{len(wrong)} of {len(expected)} files missing or wrong in the gallery: {wrong[:5]}")
        time.sleep(0.25)


def watched_folder(server, name: str) -> Path:
    """A new output subfolder the watcher has taken in already (a marker in it is indexed): what is written
    next reaches the index through the watcher's events, not through the new folder being read whole."""
    folder = server.output_dir / name
    folder.mkdir()
    data, size = png(999)
    (folder / "marker.png").write_bytes(data)
    wait_for_all(server, name, {"marker.png": (data, size)})
    return folder


def test_pngs_renamed_into_place_half_written_and_then_completed_are_all_indexed(server) -> None:
    folder = watched_folder(server, "burst")
    files = {f"burst_{n:03d}.png": png(n) for n in range(COUNT)}
    for n, (data, _size) in enumerate(files.values()):
        (folder / f".x{n}.tmp").write_bytes(data[: len(data) // 2])
    for n, name in enumerate(files):
        os.rename(folder / f".x{n}.tmp", folder / name)
    for name, (data, _size) in files.items():
        with open(folder / name, "ab") as handle:
            handle.write(data[len(data) // 2 :])
    wait_for_all(server, "burst", files)


def test_pngs_written_through_one_temporary_name_are_all_indexed(server) -> None:
    folder = watched_folder(server, "onetemp")
    files = {f"one_{n:03d}.png": png(n) for n in range(COUNT)}
    for name, (data, _size) in files.items():
        with open(folder / ".writing.tmp", "wb") as handle:
            handle.write(data[: len(data) // 2])
            handle.flush()
            os.rename(folder / ".writing.tmp", folder / name)  # renamed while still being written
            handle.write(data[len(data) // 2 :])
    wait_for_all(server, "onetemp", files)


def test_pngs_saved_atomically_through_one_temporary_name_are_all_indexed(server) -> None:
    """The usual atomic save (write a temporary file, rename it over the final name), with one temporary name."""
    folder = watched_folder(server, "atomic")
    files = {f"atomic_{n:03d}.png": png(n) for n in range(COUNT)}
    for name, (data, _size) in files.items():
        (folder / ".save.tmp").write_bytes(data)
        os.replace(folder / ".save.tmp", folder / name)
    wait_for_all(server, "atomic", files)
