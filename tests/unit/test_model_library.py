"""The model browser (core/models/library.py, hashing.py): listing, background hashes, previews, the model trash."""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path
from typing import Any

import pytest
from support import until
from unit.fake_host import FakeHost

from cozygen.core.errors import BadRequest, Conflict, NotFound
from cozygen.core.models.hashing import Hasher, Stamp, cached, stamp_of
from cozygen.core.models.library import ModelLibrary, model_name
from cozygen.core.store.db import Database


def put(host: FakeHost, folder: str, name: str, data: bytes) -> Path:
    """A model file on disk that ComfyUI (the fake) lists."""
    path = host.root / "models" / folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    host.models.setdefault(folder, [])
    if name not in host.models[folder]:
        host.models[folder].append(name)
    return path


class Library:
    """A ModelLibrary over a fake host, driven from the test's thread through one event loop."""

    def __init__(self, db: Database, host: FakeHost, data_dir: Path) -> None:
        self.changed: list[str] = []
        self.host = host
        self.loop = asyncio.new_event_loop()
        self.library = ModelLibrary(db, host, data_dir, self.changed.append)

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def listing(self, folder: str | None = None, q: str = "", limit: int = 100, offset: int = 0) -> dict[str, Any]:
        return self.run(self.library.listing(folder, q, limit, offset))

    def close(self) -> None:
        self.run(self.library.stop())
        self.loop.close()


@pytest.fixture
def host(tmp_path: Path) -> FakeHost:
    return FakeHost(tmp_path / "comfyui", models={"checkpoints": [], "loras": [], "vae": []})


@pytest.fixture
def lib(db: Database, host: FakeHost, tmp_path: Path) -> Any:
    library = Library(db, host, tmp_path / "data")
    yield library
    library.close()


def test_the_listing_shows_size_date_preview_and_pickles_with_counts_per_folder(lib: Library, host: FakeHost) -> None:
    a = put(host, "checkpoints", "a.safetensors", b"a" * 10)
    put(host, "checkpoints", "sub/b.ckpt", b"b" * 20)
    put(host, "loras", "style.safetensors", b"c" * 5)
    (a.parent / "a.preview.png").write_bytes(b"\x89PNG")
    os.utime(a, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))

    found = lib.listing()
    assert found["folders"] == [
        {"name": "checkpoints", "count": 2},
        {"name": "loras", "count": 1},
        {"name": "vae", "count": 0},
    ]
    assert found["total"] == 3
    first = found["models"][0]
    assert first == {
        "folder": "checkpoints",
        "name": "a.safetensors",
        "size": 10,
        "mtime": 1_700_000_000.0,
        "sha256": None,
        "preview": True,
        "pickle": False,
    }
    assert [(m["name"], m["preview"], m["pickle"]) for m in found["models"][1:]] == [
        ("sub/b.ckpt", False, True),
        ("style.safetensors", False, False),
    ]


def test_the_listing_filters_by_folder_and_name_and_pages(lib: Library, host: FakeHost) -> None:
    for n in range(5):
        put(host, "loras", f"Style-{n}.safetensors", b"x")
    put(host, "checkpoints", "style-base.safetensors", b"x")
    assert lib.listing(q="STYLE")["total"] == 6
    page = lib.listing(folder="loras", q="style", limit=2, offset=2)
    assert page["total"] == 5
    assert [m["name"] for m in page["models"]] == ["Style-2.safetensors", "Style-3.safetensors"]
    assert page["folders"][1] == {"name": "loras", "count": 5}  # counts ignore the filters


def test_hashes_come_in_the_background_and_are_cached_by_size_and_mtime(lib: Library, host: FakeHost) -> None:
    data = os.urandom(3 * 1024 * 1024 + 7)
    path = put(host, "vae", "v.safetensors", data)
    found = until(lambda: lib.listing("vae")["models"][0], lambda m: m["sha256"] is not None, timeout=20)
    assert found["sha256"] == hashlib.sha256(data).hexdigest()
    assert lib.listing("vae")["hashing"] == 0

    path.write_bytes(b"changed")  # another size and mtime: the cached hash no longer counts
    assert lib.listing("vae")["models"][0]["sha256"] in (None, hashlib.sha256(b"changed").hexdigest())
    found = until(lambda: lib.listing("vae")["models"][0], lambda m: m["sha256"] is not None, timeout=20)
    assert found["sha256"] == hashlib.sha256(b"changed").hexdigest()


