"""App mode (core/graph/app_mode): the editor's extra.linearData as the form's parameters and outputs."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from cozygen.core.errors import BadRequest
from cozygen.core.graph.app_mode import app_mode
from cozygen.core.graph.schema import extract_form, extract_schema
from cozygen.core.graph.ui_format import to_api

DATA = Path(__file__).resolve().parents[1] / "data" / "ui_workflows"
OBJECT_INFO: dict[str, Any] = json.loads((DATA / "object_info" / "comfyui_0.3.75_subset.json").read_text())


def load(name: str) -> dict[str, Any]:
    return json.loads((DATA / f"{name}.json").read_text())


def selection(ui: dict[str, Any]) -> Any:
    return app_mode(ui, to_api(ui, OBJECT_INFO), OBJECT_INFO)


def test_inputs_in_the_authors_order_with_targets_through_subgraphs() -> None:
    found = selection(load("app_mode_nested"))
    assert [(p.name, p.targets) for p in found.parameters] == [
        ("steps", [("6", "steps")]),
        ("text", [("5:10", "text")]),  # a locator: that node in every instance of the subgraph
        ("seed", [("6", "seed")]),  # a widget id of the root graph
        ("width", [("5:12:3", "width")]),  # an execution path two subgraphs deep
        ("sampler_name", [("6", "sampler_name")]),
    ]
    assert [p.order for p in found.parameters] == [0, 1, 2, 3, 4]
    assert found.outputs == ["8"]


def test_labels_settings_and_bounds() -> None:
    steps, text, seed, width, sampler = selection(load("app_mode_nested")).parameters
    assert (steps.label, steps.type, steps.default, steps.min, steps.max) == ("steps", "int", 10, 1, 10000)
    assert (text.label, text.type, text.description, text.default) == (
        "text",
        "text",
        "What to draw",
        "inside a subgraph",
    )
    assert (seed.type, seed.randomize, seed.default) == ("seed", True, 42)
    assert (width.default, width.min, width.step) == (768, 16, 8)
    assert sampler.type == "choice" and "euler" in (sampler.choices or [])
    assert steps.group == "KSampler"


def test_the_authors_label_is_the_one_the_editors_rename_wrote() -> None:
    ui = load("app_mode_nested")
    sampler = next(node for node in ui["nodes"] if node["type"] == "KSampler")
    sampler["inputs"].append(
        {"name": "steps", "type": "INT", "widget": {"name": "steps"}, "link": None, "label": "Passes"}
    )
    steps, text, *_ = selection(ui).parameters
    assert (steps.name, steps.label, text.label) == ("steps", "Passes", "text")


def test_chosen_outputs_come_with_the_form_and_none_without_app_mode() -> None:
    ui = load("app_mode_nested")
    graph = to_api(ui, OBJECT_INFO)
    assert extract_form(graph, OBJECT_INFO, ui=ui)[1] == ["8"]
    plain = load("nested_subgraphs")
    assert extract_form(to_api(plain, OBJECT_INFO), OBJECT_INFO, ui=plain)[1] == []


def test_no_selection_means_none_and_the_other_readers_decide() -> None:
    ui = load("nested_subgraphs")
    assert selection(ui) is None
    ui["extra"] = {"linearData": {"inputs": [], "outputs": []}}
    assert selection(ui) is None
    graph = to_api(ui, OBJECT_INFO)
    assert extract_schema(graph, OBJECT_INFO, ui=ui) == extract_schema(graph, OBJECT_INFO)


def test_the_schema_follows_app_mode_when_given_the_ui_document() -> None:
    ui = load("app_mode_nested")
    params = extract_schema(to_api(ui, OBJECT_INFO), OBJECT_INFO, ui=ui)
    assert [p.name for p in params] == ["steps", "text", "seed", "width", "sampler_name"]


def test_a_promoted_subgraph_widget_is_followed_to_the_widget_it_feeds() -> None:
    ui = load("app_mode_nested")
    inner = ui["definitions"]["subgraphs"][0]
    inner["inputs"].append({"name": "prompt", "type": "STRING", "linkIds": [90]})
    inner["links"].append({"id": 90, "origin_id": -10, "origin_slot": 1, "target_id": 10, "target_slot": 1})
    text_node = next(n for n in inner["nodes"] if n["id"] == 10)
    text_node["inputs"] = [*text_node.get("inputs", [])[:1], {"name": "text", "type": "STRING", "link": 90}]
    ui["extra"]["linearData"] = {"inputs": [[5, "prompt"]], "outputs": []}
    graph = to_api(load("app_mode_nested"), OBJECT_INFO)  # the graph as converted (the widget value stays)
    found = app_mode(ui, graph, OBJECT_INFO)
    assert found is not None and found.parameters[0].targets == [("5:10", "text")]


@pytest.mark.parametrize(
    ("entry", "words"),
    [
        ([99, "steps"], "node 99"),
        ([6, "no_such_widget"], "no widget 'no_such_widget'"),
        ([7, "samples"], "fed by a link"),
        (["00000000-0000-0000-0000-000000000001:77", "text"], "not in the workflow"),
        ([6], "not a [node, widget] pair"),
    ],
)
def test_a_selection_pointing_at_nothing_is_a_clear_problem(entry: list[Any], words: str) -> None:
    ui = copy.deepcopy(load("app_mode_nested"))
    ui["extra"]["linearData"] = {"inputs": [entry], "outputs": []}
    with pytest.raises(BadRequest) as raised:
        selection(ui)
    assert raised.value.code == "APP_MODE" and words in raised.value.message


def test_an_output_that_is_not_in_the_graph_is_a_clear_problem() -> None:
    ui = load("app_mode_nested")
    ui["extra"]["linearData"]["outputs"] = [8, 404]
    with pytest.raises(BadRequest, match="output node 404"):
        selection(ui)
