"""Warm thumbnails against a real ComfyUI: a job's output has the thumbnails the app will ask for before anyone asks."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from support import get, job_done, until

from cozygen.core.gallery.thumbnail_warm import DEFAULT_SIZES
from cozygen.core.gallery.thumbnails import ThumbnailCache

FORM = "cozygen_procedural_form.json"
# What Chromium sends for an <img>; Safari and Firefox list image/webp too.
IMG_ACCEPT = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"


@pytest.fixture(scope="module")
def server(start_comfyui):
    return start_comfyui("ComfyUI-CozyGen-warm")


def cached_files(folder: Path) -> dict[str, int]:
    """Every thumbnail in the cache: name -> inode (a render writes a new file, so a new inode)."""
    found = {}
    for path in folder.rglob("*.*"):
        if not path.name.endswith(".tmp"):  # a render's temp file: it may go while listed
            found[path.name] = path.stat().st_ino
    return found


def test_a_new_output_is_warm_before_the_gallery_asks(server) -> None:
    job = job_done(server.url, {}, FORM, {"prompt": "a warm lantern", "seed": 5, "steps": 1, "size": 256})
    (image,) = job["images"]
    source = server.output_dir / image["subfolder"] / image["filename"]
    thumbs = server.user_dir / "cozygen" / "thumbs"
    keys = ThumbnailCache(thumbs)  # the server's own key scheme, read here (nothing in this process renders)
    stat = os.stat(source)
    expected = {keys.path_for(keys.key(stat, source.suffix, width, fmt), fmt).name for width, fmt in DEFAULT_SIZES}

    warmed = until(lambda: cached_files(thumbs), lambda found: expected <= set(found))  # no request made yet
    assert expected <= set(warmed), f"not warmed: {sorted(expected - set(warmed))}"

    listed = get(f"{server.url}/cozygen/api/gallery?subfolder={image['subfolder']}").json()["items"]
    (item,) = [i for i in listed if i["filename"] == image["filename"]]
    for width, fmt in DEFAULT_SIZES:  # the grid (by id) and the job's results and queue (by name), as the app asks
        for url in (
            f"{server.url}/cozygen/api/images/{item['id']}/thumb?w={width}",
            f"{server.url}/cozygen/thumb?filename={image['filename']}&subfolder={image['subfolder']}&w={width}"
            f"&v={item['mtime']}",
        ):
            reply = get(url, headers={"Accept": IMG_ACCEPT})
            assert reply.status == 200 and reply.content_type == f"image/{fmt}"
            key = reply.headers["ETag"].strip('"')
            assert keys.path_for(key, fmt).name in expected
    after = cached_files(thumbs)
    assert {name: after[name] for name in expected} == {name: warmed[name] for name in expected}  # none rendered again
