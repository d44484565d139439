"""What a backend lacks to run a graph, read from its ``/object_info`` alone (pure): node classes it does not have,
and model or file choices (a combo value naming a file) its lists do not hold. CozyGen's own nodes are not asked
for: before a graph goes to another ComfyUI they are replaced by plain ones (core/backends/plain.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..graph.check import MODEL_EXTENSIONS
from ..graph.links import link
from ..graph.node_values import COZYGEN_INPUT_NODES, VALUE_INPUT
from ..graph.object_info import class_inputs, read_spec
from .plain import VIDEO_OUTPUT, video_nodes

COZYGEN_REPLACED = COZYGEN_INPUT_NODES | {"CozyGenOutput"}  # what plain.py turns into plain nodes
FILE_EXTENSIONS = MODEL_EXTENSIONS + (".png", ".jpg", ".jpeg", ".webp", ".gif", ".mp4", ".webm", ".wav", ".flac")
UPLOADED = ("image_upload", "video_upload", "audio_upload", "upload")
UNKNOWN = "its node list (/object_info) is not known yet"


def _names_file(value: Any) -> bool:
    return isinstance(value, str) and value.lower().endswith(FILE_EXTENSIONS)


def _listed(value: str, choices: list) -> bool:
    wanted = value.replace("\\", "/")
    return any(isinstance(c, str) and c.replace("\\", "/") == wanted for c in choices)


def _passed_on(graph: Mapping[str, Any], value: Any) -> Any:
    """A literal as it is; a link to one of CozyGen's input nodes as the value that node passes on (what the plain
    graph will hold there); any other link as None."""
    source = link(value)
    if source is None:
        return value
    node = graph.get(source)
    class_type = node.get("class_type") if isinstance(node, Mapping) else None
    if not isinstance(class_type, str) or class_type not in VALUE_INPUT or not isinstance(node, Mapping):
        return None
    inputs = node.get("inputs")
    passed = inputs.get(VALUE_INPUT[class_type]) if isinstance(inputs, Mapping) else None
    return passed if link(passed) is None else None


def missing(graph: Mapping[str, Any], object_info: Mapping[str, Any] | None) -> list[str]:
    """What ``object_info``'s ComfyUI lacks to run ``graph`` (an API-format graph), in words, sorted; empty when it
    can run it. ``object_info`` None: the backend's nodes are not known, so it cannot be judged able."""
    if object_info is None:
        return [UNKNOWN]
    lacks: set[str] = set()
    for node in graph.values():
        if not isinstance(node, Mapping):
            continue
        class_type = node.get("class_type")
        if not isinstance(class_type, str) or class_type in COZYGEN_REPLACED:
            continue
        if class_type == VIDEO_OUTPUT and class_inputs(object_info, class_type) is not None:
            continue  # this ComfyUI (which runs it as it is), or one with CozyGen
        if class_type == VIDEO_OUTPUT and isinstance(node.get("inputs"), Mapping):
            passed = {name: _passed_on(graph, value) for name, value in node["inputs"].items()}
            replaced = video_nodes("video", passed)  # the core nodes plain.py puts in its place, if any
            if replaced is not None:
                needed = {made["class_type"] for made in replaced.values()}
                lacks.update(f"node {name}" for name in needed if class_inputs(object_info, name) is None)
                continue
        spec = class_inputs(object_info, class_type)
        if spec is None:
            lacks.add(f"node {class_type}")
            continue
        inputs = node.get("inputs")
        if not isinstance(inputs, Mapping):
            continue
        for name, given in inputs.items():
            value = _passed_on(graph, given)
            if not _names_file(value) or name not in spec:
                continue
            _kind, options, choices = read_spec(spec[name][1])
            if any(options.get(key) for key in UPLOADED):
                continue  # an input file: the job uploads it to the backend first
            if choices is not None and not _listed(value, choices):
                lacks.add(f"file {value} ({class_type}.{name})")
    return sorted(lacks)
