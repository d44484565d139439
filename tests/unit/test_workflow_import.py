"""core.workflows.imports / from_image (the graph inside an image, imports in either format) and
core.graph.node_settings (the all-settings view and its node overrides through fill)."""

from __future__ import annotations

import copy
import json
import sqlite3
import zlib
from pathlib import Path
from typing import Any

import pytest

from cozygen.core.graph.fill import FieldErrors, fill
from cozygen.core.graph.links import on_cycles
from cozygen.core.graph.node_settings import node_overrides, node_settings
from cozygen.core.graph.ui_format import ConversionError, convert
from cozygen.core.media.pnginfo import read_png_info_bytes
from cozygen.core.workflows.from_image import KEYS, NoWorkflow, embedded, recorded_params
from cozygen.core.workflows.imports import safe_stem, save_new, to_api_graph
from cozygen.core.workflows.store import Editor, WorkflowStore

DATA = Path(__file__).resolve().parents[1] / "data" / "ui_workflows"
OBJECT_INFO: dict[str, Any] = json.loads((DATA / "object_info" / "comfyui_0.3.75_subset.json").read_text())


def ui(name: str = "basic_v04") -> dict[str, Any]:
    return json.loads((DATA / f"{name}.json").read_text())


def api() -> dict[str, Any]:
    return convert(ui(), OBJECT_INFO).prompt


