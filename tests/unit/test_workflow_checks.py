"""core.workflows.checks: each workflow's check for the whole list, kept while its file and the definitions stay."""

from __future__ import annotations

import json
import os
from pathlib import Path

from cozygen.core.workflows.checks import WorkflowChecks
from cozygen.core.workflows.store import WorkflowStore

OBJECT_INFO = {
    "CheckpointLoaderSimple": {"input": {"required": {"ckpt_name": [["have.safetensors"]]}}},
    "SaveImage": {"input": {"required": {"images": ["IMAGE"]}}},
}
MODELS = {"checkpoints": ["have.safetensors"]}


def graph(ckpt: str, extra: str | None = None) -> dict:
    nodes = {"1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": ckpt}}}
    if extra:
        nodes["2"] = {"class_type": extra, "inputs": {}}
    return nodes


def test_one_listing_checks_every_workflow_and_keeps_the_answers(tmp_path: Path, monkeypatch) -> None:
    shipped, user = tmp_path / "shipped", tmp_path / "user"
    shipped.mkdir()
    user.mkdir()
    (shipped / "ok.json").write_text(json.dumps(graph("have.safetensors")))
    (shipped / "lacks.json").write_text(json.dumps(graph("gone.safetensors", "NoSuchNode")))
    (user / "ui.json").write_text(json.dumps({"nodes": [], "links": []}))  # the editor's format: converted
    (user / "broken.json").write_text("{")
    store, checks, definitions = WorkflowStore(shipped, user), WorkflowChecks(), (OBJECT_INFO, MODELS)

    names, warnings = checks.listing(store, definitions)
    assert names == ["broken.json", "lacks.json", "ok.json", "ui.json"]
    assert set(warnings) == {"lacks.json", "ok.json", "ui.json"}  # broken.json: no check
    assert warnings["ok.json"]["ok"] is True
    lacks = warnings["lacks.json"]
    assert lacks["ok"] is False and lacks["missing_models"] == {"checkpoints": ["gone.safetensors"]}
    assert [n["class_type"] for n in lacks["missing_nodes"]] == ["NoSuchNode"]

    calls: list[str] = []
    real_read = WorkflowStore.read
    monkeypatch.setattr(WorkflowStore, "read", lambda self, name: calls.append(name) or real_read(self, name))
    assert checks.listing(store, definitions) == (names, warnings)
    assert calls == []  # nothing changed: no file read again

    (shipped / "ok.json").write_text(json.dumps(graph("gone.safetensors")) + " ")
    os.utime(shipped / "ok.json", ns=(1, 1))
    _, again = checks.listing(store, definitions)
    assert calls == ["ok.json"] and again["ok.json"]["ok"] is False  # the changed file only
    _, fresh = checks.listing(store, (OBJECT_INFO, {"checkpoints": ["have.safetensors", "gone.safetensors"]}))
    assert fresh["ok.json"]["ok"] is True and fresh["lacks.json"]["missing_models"] == {}  # new definitions
