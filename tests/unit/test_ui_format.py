"""core.graph.ui_format: the editor's UI format to the API graph, each feature on the hand-made workflows of
tests/data/ui_workflows (whose output the integration test proves equal to the real editor's own export)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from cozygen.core.graph.ui_format import ConversionError, checked, convert, parse, to_api
from cozygen.core.graph.ui_format.dynamic_prompt import process
from cozygen.core.graph.ui_format.widgets import layout

DATA = Path(__file__).resolve().parents[1] / "data" / "ui_workflows"
OBJECT_INFO: dict[str, Any] = json.loads((DATA / "object_info" / "comfyui_0.3.75_subset.json").read_text())


def load(name: str) -> dict[str, Any]:
    return json.loads((DATA / f"{name}.json").read_text())


def api(name_or_data: str | dict[str, Any]) -> dict[str, Any]:
    data = load(name_or_data) if isinstance(name_or_data, str) else name_or_data
    conversion = convert(data, OBJECT_INFO, choose=lambda choices: choices[0])
    assert conversion.report["ok"], conversion.report
    return conversion.prompt


def test_basic_workflow_maps_widget_values_by_the_definitions_order() -> None:
    prompt = api("basic_v04")
    assert prompt["5"] == {
        "inputs": {
            "seed": 123456789,
            "steps": 20,
            "cfg": 7.5,
            "sampler_name": "euler",
            "scheduler": "normal",
            "denoise": 1.0,
            "model": ["1", 0],
            "positive": ["2", 0],
            "negative": ["3", 0],
            "latent_image": ["4", 0],
        },
        "class_type": "KSampler",
        "_meta": {"title": "KSampler"},
    }  # the control_after_generate value ("fixed") takes a slot but is not sent
    assert prompt["2"]["_meta"] == {"title": "Positive"}
    assert prompt["3"]["_meta"] == {"title": "CLIP Text Encode (Prompt)"}  # no title: the display name
    assert prompt["7"]["inputs"] == {"filename_prefix": "ComfyUI", "images": ["6", 0]}


def test_links_as_objects_schema_1_read_like_arrays() -> None:
    ours = api("basic_schema1_object_links")
    assert ours == api("basic_v04")


def test_legacy_reroute_nodes_and_native_reroutes_resolve_to_the_origin() -> None:
    prompt = api("reroutes_both_kinds")
    assert "8" not in prompt and "9" not in prompt  # the Reroute nodes
    assert prompt["5"]["inputs"]["model"] == ["1", 0]
    assert prompt["6"]["inputs"]["samples"] == ["5", 0]  # a link with a parentId (native reroute)


def test_primitive_nodes_and_a_converted_widget() -> None:
    prompt = api("primitive_and_converted_widget")
    assert prompt["5"]["inputs"]["steps"] == 33
    assert prompt["5"]["inputs"]["seed"] == 987654321
    assert prompt["2"]["inputs"]["text"] == ["10", 0]  # a widget converted to an input, linked to a node
    assert {node["class_type"] for node in prompt.values()} >= {"PrimitiveString"}
    assert "PrimitiveNode" not in {node["class_type"] for node in prompt.values()}


def test_muted_nodes_are_dropped_with_their_outputs_and_bypassed_ones_pass_through_by_type() -> None:
    prompt = api("muted_and_bypassed")
    types = {node["class_type"] for node in prompt.values()}
    assert "LoraLoader" not in types and "PreviewImage" not in types and "ImageScaleBy" not in types
    assert prompt["5"]["inputs"]["model"] == ["1", 0]  # MODEL through the bypassed LoRA
    assert prompt["2"]["inputs"]["clip"] == ["1", 1]  # CLIP too
    assert prompt["11"]["inputs"] == {"filename_prefix": "after_muted"}  # its link to a muted node is gone


def test_nested_subgraphs_are_flattened_with_the_editors_ids() -> None:
    prompt = api("nested_subgraphs")
    assert prompt["5:10"]["inputs"] == {"text": "inside a subgraph", "clip": ["1", 1]}
    assert prompt["5:12:3"]["class_type"] == "EmptyLatentImage"
    assert prompt["6"]["inputs"]["positive"] == ["5:10", 0]
    assert prompt["6"]["inputs"]["latent_image"] == ["5:12:3", 0]
    assert "5" not in prompt and "5:12" not in prompt


def test_notes_groups_dynamic_prompts_and_the_upload_slot() -> None:
    prompt = api("notes_groups_dynamic_prompts_upload")
    assert {node["class_type"] for node in prompt.values()}.isdisjoint({"Note", "MarkdownNote"})
    assert prompt["2"]["inputs"]["text"] == "a red bird \non a branch"
    assert prompt["10"]["inputs"] == {"image": "example.png"}  # "upload" held a slot, is not sent


def test_cozygen_nodes_convert() -> None:
    prompt = api("cozygen_nodes")
    assert {node["class_type"] for node in prompt.values()} >= {"CozyGenSeed", "CozyGenOutput", "CozyGenChoice"}
    assert prompt["1"]["_meta"]["title"] == "CozyGenString title"


def test_list_values_are_wrapped_so_they_do_not_read_as_links() -> None:
    data = load("basic_v04")
    data["nodes"][6]["widgets_values"] = [["a", "b"]]
    assert api(data)["7"]["inputs"]["filename_prefix"] == {"__value__": ["a", "b"]}


def test_layout_adds_the_hidden_control_and_upload_widgets() -> None:
    names = [(w.name, w.sent) for w in layout(OBJECT_INFO["KSampler"]) if w.saved]
    assert names[:2] == [("seed", True), ("control_after_generate", False)]
    assert [(w.name, w.sent) for w in layout(OBJECT_INFO["LoadImage"])] == [("image", True), ("upload", False)]
    assert "control_after_generate" not in [w.name for w in layout(OBJECT_INFO["CozyGenSeed"])]  # its own toggle


def test_dynamic_prompts_like_the_editor() -> None:
    first = lambda choices: choices[0]  # noqa: E731
    last = lambda choices: choices[-1]  # noqa: E731
    assert process("a {b|c{d|e}} f // x\ng /* y */h", first) == "a b f \ng h"
    assert process("{b|c{d|e}}", last) == "ce"
    assert process(r"keep \{ this \| \}", first) == "keep { this | }"


def test_old_files_with_a_slot_for_a_forced_input_are_migrated() -> None:
    definition = copy.deepcopy(OBJECT_INFO["EmptyLatentImage"])
    definition["input"]["required"]["width"][1]["forceInput"] = True
    info = {**OBJECT_INFO, "EmptyLatentImage": definition}
    data = load("basic_v04")
    data["nodes"][3]["widgets_values"] = [512, 768, 1]  # saved when width was still a widget
    prompt = convert(data, info).prompt
    assert prompt["4"]["inputs"] == {"height": 768, "batch_size": 1}


# -- what cannot be converted ---------------------------------------------------------------------------------


def test_a_node_type_the_host_lacks_is_reported_by_node() -> None:
    info = {k: v for k, v in OBJECT_INFO.items() if k != "VAEDecode"}
    report = convert(load("basic_v04"), info).report
    assert report["ok"] is False
    assert report["missing_nodes"] == [{"class_type": "VAEDecode", "node_ids": ["6"]}]
    with pytest.raises(ConversionError) as caught:
        to_api(load("basic_v04"), info)
    assert caught.value.status == 400 and caught.value.code == "UI_CONVERT"
    assert "node 6" in caught.value.message
    assert caught.value.to_dict()["missing_nodes"][0]["node_ids"] == ["6"]


def test_too_many_widget_values_is_an_error_naming_the_node() -> None:
    data = load("basic_v04")
    data["nodes"][3]["widgets_values"] = [512, 512, 1, 9]
    entry = convert(data, OBJECT_INFO).report["invalid_values"][0]
    assert entry["node_id"] == "4" and entry["class_type"] == "EmptyLatentImage"
    assert "4 widget values" in entry["problem"]


def test_too_few_values_for_required_widgets_is_an_error() -> None:
    data = load("basic_v04")
    data["nodes"][3]["widgets_values"] = [512]
    report = convert(data, OBJECT_INFO).report
    assert [e["node_id"] for e in report["invalid_values"]] == ["4"]


def test_too_few_values_when_the_node_gained_optional_widgets_is_a_warning_with_the_defaults() -> None:
    data = load("basic_v04")
    data["nodes"].append(
        {"id": 20, "type": "GeminiImageNode", "mode": 0, "inputs": [], "outputs": [], "widgets_values": ["a"]}
    )
    definition = copy.deepcopy(OBJECT_INFO["GeminiImageNode"])
    definition["input"]["required"] = dict(list(definition["input"]["required"].items())[:1])
    definition["input"]["optional"] = {"more": ["INT", {"default": 7}]}
    conversion = convert(data, {**OBJECT_INFO, "GeminiImageNode": definition})
    assert conversion.report["ok"], conversion.report
    assert conversion.report["warnings"][0]["node_id"] == "20"
    assert conversion.prompt["20"]["inputs"] == {"prompt": "a", "more": 7}


def test_a_link_to_a_missing_node() -> None:
    data = load("basic_v04")
    data["links"][0][1] = 99
    with pytest.raises(ConversionError) as caught:
        convert(data, OBJECT_INFO)
    assert "node 99" in caught.value.message
    assert caught.value.to_dict()["invalid_values"][0]["node_id"] == "2"


def test_an_input_naming_a_link_that_does_not_exist() -> None:
    data = load("basic_v04")
    data["nodes"][4]["inputs"][0]["link"] = 777
    with pytest.raises(ConversionError) as caught:
        convert(data, OBJECT_INFO)
    assert caught.value.to_dict()["invalid_values"][0]["node_id"] == "5"


def test_a_cycle_is_refused_naming_its_nodes() -> None:
    data = load("basic_v04")  # feed the decoded image back into... the latent of the sampler through VAEDecode
    data["links"].append([50, 5, 0, 6, 0, "LATENT"])
    data["links"].append([51, 6, 0, 5, 3, "IMAGE"])
    data["nodes"][4]["inputs"][3]["link"] = 51
    with pytest.raises(ConversionError) as caught:
        convert(data, OBJECT_INFO)
    assert "cycle" in caught.value.message and caught.value.to_dict()["invalid_values"][0]["node_id"] == "5"


def test_a_reroute_loop_is_refused() -> None:
    data = load("reroutes_both_kinds")
    reroutes = [n for n in data["nodes"] if n["type"] == "Reroute"]
    first_link = reroutes[0]["inputs"][0]["link"]
    for entry in data["links"]:
        if entry["id"] == first_link:
            entry["origin_id"] = reroutes[1]["id"]
    with pytest.raises(ConversionError) as caught:
        convert(data, OBJECT_INFO)
    assert "cycle" in caught.value.message


def test_a_subgraph_that_contains_itself() -> None:
    data = load("nested_subgraphs")
    inner = data["definitions"]["subgraphs"][1]
    inner["nodes"].append({"id": 9, "type": data["definitions"]["subgraphs"][0]["id"], "inputs": [], "outputs": []})
    with pytest.raises(ConversionError) as caught:
        convert(data, OBJECT_INFO)
    assert "contains itself" in caught.value.message
    assert caught.value.to_dict()["invalid_values"][0]["node_id"] == "5:12:9"


def test_a_group_node_is_reported() -> None:
    data = load("basic_v04")
    data["nodes"].append({"id": 30, "type": "workflow>My group", "mode": 0, "inputs": [], "outputs": []})
    data["extra"]["groupNodes"] = {"My group": {"nodes": [], "links": []}}
    report = convert(data, OBJECT_INFO).report
    assert report["invalid_values"][0]["node_id"] == "30" and "group node" in report["invalid_values"][0]["problem"]


@pytest.mark.parametrize(
    "data",
    [{"3": {"class_type": "KSampler", "inputs": {}}}, {"nodes": {}}, [], "text", {"nodes": [], "links": {}}],
)
def test_a_file_that_is_not_a_ui_workflow(data: Any) -> None:
    with pytest.raises(ConversionError, match="neither"):
        convert(data, OBJECT_INFO)


def test_a_node_with_no_type_or_a_duplicate_id() -> None:
    data = load("basic_v04")
    data["nodes"][1]["id"] = 1
    with pytest.raises(ConversionError, match="two nodes have the id 1"):
        convert(data, OBJECT_INFO)
    data = load("basic_v04")
    del data["nodes"][2]["type"]
    with pytest.raises(ConversionError, match="no type"):
        convert(data, OBJECT_INFO)


def test_size_and_depth_limits() -> None:
    with pytest.raises(ConversionError, match="over 16 MB"):
        parse(b" " * (50 * 1024 * 1024))
    with pytest.raises(ConversionError, match="not JSON"):
        parse("{nodes")
    text = json.dumps(load("basic_v04"))
    for depth in (100, 1000, 100_000):
        deep = text[:-1] + ', "deep": ' + "[" * depth + "]" * depth + "}"
        with pytest.raises(ConversionError, match="nests more than 64"):
            convert(parse(deep), OBJECT_INFO)


def test_too_many_nodes() -> None:
    data = load("basic_v04")
    data["nodes"] = [{"id": i, "type": "Note", "inputs": [], "outputs": []} for i in range(10_001)]
    data["links"] = []
    with pytest.raises(ConversionError, match="more than 10000 nodes"):
        convert(data, OBJECT_INFO)


def test_the_input_is_not_changed() -> None:
    data = load("nested_subgraphs")
    before = copy.deepcopy(data)
    api(data)
    assert data == before


def test_checked_adds_the_values_the_definitions_refuse() -> None:
    good = load("basic_v04")
    good["nodes"][4]["widgets_values"][5] = OBJECT_INFO["KSampler"]["input"]["required"]["scheduler"][0][0]
    models = {"checkpoints": ["sd15.safetensors"]}
    assert checked(good, OBJECT_INFO, models=models).report["ok"]
    bad = copy.deepcopy(good)
    bad["nodes"][4]["widgets_values"][4] = "no_such_sampler"
    bad["nodes"][3]["widgets_values"][0] = 99_999
    report = checked(bad, OBJECT_INFO, models={}).report
    assert report["ok"] is False
    assert {(e["node_id"], e["input"]) for e in report["invalid_values"]} == {("5", "sampler_name"), ("4", "width")}
    assert report["missing_models"] == {"checkpoints": ["sd15.safetensors"]}


def test_ids_a_subgraph_reuses_are_renumbered_as_the_editor_loads_them() -> None:
    from cozygen.core.graph.ui_format.ids import unique_ids

    def subgraph(uuid: str, ids: list[int]) -> dict:
        link = {"id": 1, "origin_id": ids[0], "origin_slot": 0, "target_id": ids[1], "target_slot": 0, "type": "X"}
        return {
            "id": uuid,
            "nodes": [{"id": i, "type": "Note"} for i in ids],
            "links": [link],
            "widgets": [{"id": ids[0]}],
        }

    proxy = {"proxyWidgets": [["7", "seed"], ["8", "steps"]]}
    data = {
        "version": 0.4,
        "last_node_id": 9,
        "nodes": [{"id": 1, "type": "a", "properties": proxy}, {"id": 7, "type": "Note"}],
        "links": [],
        "definitions": {"subgraphs": [subgraph("a", [7, 8]), subgraph("b", [7, 9])]},
    }
    done = unique_ids(data)
    first, second = done["definitions"]["subgraphs"]
    assert [n["id"] for n in first["nodes"]] == [10, 8]  # 7 is the root's: the next id after the last (9)
    assert [n["id"] for n in second["nodes"]] == [11, 9]
    assert (first["links"][0]["origin_id"], first["links"][0]["target_id"], first["widgets"][0]["id"]) == (10, 8, 10)
    assert done["nodes"][0]["properties"]["proxyWidgets"] == [["10", "seed"], ["8", "steps"]]
    assert [n["id"] for n in data["definitions"]["subgraphs"][0]["nodes"]] == [7, 8]  # the input is left alone
    unique = {**data, "definitions": {"subgraphs": [subgraph("a", [20, 21])]}}
    assert unique_ids(unique) is unique  # nothing taken twice: not even copied