def chunk(kind: bytes, data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")


def png(text: dict[str, str], compressed: tuple[str, ...] = ()) -> bytes:
    """A 1x1 PNG with ``text`` as tEXt chunks (zTXt for the keys in ``compressed``), as ComfyUI writes them."""
    header = chunk(b"IHDR", (1).to_bytes(4, "big") * 2 + bytes([8, 2, 0, 0, 0]))
    texts = b"".join(
        chunk(b"zTXt", k.encode() + b"\0\0" + zlib.compress(v.encode("latin-1")))
        if k in compressed
        else chunk(b"tEXt", k.encode() + b"\0" + v.encode("latin-1"))
        for k, v in text.items()
    )
    pixels = chunk(b"IDAT", zlib.compress(b"\0\0\0\0"))
    return b"\x89PNG\r\n\x1a\n" + header + texts + pixels + chunk(b"IEND", b"")


def chunks_of(data: bytes) -> dict[str, str]:
    info = read_png_info_bytes(data, scan_all=True, keys=KEYS)
    assert info is not None
    return info.text


# -- the workflow inside an image ------------------------------------------------------------------
def test_the_api_prompt_chunk_wins_over_the_ui_workflow() -> None:
    graph = api()
    graph["5"]["inputs"]["seed"] = 42  # what ran, not what the editor showed
    text = chunks_of(png({"prompt": json.dumps(graph), "workflow": json.dumps(ui())}))
    found = embedded(text, OBJECT_INFO)
    assert found.format == "api" and found.graph["5"]["inputs"]["seed"] == 42
    assert set(found.report) >= {"ok", "missing_nodes", "missing_models", "invalid_values"}


def test_the_ui_workflow_chunk_alone_is_converted() -> None:
    text = chunks_of(png({"workflow": json.dumps(ui())}, compressed=("workflow",)))
    found = embedded(text, OBJECT_INFO)
    assert found.format == "ui" and found.graph == api()


def test_a_broken_prompt_chunk_falls_back_to_the_workflow_chunk() -> None:
    found = embedded({"prompt": "{not json", "workflow": json.dumps(ui())}, OBJECT_INFO)
    assert found.format == "ui"


def test_an_image_without_a_workflow_is_a_404() -> None:
    with pytest.raises(NoWorkflow) as caught:
        embedded(chunks_of(png({"parameters": "a1111 text"})), OBJECT_INFO)
    assert caught.value.status == 404 and caught.value.code == "NO_WORKFLOW"


def test_an_unreadable_workflow_is_a_400_naming_the_problem() -> None:
    with pytest.raises(ConversionError, match="neither"):
        embedded({"workflow": json.dumps({"nodes": 3})}, OBJECT_INFO)


def test_cozygens_own_chunk_gives_the_recorded_values() -> None:
    text = {"cozygen": json.dumps({"version": 1, "prompt_id": "p", "params": {"steps": 9}})}
    assert recorded_params(text) == {"steps": 9}
    assert recorded_params({"cozygen": "[" * 500 + "]" * 500}) == {}
    assert recorded_params({"cozygen": "nope"}) == {} and recorded_params({}) == {}


# -- imports in either format --------------------------------------------------------------------
def test_either_format_imports_to_the_same_graph() -> None:
    from_ui, from_api = to_api_graph(ui(), OBJECT_INFO), to_api_graph(api(), OBJECT_INFO)
    assert (from_ui.format, from_api.format) == ("ui", "api")
    assert from_ui.graph == from_api.graph


@pytest.mark.parametrize("data", [[], "text", {"a": 1}, {"nodes": {}}, {}])
def test_a_file_that_is_neither_format(data: Any) -> None:
    with pytest.raises(ConversionError, match="neither"):
        to_api_graph(data, OBJECT_INFO)


def test_an_api_graph_with_a_cycle_names_a_node() -> None:
    graph = api()
    graph["4"]["inputs"]["batch_size"] = ["5", 0]  # the sampler's latent back into its own empty latent
    with pytest.raises(ConversionError, match="cycle") as caught:
        to_api_graph(graph, OBJECT_INFO)
    assert caught.value.to_dict()["invalid_values"][0]["node_id"] == "4"
    assert on_cycles(api()) == []


def test_an_api_graph_linking_to_a_missing_node_names_it() -> None:
    graph = api()
    graph["5"]["inputs"]["model"] = ["99", 0]
    with pytest.raises(ConversionError, match="node 5") as caught:
        to_api_graph(graph, OBJECT_INFO)
    assert caught.value.to_dict()["invalid_values"][0]["node_id"] == "5"


def test_a_node_type_this_host_lacks_is_refused_by_node() -> None:
    graph = api()
    graph["5"]["class_type"] = "NoSuchSampler"
    with pytest.raises(ConversionError) as caught:
        to_api_graph(graph, OBJECT_INFO)
    assert caught.value.to_dict()["missing_nodes"][0] == {"class_type": "NoSuchSampler", "node_ids": ["5"]}


@pytest.mark.parametrize("values", [[512], [512, 512, 1, 9]])
def test_widget_lists_shorter_or_longer_than_the_definition(values: list[int]) -> None:
    data = ui()
    data["nodes"][3]["widgets_values"] = values
    with pytest.raises(ConversionError) as caught:
        to_api_graph(data, OBJECT_INFO)
    assert caught.value.to_dict()["invalid_values"][0]["node_id"] == "4"


def test_a_subgraph_that_references_itself() -> None:
    data = ui("nested_subgraphs")
    inner = data["definitions"]["subgraphs"][1]
    inner["nodes"].append({"id": 9, "type": data["definitions"]["subgraphs"][0]["id"], "inputs": [], "outputs": []})
    with pytest.raises(ConversionError, match="contains itself"):
        to_api_graph(data, OBJECT_INFO)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("ComfyUI_00001_.png", "ComfyUI_00001_.png"),
        ("my flow.json", "my flow"),
        ("../../etc/passwd", "etc_passwd"),
        ("a\\b:c*?", "a_b_c"),
        ("", "workflow"),
        (None, "workflow"),
        ("x" * 300, "x" * 60),
    ],
)
def test_names_are_made_safe(given: Any, expected: str) -> None:
    assert safe_stem(given) == expected


def test_save_new_never_writes_over_a_workflow(tmp_path: Path) -> None:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE workflow_owners (name TEXT PRIMARY KEY, username TEXT, created_at REAL)")
    shipped = tmp_path / "shipped"
    shipped.mkdir()
    (shipped / "flow.json").write_text("{}")
    store = WorkflowStore(shipped, tmp_path / "user")
    names = [save_new(conn, store, "flow", b"{}", Editor("ann", admin=False)) for _ in range(3)]
    assert names == ["flow 2.json", "flow 3.json", "flow 4.json"]
    assert conn.execute("SELECT DISTINCT username FROM workflow_owners").fetchall() == [("ann",)]


