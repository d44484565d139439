"""Whether a workflow can run on this ComfyUI, and what is missing if not.

:func:`check` compares an API-format workflow with ComfyUI's ``/object_info`` and the model
folders' listings:

- ``missing_nodes``: node classes ComfyUI does not know, with the ids of the nodes that use
  them and, when the node carries one (``cnr_id``/``aux_id`` in its ``_meta`` or
  ``properties``), the custom-node pack that provides it;
- ``missing_models``: ``{folder: [file names]}`` for model-file inputs (``ckpt_name``,
  ``lora_name``, ``vae_name``, ``unet_name``, ``clip_name*``, ``control_net_name`` …) whose
  file is in no list, and for CozyGen choice nodes set to a models folder;
- ``invalid_values``: numbers outside their bounds or not numbers at all, other choices that
  are not in their list, required inputs that are absent, and links to nodes that do not exist;
- ``ok``: none of the above.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .api_format import ensure_api_format
from .links import id_key, link
from .node_values import COZYGEN_INPUT_NODES, FIXED, SAMPLER, SCHEDULER, VALUE_INPUT, parse_choices
from .object_info import choice_list, class_inputs, model_folder, read_spec

MODEL_EXTENSIONS = (
    ".safetensors",
    ".sft",
    ".ckpt",
    ".pt",
    ".pt2",
    ".pth",
    ".bin",
    ".gguf",
    ".onnx",
    ".pkl",
)
PACK_KEYS = ("cnr_id", "aux_id")
NON_FOLDER_CHOICES = (FIXED, SAMPLER, SCHEDULER)


def check(workflow: Any, object_info: Any, models: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``{"ok", "missing_nodes", "missing_models", "invalid_values"}``; BadRequest unless ``workflow`` is API format."""
    ensure_api_format(workflow)
    object_info = object_info if isinstance(object_info, dict) else {}
    models = {k: list(v) for k, v in (models or {}).items() if isinstance(k, str) and isinstance(v, list | tuple)}
    nodes = {str(node_id): node for node_id, node in workflow.items()}
    missing_nodes: dict[str, dict[str, Any]] = {}
    missing_models: dict[str, list[str]] = {}
    invalid: list[dict[str, Any]] = []

    def problem(node_id: str, class_type: str, name: str, value: Any, text: str) -> None:
        invalid.append({"node_id": node_id, "class_type": class_type, "input": name, "value": value, "problem": text})

    def missing_model(folder: str, name: str) -> None:
        names = missing_models.setdefault(folder, [])
        if name not in names:
            names.append(name)

    for node_id in sorted(nodes, key=id_key):
        node = nodes[node_id]
        class_type = node["class_type"]
        inputs = node.get("inputs") if isinstance(node.get("inputs"), dict) else {}
        specs = class_inputs(object_info, class_type)
        if specs is None:
            entry = missing_nodes.setdefault(class_type, {"class_type": class_type, "node_ids": []})
            entry["node_ids"].append(node_id)
            pack = _pack(node)
            if pack and "pack" not in entry:
                entry["pack"] = pack
            continue
        own = _cozygen_inputs(class_type)
        for name, value in inputs.items():
            target = link(value)
            if target is not None:
                if target not in nodes:
                    problem(node_id, class_type, name, value, f"linked to node {target}, which is not in the workflow")
                elif name in specs:
                    text = _link_problem(object_info, nodes[target], value, read_spec(specs[name][1])[0])
                    if text is not None:
                        problem(node_id, class_type, name, value, text)
                continue
            if name not in specs or name in own:
                continue
            kind, options, choices = read_spec(specs[name][1])
            if kind == "COMBO":
                if _listed(value, choices or []):
                    continue
                folder = _model_folder(class_type, name, value, choices or [], models)
                if folder is not None:
                    if not _listed(value, models.get(folder, [])):
                        missing_model(folder, value)
                elif options.get("image_upload"):
                    problem(node_id, class_type, name, value, f"{_show(value)} is not in ComfyUI's input folder")
                else:
                    problem(
                        node_id, class_type, name, value, f"{_show(value)} is not one of the choices{_few(choices)}"
                    )
            elif kind in ("INT", "FLOAT"):
                text = _number_problem(value, options, kind)
                if text is not None:
                    problem(node_id, class_type, name, value, text)
        for name, (section, _) in specs.items():
            if section == "required" and name not in inputs:
                problem(node_id, class_type, name, None, "a required input is missing")
        if class_type in COZYGEN_INPUT_NODES:
            _check_cozygen_choice(node_id, class_type, inputs, object_info, models, problem, missing_model)
        if class_type in ("CozyGenInt", "CozyGenFloat"):  # the node refuses a value outside its own min..max
            text = _number_problem(inputs.get("value"), {"min": inputs.get("min"), "max": inputs.get("max")}, "")
            if text is not None and "value" in inputs and link(inputs["value"]) is None:
                problem(node_id, class_type, "value", inputs["value"], text)

    report = {
        "missing_nodes": sorted(missing_nodes.values(), key=lambda e: id_key(e["node_ids"][0])),
        "missing_models": missing_models,
        "invalid_values": invalid,
    }
    return {"ok": not (missing_nodes or missing_models or invalid), **report}


