"""core.workflows.watch: a saved workflow file is reported once per quiet spell, with whose editor folder it is
in and its name as that user lists it; other files in ComfyUI's user directory are ignored."""

from __future__ import annotations

import os
import queue
from pathlib import Path

import pytest

from cozygen.core.workflows.watch import WorkflowWatcher

WAIT = 20.0  # generous: a loaded machine delivers file events late, never wrongly


@pytest.fixture()
def watched(tmp_path: Path):
    reports: queue.Queue = queue.Queue()
    cozygen, users = tmp_path / "data" / "workflows", tmp_path / "user"
    watcher = WorkflowWatcher(cozygen, users, lambda *report: reports.put(report), debounce=0.2)
    watcher.start()
    yield cozygen, users, reports
    watcher.stop()


def test_an_editor_save_is_reported_with_its_folder_and_name(watched) -> None:
    _, users, reports = watched
    folder = users / "ann_0a1b" / "workflows" / "Portraits"
    folder.mkdir(parents=True)
    (folder / ".tmp.json").write_text("{}")  # a save: write, then rename over the name
    os.replace(folder / ".tmp.json", folder / "face.json")
    source, owner, names = reports.get(timeout=WAIT)
    assert (source, owner) == ("editor", "ann_0a1b")
    assert "editor/Portraits/face.json" in names


def test_files_that_are_not_workflows_are_ignored_and_cozygens_folder_is_reported_without_names(watched) -> None:
    cozygen, users, reports = watched
    (users / "comfyui.db").write_bytes(b"x")  # ComfyUI's own files in the user directory
    (users / "default").mkdir(parents=True)
    (users / "default" / "comfy.settings.json").write_text("{}")  # .json, but not under workflows/
    (users / "default" / "workflows").mkdir()
    (users / "default" / "workflows" / "notes.txt").write_text("x")
    (cozygen / "mine.json").write_text("{}")
    assert reports.get(timeout=WAIT) == ("cozygen", None, [])
    with pytest.raises(queue.Empty):
        reports.get(timeout=1.0)


def test_where_a_path_belongs(tmp_path: Path) -> None:
    cozygen, users = tmp_path / "c", tmp_path / "u"
    watcher = WorkflowWatcher(cozygen, users, lambda *_: None)
    real = os.path.realpath
    assert watcher.locate(real(users) + "/default/workflows/a/b.json") == ("editor", "default", "editor/a/b.json")
    assert watcher.locate(real(users) + "/default/workflows") is None
    assert watcher.locate(real(users) + "/default/settings.json") is None
    assert watcher.locate(real(cozygen) + "/x.json") == ("cozygen", None, None)
    assert watcher.locate(real(cozygen) + "/sub/x.json") is None
    assert watcher.locate(str(tmp_path / "elsewhere.json")) is None
