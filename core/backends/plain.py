"""A CozyGen graph made plain, for a ComfyUI that has no CozyGen: pure.

CozyGen's input nodes only pass on the value the app filled in, so each is replaced by that value: an input of
another node linked to one becomes the literal (or, when the input node's own value is linked, the link it passes
on). The image inputs become ComfyUI's ``LoadImage`` of the file uploaded to the backend first (same outputs:
IMAGE, MASK). CozyGen Output becomes ``SaveImage`` with its ``filename_prefix``; the metadata it would have written
is added when the files come home (:mod:`.homecoming`). CozyGen Video Output becomes ComfyUI's own video savers
(:func:`video_nodes`). Node ids are kept, so ComfyUI's messages about the plain
graph name the nodes of the job's own graph. Any other node stays as it is: a backend lacking its class cannot run
the graph (routing says so).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from ..graph.node_values import VALUE_INPUT, cast_dynamic, legacy_choice

IMAGE_INPUTS = {"CozyGenImage": "image", "CozyGenImageInput": "image_filename"}
OUTPUTS = frozenset({"CozyGenOutput"})
VIDEO_OUTPUT = "CozyGenVideoOutput"
DEFAULT_PREFIX = "CozyGen/output"
VIDEO_PREFIX = "CozyGen/video"
WEBM_CRF = 32.0  # what nodes/video.py's VP9 uses
MAX_DEPTH = 64  # input nodes passing on each other's values: a longer chain (or a cycle) is left alone


def _is_link(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 2 and isinstance(value[0], str | int)


def _class(node: Any) -> str | None:
    value = node.get("class_type") if isinstance(node, dict) else None
    return value if isinstance(value, str) else None


def value_of(class_type: str, inputs: Mapping[str, Any]) -> Any:
    """What an input node outputs, from its inputs (its value may be a link, passed on as it is)."""
    key = VALUE_INPUT[class_type]
    value = inputs.get(key)
    if _is_link(value):
        return value
    if class_type == "CozyGenDynamicInput":
        return cast_dynamic(str(inputs.get("param_type") or "STRING"), value)
    if class_type == "CozyGenChoiceInput":
        return legacy_choice(value, inputs.get("default_choice"), None)
    if class_type == "CozyGenFloat" and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if class_type == "CozyGenBoolean":
        return bool(value)
    return value


def image_refs(graph: Mapping[str, Any]) -> list[str]:
    """The image references (``photo.png``, ``output::sub::x.png``) the graph's image inputs load, each once."""
    found: dict[str, None] = {}
    for node in graph.values():
        key = IMAGE_INPUTS.get(_class(node) or "")
        value = (node.get("inputs") or {}).get(key) if key else None
        if isinstance(value, str) and value.strip():
            found[value] = None
    return list(found)


def class_types(graph: Mapping[str, Any]) -> set[str]:
    return {c for c in (_class(node) for node in graph.values()) if c}