# -- all settings ----------------------------------------------------------------------------------
def test_node_settings_list_every_widget_grouped_by_node() -> None:
    graph = api()
    nodes = {n["id"]: n for n in node_settings(graph, OBJECT_INFO)}
    sampler = nodes["5"]
    assert sampler["title"] == "KSampler" and sampler["class_type"] == "KSampler" and sampler["known"]
    widgets = {w["input"]: w for w in sampler["widgets"]}
    assert list(widgets) == ["seed", "steps", "cfg", "sampler_name", "scheduler", "denoise"]
    steps = widgets["steps"]
    assert steps["name"] == "5.steps" and steps["type"] == "int" and steps["default"] == 20
    assert steps["min"] == 1 and steps["max"] == 10000 and steps["linked"] is False
    assert widgets["sampler_name"]["type"] == "choice" and "euler" in widgets["sampler_name"]["choices"]
    assert nodes["2"]["title"] == "Positive" and nodes["2"]["widgets"][0]["type"] == "text"
    assert "1" in nodes and nodes["1"]["widgets"][0]["input"] == "ckpt_name"
    assert all(n["widgets"] for n in nodes.values())  # VAEDecode and SaveImage's images are no widgets
    assert "6" not in nodes


def test_a_linked_widget_is_listed_but_not_editable() -> None:
    graph = api()
    graph["5"]["inputs"]["steps"] = ["4", 0]
    widgets = {w["input"]: w for n in node_settings(graph, OBJECT_INFO) if n["id"] == "5" for w in n["widgets"]}
    assert widgets["steps"]["linked"] is True and widgets["steps"]["default"] is None
    with pytest.raises(FieldErrors) as caught:
        node_overrides(graph, OBJECT_INFO, {"5.steps": 3})
    assert "linked" in caught.value.errors["5.steps"]


def test_the_title_falls_back_to_the_display_name_and_unknown_nodes_keep_their_values() -> None:
    graph = api()
    del graph["5"]["_meta"]
    graph["9"] = {"class_type": "NoSuch", "inputs": {"strength": 0.5, "model": ["1", 0]}}
    nodes = {n["id"]: n for n in node_settings(graph, OBJECT_INFO)}
    assert nodes["5"]["title"] == OBJECT_INFO["KSampler"]["display_name"]
    assert nodes["9"]["known"] is False and [w["name"] for w in nodes["9"]["widgets"]] == ["9.strength"]


def test_node_overrides_are_filled_with_the_forms_rules() -> None:
    graph = api()
    overrides = node_overrides(graph, OBJECT_INFO, {"5.steps": 7, "4.width": 768, "prompt": "x"}, taken=["prompt"])
    filled = fill(graph, overrides, {"5.steps": 7, "4.width": 768})
    assert filled.graph["5"]["inputs"]["steps"] == 7 and filled.graph["4"]["inputs"]["width"] == 768
    assert graph["5"]["inputs"]["steps"] == 20  # the stored graph is left alone


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"5.steps": 0}, "below the minimum"),
        ({"5.steps": "20"}, "whole number"),
        ({"5.cfg": True}, "finite number"),
        ({"5.sampler_name": "nope"}, "not one of the choices"),
    ],
)
def test_bad_override_values_are_field_errors(values: dict[str, Any], message: str) -> None:
    graph = api()
    with pytest.raises(FieldErrors) as caught:
        fill(graph, node_overrides(graph, OBJECT_INFO, values), values)
    assert message in next(iter(caught.value.errors.values()))


def test_unknown_nodes_and_inputs_are_field_errors_all_at_once() -> None:
    graph = api()
    with pytest.raises(FieldErrors) as caught:
        node_overrides(graph, OBJECT_INFO, {"99.steps": 1, "5.nope": 1, "5.model": 1})
    assert set(caught.value.errors) == {"99.steps", "5.nope", "5.model"}
    assert "no node 99" in caught.value.errors["99.steps"]
    assert node_overrides(copy.deepcopy(graph), OBJECT_INFO, {"steps": 3}) == []


def test_bounds_past_64_bits_are_answered_as_json_can_carry_them() -> None:
    import orjson

    info = copy.deepcopy(OBJECT_INFO)
    info["KSampler"]["input"]["required"]["seed"] = ["INT", {"default": 0, "min": 0, "max": 2**64}]
    graph = api()
    graph["5"]["inputs"]["seed"] = 2**70
    nodes = node_settings(graph, info)
    seed = next(w for n in nodes if n["id"] == "5" for w in n["widgets"] if w["input"] == "seed")
    assert seed["max"] == float(2**64) and seed["default"] == float(2**70)
    orjson.dumps(nodes)
