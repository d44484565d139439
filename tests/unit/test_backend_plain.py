"""A CozyGen graph made plain for a ComfyUI without CozyGen: input nodes become the values they pass on, image
inputs LoadImage of the uploaded file, CozyGen Output SaveImage, CozyGen Video Output ComfyUI's own video savers; node
ids and every other node stay."""

from __future__ import annotations

import json
from typing import Any

from support import PROJECT

from cozygen.core.backends.capabilities import missing
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


def video_graph(fmt: str, pingpong: Any = False) -> dict[str, Any]:
    return {
        "1": {"class_type": "EmptyImage", "inputs": {"width": 64, "height": 48, "batch_size": 4, "color": 0}},
        "2": {"class_type": "CozyGenInt", "inputs": {"param_name": "fps", "value": 12}},
        "3": {"class_type": "CozyGenBoolean", "inputs": {"param_name": "pingpong", "value": pingpong}},
        "4": {
            "class_type": "CozyGenVideoOutput",
            "inputs": {
                "images": ["1", 0],
                "frame_rate": ["2", 0],
                "loop_count": 2,
                "filename_prefix": "CozyGen/clip",
                "format": fmt,
                "pingpong": ["3", 0],
            },
            "_meta": {"title": "CozyGen Video Output"},
        },
    }


def test_the_video_output_becomes_comfyuis_own_saver_of_the_same_kind_of_file() -> None:
    webm = make_plain(video_graph("video/webm"), {})
    assert set(webm) == {"1", "4"}
    assert webm["4"] == {
        "class_type": "SaveWEBM",
        "inputs": {"images": ["1", 0], "filename_prefix": "CozyGen/clip", "codec": "vp9", "fps": 12.0, "crf": 32.0},
        "_meta": {"title": "CozyGen Video Output"},
    }
    mp4 = make_plain(video_graph("video/mp4"), {})
    assert class_types(mp4) == {"EmptyImage", "CreateVideo", "SaveVideo"}
    made = next(i for i, n in mp4.items() if n["class_type"] == "CreateVideo")
    assert mp4[made]["inputs"] == {"images": ["1", 0], "fps": 12.0}
    assert mp4["4"]["inputs"] == {"video": [made, 0], "filename_prefix": "CozyGen/clip", "format": "mp4",
                                  "codec": "h264"}  # fmt: skip
    gif = make_plain(video_graph("image/gif"), {})
    assert gif["4"]["class_type"] == "SaveAnimatedWEBP"
    assert gif["4"]["inputs"]["fps"] == 12.0 and gif["4"]["inputs"]["images"] == ["1", 0]


def test_a_video_output_with_no_plain_equivalent_stays_for_routing_to_refuse() -> None:
    for graph in (video_graph("video/webm", pingpong=True), video_graph("video/avi")):
        plain = make_plain(graph, {})
        assert plain["4"]["class_type"] == "CozyGenVideoOutput"
    clash = video_graph("video/mp4")
    clash["4-cozygen-video"] = {"class_type": "PrimitiveInt", "inputs": {"value": 1}}  # its helper's id is taken
    assert make_plain(clash, {})["4"]["class_type"] == "CozyGenVideoOutput"


def test_routing_asks_a_backend_for_the_savers_a_video_output_becomes() -> None:
    spec = {"input": {"required": {}}}
    plain_info = {name: spec for name in ("EmptyImage", "SaveWEBM", "CreateVideo", "SaveVideo", "SaveAnimatedWEBP")}
    for fmt in ("video/webm", "video/mp4", "image/gif"):
        assert missing(video_graph(fmt), plain_info) == []
    old = {name: spec for name in ("EmptyImage", "SaveAnimatedWEBP")}  # a ComfyUI before the video nodes
    assert missing(video_graph("video/mp4"), old) == ["node CreateVideo", "node SaveVideo"]
    assert missing(video_graph("video/webm", pingpong=True), plain_info) == ["node CozyGenVideoOutput"]


def test_a_comfyui_with_cozygen_runs_any_video_output() -> None:
    spec = {"input": {"required": {}}}
    here = {"EmptyImage": spec, "CozyGenVideoOutput": spec}  # this ComfyUI runs the graph as it is
    assert missing(video_graph("video/webm", pingpong=True), here) == []
    assert missing(video_graph("video/mp4"), here) == []