def video_nodes(node_id: str, inputs: Mapping[str, Any]) -> dict[str, dict[str, Any]] | None:
    """CozyGen Video Output (``inputs`` with the values input nodes pass on put in) as the nodes of ComfyUI 0.3.75's
    core that save the same kind of file, by node id (the saver keeps ``node_id``, so its ``executed`` names the
    job's own output node); None when it has no plain equivalent, and the node stays as it is (a backend without
    CozyGen cannot run it, which routing says):

    - ``video/webm``: ``SaveWEBM`` (VP9 at CozyGen's CRF; comfy_extras/nodes_video.py);
    - ``video/mp4``: ``CreateVideo`` then ``SaveVideo`` as MP4/H.264 (the same file; no core node pads an odd width
      or height to even as CozyGen does, so such a size fails there with the encoder's message);
    - ``image/gif``: ``SaveAnimatedWEBP`` (comfy_extras/nodes_images.py): core ComfyUI writes no GIF, and an
      animated WebP plays wherever a GIF does, smaller; it always loops, so ``loop_count`` is not kept;
    - ``pingpong`` on, or a format or frame rate that is not a literal: None (no core node reverses a batch).
    """
    fmt, rate, pingpong = inputs.get("format", "video/webm"), inputs.get("frame_rate", 8), inputs.get("pingpong")
    if pingpong or _is_link(pingpong) or not isinstance(fmt, str):
        return None
    if isinstance(rate, bool) or not isinstance(rate, int | float):
        return None
    images, prefix, fps = inputs.get("images"), inputs.get("filename_prefix", VIDEO_PREFIX), float(rate)
    if fmt == "video/webm":
        saved = {"images": images, "filename_prefix": prefix, "codec": "vp9", "fps": fps, "crf": WEBM_CRF}
        return {node_id: {"class_type": "SaveWEBM", "inputs": saved}}
    if fmt == "video/mp4":
        made = f"{node_id}-cozygen-video"
        return {
            made: {"class_type": "CreateVideo", "inputs": {"images": images, "fps": fps}},
            node_id: {
                "class_type": "SaveVideo",
                "inputs": {"video": [made, 0], "filename_prefix": prefix, "format": "mp4", "codec": "h264"},
            },
        }
    if fmt == "image/gif":
        saved = {"images": images, "filename_prefix": prefix, "fps": fps, "lossless": False, "quality": 90}
        return {node_id: {"class_type": "SaveAnimatedWEBP", "inputs": {**saved, "method": "default"}}}
    return None


def make_plain(graph: Mapping[str, Any], uploaded: Mapping[str, str] | None = None) -> dict[str, Any]:
    """``graph`` (API format, filled) as a plain ComfyUI runs it. ``uploaded`` maps each image reference to its
    name on the backend (``LoadImage``'s ``image``); None leaves the image loaders out (for the routing check:
    they are core nodes, and the uploads happen only once a backend is chosen)."""
    plain: dict[str, Any] = {}
    values: dict[str, Any] = {}  # input node id -> what it outputs (a literal, or a link passed on)
    for node_id, node in graph.items():
        class_type = _class(node)
        if class_type in VALUE_INPUT and class_type not in IMAGE_INPUTS:
            values[str(node_id)] = value_of(class_type, node.get("inputs") or {})

    def resolve(value: Any, depth: int = 0) -> Any:
        if not _is_link(value) or str(value[0]) not in values or depth > MAX_DEPTH:
            return value
        return resolve(values[str(value[0])], depth + 1)

    for node_id, node in graph.items():
        class_type = _class(node)
        if str(node_id) in values:
            continue
        copied = copy.deepcopy(node)
        inputs = copied.get("inputs") if isinstance(copied.get("inputs"), dict) else {}
        if class_type in IMAGE_INPUTS:
            if uploaded is None:
                continue
            ref = inputs.get(IMAGE_INPUTS[class_type])
            name = uploaded.get(ref, ref) if isinstance(ref, str) else ref
            copied = {"class_type": "LoadImage", "inputs": {"image": name}}
            if "_meta" in node:
                copied["_meta"] = copy.deepcopy(node["_meta"])
        elif class_type in OUTPUTS:
            prefix = inputs.get("filename_prefix", DEFAULT_PREFIX)
            copied["class_type"] = "SaveImage"
            copied["inputs"] = {"images": inputs.get("images"), "filename_prefix": prefix}
            inputs = copied["inputs"]
        for name, value in list(inputs.items()):
            inputs[name] = resolve(value)
        if class_type == VIDEO_OUTPUT:
            replaced = video_nodes(str(node_id), inputs)
            if replaced is not None and not (set(replaced) - {str(node_id)}) & {str(i) for i in graph}:
                if "_meta" in node:
                    replaced[str(node_id)]["_meta"] = copy.deepcopy(node["_meta"])
                plain.update(replaced)
                continue
        plain[str(node_id)] = copied
    if uploaded is None:  # links to the image loaders left out would name missing nodes: drop them too
        dropped = {str(i) for i, n in graph.items() if _class(n) in IMAGE_INPUTS}
        for node in plain.values():
            inputs = node.get("inputs")
            if isinstance(inputs, dict):
                for name, value in list(inputs.items()):
                    if _is_link(value) and str(value[0]) in dropped:
                        del inputs[name]
    return plain
