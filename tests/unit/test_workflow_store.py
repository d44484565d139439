"""core.workflows.store: saves, and who may change which workflow (shipped, saved by someone, saved by nobody)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cozygen.core.errors import BadRequest, Forbidden, NotFound
from cozygen.core.store.db import Database
from cozygen.core.workflows import store as ws

GRAPH = {"1": {"class_type": "EmptyImage", "inputs": {"width": 8, "height": 8}}}
ALICE, BOB = ws.Editor("alice", admin=False), ws.Editor("bob", admin=False)
ADMIN, NOBODY = ws.Editor("root", admin=True), ws.Editor(None, admin=True)  # NOBODY: auth is off


@pytest.fixture
def store(tmp_path: Path) -> ws.WorkflowStore:
    shipped = tmp_path / "shipped"
    shipped.mkdir()
    (shipped / "Example.json").write_text(json.dumps(GRAPH))
    return ws.WorkflowStore(shipped, tmp_path / "saved")


def graph(width: int) -> dict[str, Any]:
    return {"1": {"class_type": "EmptyImage", "inputs": {"width": width, "height": 8}}}


def saver(db: Database, store: ws.WorkflowStore) -> Callable[..., str]:
    def save(editor: ws.Editor, name: str, data: Any = None) -> str:
        filename, text = store.prepare(name, data if data is not None else GRAPH)
        return db.submit_write(lambda conn: ws.save_owned(conn, store, filename, text, editor)).result()

    return save


def owner(db: Database, name: str) -> str | None:
    return db.read(lambda conn: ws.owner_of(conn, name))


def refused(code: str, fn: Callable[[], Any], kind: type = Forbidden) -> str:
    with pytest.raises(kind) as caught:
        fn()
    assert caught.value.code == code
    return caught.value.message


def test_a_new_workflow_is_its_savers_and_only_they_and_admins_change_it(db, store) -> None:
    save = saver(db, store)
    assert save(ALICE, "mine") == "mine.json" and owner(db, "mine.json") == "alice"
    assert save(ALICE, "mine.json", graph(16)) == "mine.json"
    message = refused("NOT_YOUR_WORKFLOW", lambda: save(BOB, "mine.json", graph(99)))
    assert "another user's" in message and "another name" in message and "alice" not in message
    refused("NOT_YOUR_WORKFLOW", lambda: save(BOB, "MINE.json", graph(99)))  # a case-blind disk is one file
    assert store.read("mine.json") == graph(16) and sorted(p.name for p in store.user.iterdir()) == ["mine.json"]
    assert save(ADMIN, "Mine.json", graph(32)) == "mine.json"  # the file as it is spelled
    assert store.read("mine.json") == graph(32) and owner(db, "mine.json") == "alice"  # still alice's


def test_shipped_examples_are_changed_by_admins_only(db, store) -> None:
    save = saver(db, store)
    for editor in (ALICE, BOB):
        for name in ("Example.json", "example.json", "EXAMPLE"):
            message = refused("SHIPPED_WORKFLOW", lambda e=editor, n=name: save(e, n, graph(99)))
            assert "only an admin" in message
    assert not store.user.exists()  # nothing written
    assert save(ADMIN, "example.json", graph(64)) == "Example.json"  # a copy that wins over the shipped one
    assert store.read("Example.json") == graph(64) and owner(db, "Example.json") == "root"
    refused("NOT_YOUR_WORKFLOW", lambda: save(ALICE, "Example.json"))


def test_a_workflow_without_an_owner_is_shared_so_admins_change_it(db, store) -> None:
    store.user.mkdir()
    (store.user / "old.json").write_text(json.dumps(GRAPH))  # saved before owners were kept
    save = saver(db, store)
    message = refused("NOT_YOUR_WORKFLOW", lambda: save(ALICE, "old.json", graph(99)))
    assert "shared" in message and "admin" in message
    assert save(ADMIN, "old.json", graph(16)) == "old.json" and owner(db, "old.json") is None
    assert save(NOBODY, "open.json") == "open.json" and owner(db, "open.json") is None  # auth off: nobody's
    refused("NOT_YOUR_WORKFLOW", lambda: save(BOB, "open.json"))


def test_an_owner_row_without_its_file_names_nobody(db, store) -> None:
    save = saver(db, store)
    save(BOB, "gone.json")
    (store.user / "gone.json").unlink()  # removed outside CozyGen
    assert save(ALICE, "gone.json") == "gone.json" and owner(db, "gone.json") == "alice"
    save(BOB, "again.json")
    (store.user / "again.json").unlink()
    save(NOBODY, "again.json")
    assert owner(db, "again.json") is None


def test_a_failed_write_claims_nothing(db, store, monkeypatch) -> None:
    def broken(_filename: str, _text: bytes) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(store, "write", broken)
    with pytest.raises(OSError):
        saver(db, store)(ALICE, "full.json")
    assert owner(db, "full.json") is None


def test_deleting_and_changing_what_is_kept_beside_a_workflow(db, store) -> None:
    save = saver(db, store)
    save(ALICE, "mine.json")

    def change(editor: ws.Editor, name: str) -> str:
        return db.submit_write(lambda conn: ws.require_existing_change(conn, store, name, editor)).result()

    def delete(editor: ws.Editor, name: str) -> str:
        return db.submit_write(lambda conn: ws.delete_owned(conn, store, name, editor)).result()

    assert change(ALICE, "mine") == "mine.json" and change(ADMIN, "mine.json") == "mine.json"
    refused("NOT_YOUR_WORKFLOW", lambda: change(BOB, "mine.json"))
    refused("SHIPPED_WORKFLOW", lambda: change(BOB, "Example.json"))
    assert change(ADMIN, "Example.json") == "Example.json"
    refused("WORKFLOW_NOT_FOUND", lambda: change(BOB, "nothing.json"), NotFound)
    refused("NOT_YOUR_WORKFLOW", lambda: delete(BOB, "mine.json"))
    assert (store.user / "mine.json").is_file()
    refused("SHIPPED_WORKFLOW", lambda: delete(ADMIN, "Example.json"), BadRequest)
    refused("WORKFLOW_NOT_FOUND", lambda: delete(ALICE, "nothing.json"), NotFound)
    assert delete(ALICE, "MINE.json") == "mine.json"
    assert not (store.user / "mine.json").exists() and owner(db, "mine.json") is None


def test_prepare_refuses_what_cannot_be_stored(store) -> None:
    deep: dict[str, Any] = {}
    inner = deep
    for _ in range(400):
        inner["x"] = {}
        inner = inner["x"]
    refused("INVALID_WORKFLOW", lambda: store.prepare("deep", {"1": {"class_type": "A", "inputs": deep}}), BadRequest)
    refused("UI_FORMAT", lambda: store.prepare("ui", {"nodes": [], "links": []}), BadRequest)
    refused("NOT_API_FORMAT", lambda: store.prepare("x", {"1": {"inputs": {}}}), BadRequest)
    name, text = store.prepare("ok", {"1": {"class_type": "A", "inputs": {"text": "é"}}})
    assert name == "ok.json" and json.loads(text) == {"1": {"class_type": "A", "inputs": {"text": "é"}}}


def test_a_workflow_file_nested_too_deep_is_refused_not_a_crash(store: ws.WorkflowStore, tmp_path: Path) -> None:
    (tmp_path / "shipped" / "deep.json").write_text("[" * 5000 + "]" * 5000)
    (tmp_path / "shipped" / "deeper.json").write_text('{"a":' * 100 + "1" + "}" * 100)
    for name in ("deep.json", "deeper.json"):
        with pytest.raises(BadRequest):
            store.read(name)