def _cozygen_inputs(class_type: str) -> tuple[str, ...]:
    """Inputs of a CozyGen choice node that are checked against its own choice type, not object_info's list."""
    if class_type in ("CozyGenChoice", "CozyGenChoiceInput", "CozyGenDynamicInput"):
        return (VALUE_INPUT[class_type], "default_choice")
    return ()


def _check_cozygen_choice(
    node_id: str,
    class_type: str,
    inputs: dict[str, Any],
    object_info: dict,
    models: dict[str, list],
    problem: Any,
    missing_model: Any,
) -> None:
    if class_type not in ("CozyGenChoice", "CozyGenChoiceInput"):
        if class_type != "CozyGenDynamicInput" or str(inputs.get("param_type")).upper() != "DROPDOWN":
            return
    value_input = VALUE_INPUT[class_type]
    value = inputs.get(value_input)
    if class_type == "CozyGenChoiceInput" and (not isinstance(value, str) or value in ("", "None")):
        value_input, value = "default_choice", inputs.get("default_choice")
        if value == "None":
            return  # the node falls back to the first file of its type
    if not isinstance(value, str) or not value:
        return
    choice_type = inputs.get("choice_type")
    source = (choice_type.strip() if isinstance(choice_type, str) else "") or "fixed"
    if source == "fixed":
        choices: list | None = parse_choices(inputs.get("choices"))
    else:
        choices = choice_list(source, object_info, models)
    if choices is None or _listed(value, choices):
        return
    if source in NON_FOLDER_CHOICES:
        problem(node_id, class_type, value_input, value, f"{_show(value)} is not one of the {source} choices")
    else:
        missing_model(source, value)


def _link_problem(object_info: dict, source: dict[str, Any], ref: list, expected: str | None) -> str | None:
    """Why a link cannot feed an input (wrong output slot or type), as ComfyUI's own validation would say."""
    outputs = (object_info.get(source.get("class_type")) or {}).get("output")
    if not isinstance(outputs, list) or expected == "COMBO":
        return None  # an unknown node is reported as missing; a linked choice takes what its source gives
    slot = ref[1] if len(ref) > 1 and isinstance(ref[1], int) else -1
    if not 0 <= slot < len(outputs):
        return f"linked to output {ref[1]} of node {ref[0]}, which has {len(outputs)} outputs"
    received = outputs[slot]
    if not isinstance(received, str) or expected is None or _types_match(received, expected):
        return None
    return f"node {ref[0]} gives {received} here, but this input takes {expected}"


def _types_match(received: str, expected: str) -> bool:
    """ComfyUI's rule: '*' matches anything, and 'A,B' accepts either."""
    if "*" in (received, expected) or received == expected:
        return True
    return bool({t.strip() for t in received.split(",")} & {t.strip() for t in expected.split(",")})


def _pack(node: dict[str, Any]) -> str | None:
    for holder in (node.get("_meta"), node.get("properties")):
        if isinstance(holder, dict):
            for key in PACK_KEYS:
                value = holder.get(key)
                if isinstance(value, str) and value.strip():
                    return value.strip()
    return None


def _listed(value: Any, choices: list) -> bool:
    if any(value == c and type(value) is type(c) for c in choices):
        return True
    if isinstance(value, str) and ("\\" in value or "/" in value):  # Windows and POSIX separators name the same file
        wanted = value.replace("\\", "/")
        return any(isinstance(c, str) and c.replace("\\", "/") == wanted for c in choices)
    return False


def _looks_like_file(value: Any) -> bool:
    return isinstance(value, str) and value.lower().endswith(MODEL_EXTENSIONS)


def _model_folder(class_type: str, name: str, value: Any, choices: list, models: dict[str, list]) -> str | None:
    """The models folder of a model-file input, or None when the input is no model file."""
    folder = model_folder(class_type, name)
    if folder is None and not name.endswith("_name"):
        return None
    if not (_looks_like_file(value) or any(_looks_like_file(c) for c in choices)):
        return None
    if folder is not None:
        return folder
    overlap = {f: len(set(files) & set(choices)) for f, files in models.items()}  # the folder this list shows
    best = max(overlap, key=lambda f: overlap[f], default=None)
    if best is not None and overlap[best]:
        return best
    return next((f for f, files in models.items() if _listed(value, files)), "other")


def _number_problem(value: Any, options: dict[str, Any], kind: str) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        if isinstance(value, str):
            try:
                value = float(value)  # ComfyUI converts a numeric string itself
            except ValueError:
                return f"{_show(value)} is not a number"
        else:
            return f"{_show(value)} is not a number"
    if kind == "INT" and isinstance(value, float) and not value.is_integer():
        return None  # ComfyUI truncates it; not worth a warning
    low, high = options.get("min"), options.get("max")
    if _is_number(low) and value < low:
        return f"{value} is below the minimum {low}"
    if _is_number(high) and value > high:
        return f"{value} is above the maximum {high}"
    return None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _few(choices: list | None) -> str:
    if not choices:
        return " (the list is empty)"
    shown = ", ".join(str(c) for c in choices[:8])
    return f" ({shown}{', …' if len(choices) > 8 else ''})"


def _show(value: Any) -> str:
    return repr(value) if isinstance(value, str) else str(value)