def test_a_cached_hash_needs_the_same_size_and_mtime(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "m.safetensors"
    path.write_bytes(b"model")
    stamp = stamp_of(str(path))
    assert stamp is not None
    saved: list[tuple[Stamp, str]] = []
    hasher = Hasher(lambda s, sha: saved.append((s, sha)))
    hasher.want([stamp, stamp])  # asked twice: hashed once
    until(lambda: hasher.pending, lambda n: n == 0, timeout=10)
    assert saved == [(stamp, hashlib.sha256(b"model").hexdigest())]
    from cozygen.core.models.hashing import store

    db.submit_write(lambda conn: store(conn, stamp, saved[0][1])).result()
    assert db.read(lambda conn: cached(conn, [stamp])) == {stamp.path: saved[0][1]}
    moved = Stamp(stamp.path, stamp.size, stamp.mtime_ns + 1)
    assert db.read(lambda conn: cached(conn, [moved])) == {}


def test_a_preview_is_the_sidecar_image(lib: Library, host: FakeHost) -> None:
    model = put(host, "loras", "sub/s.safetensors", b"x")
    with pytest.raises(NotFound) as missing:
        lib.run(lib.library.preview("loras", "sub/s.safetensors"))
    assert missing.value.code == "NO_PREVIEW"
    (model.parent / "s.webp").write_bytes(b"RIFF")
    assert lib.run(lib.library.preview("loras", "sub/s.safetensors")) == str(model.parent / "s.webp")
    with pytest.raises(NotFound) as unknown:
        lib.run(lib.library.preview("loras", "other.safetensors"))
    assert unknown.value.code == "MODEL_NOT_FOUND"


@pytest.mark.parametrize(
    "name",
    ["../x.safetensors", "/etc/x.safetensors", "a\\b.safetensors", "notes.txt", "", "a/../../b.ckpt", "x\x00.pt"],
)
def test_names_that_are_no_model_in_a_folder_are_refused(name: str) -> None:
    with pytest.raises(BadRequest) as refused:
        model_name(name)
    assert refused.value.code == "INVALID_MODEL_NAME"


def test_a_deleted_model_goes_to_the_trash_with_its_sidecars_and_comes_back(
    lib: Library, host: FakeHost, db: Database, tmp_path: Path
) -> None:
    model = put(host, "checkpoints", "sub/m.safetensors", b"weights")
    (model.parent / "m.preview.png").write_bytes(b"png")
    (model.parent / "m.civitai.info").write_text("{}")
    trashed = lib.run(lib.library.trash("checkpoints", "sub/m.safetensors", by="admin"))
    assert trashed["folder"] == "checkpoints" and trashed["size"] == 7
    assert not model.exists() and not (model.parent / "m.preview.png").exists()
    kept = tmp_path / "data" / "model_trash" / trashed["id"]
    assert sorted(p.name for p in kept.iterdir()) == ["m.civitai.info", "m.preview.png", "m.safetensors"]
    assert lib.changed == ["checkpoints"]
    listed = lib.run(lib.library.trashed())
    assert [(t["id"], t["name"], t["deleted_by"]) for t in listed] == [(trashed["id"], "sub/m.safetensors", "admin")]
    audit = db.read(lambda conn: conn.execute("SELECT action, actor, target FROM audit_log").fetchall())
    assert [tuple(row) for row in audit] == [("model.delete", "admin", "checkpoints/sub/m.safetensors")]

    host.models["checkpoints"].remove("sub/m.safetensors")  # ComfyUI no longer lists it
    restored = lib.run(lib.library.restore(trashed["id"], by="admin"))
    assert restored == {"id": trashed["id"], "folder": "checkpoints", "name": "sub/m.safetensors", "size": 7}
    assert model.read_bytes() == b"weights" and (model.parent / "m.preview.png").exists()
    assert not kept.exists()
    assert lib.run(lib.library.trashed()) == []
    with pytest.raises(NotFound) as gone:
        lib.run(lib.library.restore(trashed["id"], by="admin"))
    assert gone.value.code == "TRASH_NOT_FOUND"


def test_a_restore_never_overwrites_a_model_of_the_same_name(lib: Library, host: FakeHost) -> None:
    put(host, "vae", "v.safetensors", b"old")
    trashed = lib.run(lib.library.trash("vae", "v.safetensors", by=None))
    put(host, "vae", "v.safetensors", b"new")
    with pytest.raises(Conflict) as taken:
        lib.run(lib.library.restore(trashed["id"], by=None))
    assert taken.value.code == "MODEL_EXISTS"
    assert (host.root / "models" / "vae" / "v.safetensors").read_bytes() == b"new"
    assert [t["id"] for t in lib.run(lib.library.trashed())] == [trashed["id"]]


def test_only_a_listed_model_can_be_deleted(lib: Library, host: FakeHost) -> None:
    stray = host.root / "models" / "vae" / "unlisted.safetensors"
    stray.parent.mkdir(parents=True, exist_ok=True)
    stray.write_bytes(b"x")
    with pytest.raises(NotFound):
        lib.run(lib.library.trash("vae", "unlisted.safetensors", by=None))
    assert stray.exists()


def test_an_unknown_folder_is_refused(lib: Library) -> None:
    with pytest.raises(BadRequest) as refused:
        lib.library.folder("../models")
    assert refused.value.code == "UNKNOWN_FOLDER"


def test_a_trash_entry_whose_file_is_gone_cannot_be_restored(lib: Library, host: FakeHost, tmp_path: Path) -> None:
    put(host, "vae", "gone.safetensors", b"x")
    trashed = lib.run(lib.library.trash("vae", "gone.safetensors", by=None))
    host.models["vae"].remove("gone.safetensors")
    (tmp_path / "data" / "model_trash" / trashed["id"] / "gone.safetensors").unlink()
    with pytest.raises(NotFound) as gone:
        lib.run(lib.library.restore(trashed["id"], by=None))
    assert gone.value.code == "TRASH_NOT_FOUND"
    assert not (host.root / "models" / "vae" / "gone.safetensors").exists()
