"""The editor's saved workflows: whose folder each user sees, namespaced names, conversion, checks, revisions."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from unit.fake_host import FakeHost

from cozygen.api.workflows import callers_store, require_revision
from cozygen.core.errors import BadRequest, Conflict, CozyGenError, NotFound
from cozygen.core.graph.schema import extract_schema
from cozygen.core.jobs.service import Caller
from cozygen.core.workflows.checks import WorkflowChecks
from cozygen.core.workflows.editor import editor_folder
from cozygen.core.workflows.store import Editor, WorkflowStore, require_change, save_owned

DATA = Path(__file__).resolve().parent.parent / "data" / "ui_workflows"
OBJECT_INFO: dict[str, Any] = json.loads((DATA / "object_info" / "comfyui_0.3.75_subset.json").read_text())
MODELS: dict[str, list[str]] = {"checkpoints": []}
COZY = (DATA / "cozygen_nodes.json").read_bytes()


def write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


@pytest.fixture
def world(tmp_path: Path) -> SimpleNamespace:
    """A host whose user directory holds ComfyUI's default folder and two multi-user folders (ann, bob)."""
    host = FakeHost(tmp_path / "comfyui")
    user_dir = Path(host.user_directory())
    write(user_dir / "users.json", json.dumps({"ann_1": "ann", "bob_2": "bob"}))
    write(user_dir / "default" / "workflows" / "shared.json", COZY)
    write(user_dir / "ann_1" / "workflows" / "portraits" / "mine.json", COZY)
    write(user_dir / "bob_2" / "workflows" / "secret.json", COZY)
    shipped, saved = tmp_path / "shipped", tmp_path / "data" / "workflows"
    write(shipped / "demo.json", json.dumps({"1": {"class_type": "CozyGenString", "inputs": {}}}))
    saved.mkdir(parents=True)
    return SimpleNamespace(host=host, user_dir=user_dir, shipped=shipped, saved=saved, tmp=tmp_path)


def store_of(world: SimpleNamespace, username: str | None, *, admin: bool, auth: bool = True) -> WorkflowStore:
    return WorkflowStore(world.shipped, world.saved, editor_folder(world.user_dir, username, admin=admin, auth=auth))


def test_whose_folder_each_user_sees(world) -> None:
    user_dir = world.user_dir
    assert editor_folder(user_dir, None, admin=False, auth=False) == user_dir / "default" / "workflows"
    assert editor_folder(user_dir, "ann", admin=False, auth=False) == user_dir / "default" / "workflows"
    assert editor_folder(user_dir, "ann", admin=False, auth=True) == user_dir / "ann_1" / "workflows"
    assert editor_folder(user_dir, "ann", admin=True, auth=True) == user_dir / "ann_1" / "workflows"  # her own
    assert editor_folder(user_dir, "root", admin=True, auth=True) == user_dir / "default" / "workflows"
    assert editor_folder(user_dir, "carl", admin=False, auth=True) is None  # no ComfyUI user of that name
    (user_dir / "users.json").write_text(json.dumps({"../escape": "carl", "default": "dave"}))
    assert editor_folder(user_dir, "carl", admin=False, auth=True) is None  # an id that is not a folder name
    assert editor_folder(user_dir, "dave", admin=False, auth=True) == user_dir / "default" / "workflows"
    (user_dir / "users.json").write_text("{not json")
    assert editor_folder(user_dir, "ann", admin=False, auth=True) is None


def test_the_list_holds_cozygens_then_the_editors_with_folders(world) -> None:
    folder = world.user_dir / "default" / "workflows"
    write(folder / "a" / "b" / "deep.json", COZY)
    write(folder / "notes.txt", "not a workflow")
    write(folder / ".hidden.json", COZY)
    write(folder / ".trash" / "old.json", COZY)
    store = store_of(world, None, admin=True, auth=False)
    entries = store.entries()
    assert [(e.name, e.source, e.folder) for e in entries] == [
        ("demo.json", "cozygen", ""),
        ("editor/shared.json", "editor", ""),
        ("editor/a/b/deep.json", "editor", "a/b"),
    ]
    assert store.cozygen_names() == ["demo.json"]  # seed 004's list
    assert all(len(e.revision) == 16 for e in entries)


def test_ann_never_lists_or_opens_bobs_editor_workflows(world) -> None:
    ann = store_of(world, "ann", admin=False)
    assert ann.names() == ["demo.json", "editor/portraits/mine.json"]
    escapes = ("editor/../bob_2/workflows/secret.json", "editor/../../default/workflows/shared.json")
    for name in ("editor/secret.json", *escapes):
        with pytest.raises((NotFound, BadRequest)):
            ann.read(name)
    carl = store_of(world, "carl", admin=False)  # no ComfyUI user of that name: CozyGen's workflows only
    assert carl.names() == ["demo.json"]
    with pytest.raises(NotFound):
        carl.read("editor/shared.json")
    bob = store_of(world, "bob", admin=False)
    assert bob.names() == ["demo.json", "editor/secret.json"]
    assert bob.read("editor/secret.json")["nodes"]


def test_a_link_leading_out_of_the_folder_is_neither_listed_nor_read(world) -> None:
    folder = world.user_dir / "default" / "workflows"
    outside = write(world.tmp / "outside" / "x.json", COZY)
    os.symlink(outside, folder / "link.json")
    os.symlink(outside.parent, folder / "linked_dir")
    store = store_of(world, None, admin=True, auth=False)
    assert store.names() == ["demo.json", "editor/shared.json"]
    with pytest.raises(BadRequest):
        store.read("editor/link.json")
    with pytest.raises(BadRequest):
        store.read("editor/linked_dir/x.json")
    with pytest.raises(NotFound):
        store.read("editor/notes")  # only .json files


