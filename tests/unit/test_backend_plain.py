"""A CozyGen graph made plain for a ComfyUI without CozyGen: input nodes become the values they pass on, image
inputs LoadImage of the uploaded file, CozyGen Output SaveImage; node ids and every other node stay."""

from __future__ import annotations

import json
from typing import Any

from support import PROJECT

from cozygen.core.backends.plain import class_types, image_refs, make_plain

BLUR = json.loads((PROJECT / "workflows" / "cozygen_plain_blur.json").read_text())


def test_the_blur_workflow_becomes_core_nodes_only_with_the_filled_values_inline() -> None:
    plain = make_plain(BLUR, {})
    assert class_types(plain) == {"EmptyImage", "ImageBlur", "SaveImage"}
    assert plain["4"]["inputs"] == {"width": 512, "height": 512, "batch_size": 1, "color": 3355443}
    assert plain["5"]["inputs"]["blur_radius"] == 4 and plain["5"]["inputs"]["image"] == ["4", 0]
    assert plain["6"] == {
        "class_type": "SaveImage",
        "inputs": {"images": ["5", 0], "filename_prefix": "CozyGen/plain"},
        "_meta": {"title": "CozyGen Output"},
    }
    assert BLUR["6"]["class_type"] == "CozyGenOutput"  # the job's own graph is left as it was


def test_each_input_node_passes_on_what_its_node_would_output() -> None:
    graph: dict[str, Any] = {
        "1": {"class_type": "CozyGenFloat", "inputs": {"param_name": "cfg", "value": 7, "min": 0, "max": 10}},
        "2": {
            "class_type": "CozyGenDynamicInput",
            "inputs": {"param_name": "n", "param_type": "INT", "default_value": "12"},
        },
        "3": {
            "class_type": "CozyGenChoiceInput",
            "inputs": {"param_name": "s", "default_choice": "euler", "value": ""},
        },
        "4": {"class_type": "CozyGenBoolean", "inputs": {"param_name": "b", "value": 1}},
        "5": {"class_type": "CozyGenString", "inputs": {"param_name": "t", "value": ["7", 0]}},  # its value linked
        "6": {"class_type": "CozyGenString", "inputs": {"param_name": "u", "value": ["5", 0]}},  # a chain
        "7": {"class_type": "PrimitiveString", "inputs": {"value": "from a node"}},
        "8": {
            "class_type": "KSampler",
            "inputs": {
                "cfg": ["1", 0],
                "steps": ["2", 0],
                "sampler_name": ["3", 0],
                "add_noise": ["4", 0],
                "text": ["6", 0],
            },
        },  # fmt: skip
    }
    plain = make_plain(graph, {})
    assert set(plain) == {"7", "8"}
    assert plain["8"]["inputs"] == {
        "cfg": 7.0, "steps": 12, "sampler_name": "euler", "add_noise": True, "text": ["7", 0]
    }  # fmt: skip
    assert isinstance(plain["8"]["inputs"]["cfg"], float)


def test_image_inputs_load_the_uploaded_file_and_keep_their_two_outputs() -> None:
    graph: dict[str, Any] = {
        "1": {"class_type": "CozyGenImage", "inputs": {"param_name": "image", "image": "sub/photo.png"}},
        "2": {"class_type": "CozyGenImageInput", "inputs": {"param_name": "i", "image_filename": "output::a::b.png"}},
        "3": {"class_type": "VAEEncode", "inputs": {"pixels": ["1", 0], "mask": ["2", 1]}},
    }
    assert image_refs(graph) == ["sub/photo.png", "output::a::b.png"]
    plain = make_plain(graph, {"sub/photo.png": "cozygen-aa.png", "output::a::b.png": "cozygen-bb.png"})
    assert plain["1"]["class_type"] == plain["2"]["class_type"] == "LoadImage"
    assert plain["1"]["inputs"] == {"image": "cozygen-aa.png"} and plain["2"]["inputs"] == {"image": "cozygen-bb.png"}
    assert plain["3"]["inputs"] == {"pixels": ["1", 0], "mask": ["2", 1]}
    for_routing = make_plain(graph)  # before a backend is chosen: no uploads, so no loaders and no links to them
    assert set(for_routing) == {"3"} and for_routing["3"]["inputs"] == {}


def test_a_node_the_plain_backend_lacks_stays_for_routing_to_see() -> None:
    graph = {"1": {"class_type": "CozyGenProceduralImage", "inputs": {"seed": 1}}}
    assert class_types(make_plain(graph, {})) == {"CozyGenProceduralImage"}


def test_a_cycle_of_input_nodes_does_not_hang() -> None:
    graph = {
        "1": {"class_type": "CozyGenString", "inputs": {"param_name": "a", "value": ["2", 0]}},
        "2": {"class_type": "CozyGenString", "inputs": {"param_name": "b", "value": ["1", 0]}},
        "3": {"class_type": "ShowText", "inputs": {"text": ["1", 0]}},
    }
    assert make_plain(graph, {})["3"]["inputs"]["text"] in (["1", 0], ["2", 0])
