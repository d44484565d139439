"""The original CozyGen's seeds (an int input with its randomize toggle) start randomized in CozyGen's form."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from cozygen.core.graph.fill import fill
from cozygen.core.graph.schema import extract_schema

CLASSIC = Path(__file__).resolve().parents[2] / "workflows" / "cozygen_procedural_form.classic.json"


def seed_param(workflow: dict[str, Any], object_info: dict[str, Any]) -> Any:
    return next(p for p in extract_schema(workflow, object_info) if p.name == "Seed")


def test_the_classic_demo_draws_a_new_seed_per_job(object_info: dict[str, Any]) -> None:
    workflow = json.loads(CLASSIC.read_text())
    schema = extract_schema(workflow, object_info)
    seed = next(p for p in schema if p.name == "Seed")
    assert seed.type == "seed" and seed.randomize is True
    seeds = {fill(workflow, schema, {}).params["Seed"] for _ in range(5)}
    assert len(seeds) == 5 and 42 not in seeds
    assert fill(workflow, schema, {"Seed": 7}).params["Seed"] == 7  # a seed given is the one used
    assert fill(workflow, schema, {"Seed__randomize": False}).params["Seed"] == 42  # unless told not to draw


def test_the_toggle_alone_randomizes_and_an_explicit_flag_wins(object_info: dict[str, Any]) -> None:
    workflow = json.loads(CLASSIC.read_text())
    del workflow["2"]["inputs"]["randomize"]
    assert seed_param(workflow, object_info).randomize is True  # add_randomize_toggle: true
    fixed = copy.deepcopy(workflow)
    fixed["2"]["inputs"]["randomize"] = False
    assert seed_param(fixed, object_info).randomize is False
    plain = copy.deepcopy(workflow)
    plain["2"]["inputs"]["add_randomize_toggle"] = False  # a seed (by its name) with no toggle stays as saved
    assert seed_param(plain, object_info).randomize is False