def test_a_ui_workflow_converts_and_keeps_its_document(world) -> None:
    store = store_of(world, None, admin=True, auth=False)
    graph = store.graph("editor/shared.json", OBJECT_INFO)
    assert {n["class_type"] for n in graph.values()} >= {"CozyGenProceduralImage", "CozyGenOutput"}
    document = store.ui_document("editor/shared.json")
    assert document is not None and document["nodes"] and store.ui_document("demo.json") is None
    schema = extract_schema(graph, OBJECT_INFO, models=MODELS)
    assert schema  # the CozyGen input nodes make the form
    before = (world.user_dir / "default" / "workflows" / "shared.json").read_bytes()
    graph["1"]["inputs"]["value"] = "changed"  # what a fill does to its copy of the graph
    assert store.graph("editor/shared.json", OBJECT_INFO) != graph
    assert (world.user_dir / "default" / "workflows" / "shared.json").read_bytes() == before


def test_a_file_that_does_not_convert_is_listed_with_its_problems(world) -> None:
    folder = world.user_dir / "default" / "workflows"
    write(folder / "broken.json", "{")
    document = json.loads(COZY)
    document["nodes"][0]["type"] = "NoSuchNode"
    write(folder / "lacks.json", json.dumps(document))
    cycle = json.loads((DATA / "basic_v04.json").read_text())
    cycle["links"].append([99, 7, 0, 99, 0, "IMAGE"])  # a link to a missing node
    write(folder / "dangling.json", json.dumps(cycle))
    store, checks = store_of(world, None, admin=True, auth=False), WorkflowChecks()
    entries, found = checks.detailed(store, (OBJECT_INFO, MODELS))
    assert [e.name for e in entries] == [
        "demo.json", "editor/broken.json", "editor/dangling.json", "editor/lacks.json", "editor/shared.json"
    ]  # fmt: skip
    assert found["editor/shared.json"]["ok"] is True
    assert found["editor/broken.json"]["ok"] is False and found["editor/broken.json"]["code"] == "BAD_JSON"
    assert [n["class_type"] for n in found["editor/lacks.json"]["missing_nodes"]] == ["NoSuchNode"]
    dangling = found["editor/dangling.json"]
    assert dangling["ok"] is False and dangling["invalid_values"] and "missing_models" in dangling
    with pytest.raises(CozyGenError) as caught:
        store.graph("editor/lacks.json", OBJECT_INFO)
    assert caught.value.code == "UI_CONVERT" and caught.value.status == 400


def test_the_cached_listing_reads_nothing_until_a_file_changes(world, monkeypatch) -> None:
    store, checks = store_of(world, None, admin=True, auth=False), WorkflowChecks()
    checks.detailed(store, (OBJECT_INFO, MODELS))
    calls: list[str] = []
    real = WorkflowStore.read
    monkeypatch.setattr(WorkflowStore, "read", lambda self, name: calls.append(name) or real(self, name))
    checks.detailed(store, (dict(OBJECT_INFO), {"checkpoints": []}))  # equal definitions read afresh
    assert calls == []
    path = world.user_dir / "default" / "workflows" / "shared.json"
    path.write_bytes(COZY + b" ")
    checks.detailed(store, (OBJECT_INFO, MODELS))
    assert calls == ["editor/shared.json"]


def test_a_changed_file_refuses_a_job_of_the_old_revision(world) -> None:
    store = store_of(world, None, admin=True, auth=False)
    revision = store.revision("editor/shared.json")
    require_revision(store, "editor/shared.json", revision)
    require_revision(store, "editor/shared.json", None)  # a client that sends none is not checked
    path = world.user_dir / "default" / "workflows" / "shared.json"
    path.write_bytes(COZY + b"\n")
    with pytest.raises(Conflict) as caught:
        require_revision(store, "editor/shared.json", revision)
    assert caught.value.status == 409 and caught.value.code == "WORKFLOW_CHANGED"
    assert "changed in the editor" in caught.value.message and caught.value.extra["revision"] != revision


def test_an_editor_workflow_is_never_written(world) -> None:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE workflow_owners (name TEXT, username TEXT, created_at REAL)")
    store = store_of(world, None, admin=True, auth=False)
    before = (world.user_dir / "default" / "workflows" / "shared.json").read_bytes()
    with pytest.raises(BadRequest):
        require_change(conn, store, "editor/shared.json", Editor(None, admin=True))
    with pytest.raises(BadRequest):
        save_owned(conn, store, "editor/shared.json", b"{}", Editor(None, admin=True))
    assert (world.user_dir / "default" / "workflows" / "shared.json").read_bytes() == before
    assert list(world.saved.iterdir()) == []
    conn.close()


def test_a_jobs_caller_sees_the_folder_of_the_rule(world) -> None:
    state = SimpleNamespace(host=world.host, auth_enabled=True, db_ready_data_dir=world.tmp / "data")

    def editor_names(caller: Caller | None) -> list[str]:
        return [e.name for e in callers_store(state, caller).entries() if e.source == "editor"]  # type: ignore[arg-type]

    assert editor_names(Caller(username="ann")) == ["editor/portraits/mine.json"]
    assert editor_names(Caller(username="carl")) == []
    assert editor_names(Caller(username="root", sees_all=True)) == ["editor/shared.json"]
    assert editor_names(None) == []
    state.auth_enabled = False
    assert editor_names(Caller(username="default", sees_all=True)) == ["editor/shared.json"]
