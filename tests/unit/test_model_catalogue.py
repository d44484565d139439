"""Where a missing model comes from (core/models/catalogue.py): recorded, the workflow's list, the shipped file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from support import PROJECT

from cozygen.core.errors import BadRequest
from cozygen.core.graph.node_values import FIXED, SAMPLER, SCHEDULER
from cozygen.core.models import catalogue
from cozygen.core.models.sources import parse_source
from cozygen.core.store.db import Database

SD15 = ("checkpoints", "v1-5-pruned-emaonly.safetensors")


def ui_workflow(models: list[dict[str, Any]], node_models: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    node = {"id": 4, "type": "CheckpointLoaderSimple", "properties": {"models": node_models or []}}
    return {"nodes": [node], "links": [], "models": models}


def test_the_shipped_catalogue_covers_every_model_the_shipped_workflows_name() -> None:
    shipped = catalogue.shipped()
    named = set()
    for path in (PROJECT / "workflows").glob("*.json"):
        for node in json.loads(path.read_text()).values():
            inputs = node.get("inputs", {})
            kind = inputs.get("choice_type")
            if node["class_type"].startswith("CozyGenChoice") and kind not in (None, "", FIXED, SAMPLER, SCHEDULER):
                named.add((kind, inputs["value"]))
    assert named, "the shipped workflows name models"
    assert named <= set(shipped), f"data/model_sources.json lacks {sorted(named - set(shipped))}"
    for known in shipped.values():
        assert known.source.kind == "hf" and known.origin == "catalogue"
        assert known.sha256 is None or len(known.sha256) == 64


def test_the_shipped_catalogue_parses_whole() -> None:
    raw = json.loads((PROJECT / "data" / "model_sources.json").read_text())
    assert len(catalogue.shipped()) == len(raw)  # no entry skipped as unparsable


def test_a_workflows_own_models_list_is_read_top_level_and_per_node() -> None:
    sha = "a" * 64
    data = ui_workflow(
        [
            {
                "name": "v1-5-pruned-emaonly.safetensors",
                "directory": "checkpoints",
                "hash": sha.upper(),
                "hash_type": "SHA256",
                "url": "https://huggingface.co/o/r/resolve/main/v1-5-pruned-emaonly.safetensors?download=true",
            }
        ],
        [
            {"name": "lcm.safetensors", "directory": "loras", "url": "https://civitai.com/api/download/models/1"},
            {"name": "broken.safetensors", "directory": "loras", "url": "ftp://nope"},
            {
                "name": "md5.safetensors",
                "directory": "loras",
                "hash": sha,
                "hash_type": "md5",
                "url": "https://civitai.com/api/download/models/2",
            },
        ],
    )
    found = catalogue.workflow_models(data)
    assert found[SD15].source == parse_source({"hf": {"repo": "o/r", "file": "v1-5-pruned-emaonly.safetensors"}})
    assert found[SD15].sha256 == sha and found[SD15].origin == "workflow"
    assert found[("loras", "lcm.safetensors")].source.url == "https://civitai.com/api/download/models/1"
    assert ("loras", "broken.safetensors") not in found  # a bad URL is skipped, not an error
    assert found[("loras", "md5.safetensors")].sha256 is None  # only a SHA-256 is a hash CozyGen checks
    assert catalogue.workflow_models({"nodes": "x", "models": 3}) == {}


def test_recorded_sources_win_then_the_workflows_then_the_catalogue(db: Database) -> None:
    recorded_source = parse_source("https://example.org/sd15.safetensors")
    db.submit_write(lambda c: catalogue.record(c, *SD15, recorded_source, None, "admin")).result()
    missing = {"checkpoints": [SD15[1], "mine.safetensors"], "loras": ["nowhere.safetensors"]}
    workflow = catalogue.workflow_models(
        ui_workflow(
            [
                {"name": "mine.safetensors", "directory": "checkpoints", "url": "https://example.org/m.sft"},
                {"name": SD15[1], "directory": "checkpoints", "url": "https://example.org/other.sft"},
            ]
        )
    )
    recorded = db.read(lambda c: catalogue.recorded(c, [SD15, ("checkpoints", "mine.safetensors")]))
    found = {(f, n): k for f, n, k in catalogue.suggest(missing, recorded, workflow, catalogue.shipped())}
    assert found[SD15] is not None and found[SD15].source == recorded_source and found[SD15].origin == "recorded"
    mine = found[("checkpoints", "mine.safetensors")]
    assert mine is not None and mine.origin == "workflow"
    assert found[("loras", "nowhere.safetensors")] is None

    assert db.submit_write(lambda c: catalogue.forget(c, *SD15)).result() is True
    recorded = db.read(lambda c: catalogue.recorded(c, [SD15]))
    again = catalogue.suggest({"checkpoints": [SD15[1]]}, recorded, {}, catalogue.shipped())
    assert again[0][2] is not None and again[0][2].origin == "catalogue"
    assert again[0][2].sha256 == "6ce0161689b3853acaa03779ec93eafe75a02f4ced659bee03f50797806fa2fa"


def test_an_unreadable_catalogue_is_empty(tmp_path: Path) -> None:
    broken = tmp_path / "model_sources.json"
    broken.write_text("{not json")
    assert catalogue.shipped(broken) == {}
    assert catalogue.shipped(tmp_path / "missing.json") == {}


@pytest.mark.parametrize("value", ["abc", "g" * 64, 64, ["a" * 64]])
def test_an_expected_hash_is_64_hex_digits(value: Any) -> None:
    with pytest.raises(BadRequest) as refused:
        catalogue.checked_sha256(value)
    assert refused.value.code == "INVALID_SHA256"
    assert catalogue.checked_sha256(None) is None
    assert catalogue.checked_sha256("AB" * 32) == "ab" * 32
