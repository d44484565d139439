"""The parameters of a workflow described by CozyGen input nodes (CozyGenString … CozyGenImage, and the original
CozyGen's ``CozyGen*Input`` classes): one parameter a node, in ``order``/``priority`` then node id order, its value
written on the node itself (:data:`core.graph.node_values.VALUE_INPUT`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .links import id_key, link
from .node_values import LEGACY_NODES, SEED_MAX, VALUE_INPUT, cast_dynamic, parse_choices
from .object_info import choice_list, input_spec
from .parameter import Parameter, finite_number, unique_name, whole_number

NODE_TYPES = {
    "CozyGenString": "string",
    "CozyGenInt": "int",
    "CozyGenFloat": "float",
    "CozyGenBoolean": "boolean",
    "CozyGenSeed": "seed",
    "CozyGenChoice": "choice",
    "CozyGenImage": "image",
    "CozyGenStringInput": "string",
    "CozyGenIntInput": "int",
    "CozyGenFloatInput": "float",
    "CozyGenChoiceInput": "choice",
    "CozyGenImageInput": "image",
}
DYNAMIC_PARAM_TYPES = {"STRING": "string", "INT": "int", "FLOAT": "float", "BOOLEAN": "boolean", "DROPDOWN": "choice"}


def cozygen_schema(
    workflow: dict, node_ids: list[str], object_info: dict, models: Mapping[str, Any] | None
) -> list[Parameter]:
    found: list[tuple[float, tuple, Parameter]] = []
    nodes = {str(node_id): node for node_id, node in workflow.items()}
    for node_id in node_ids:
        param = _cozygen_param(node_id, nodes[node_id], object_info, models)
        if param is not None:
            found.append((param.order, id_key(node_id), param))
    found.sort(key=lambda item: (item[0], item[1]))
    params: list[Parameter] = []
    by_name: dict[str, Parameter] = {}
    for _, _, param in found:
        same = by_name.get(param.name)
        if same is not None and same.type == param.type and same.choices == param.choices:
            same.targets.extend(param.targets)  # one value for every node that shares the name
            continue
        if same is not None:
            param.name = unique_name(param.name, by_name)
        by_name[param.name] = param
        params.append(param)
    return params


def _cozygen_param(node_id: str, node: Any, object_info: dict, models: Mapping[str, Any] | None) -> Parameter | None:
    inputs = node.get("inputs") if isinstance(node, dict) else None
    inputs = inputs if isinstance(inputs, dict) else {}
    class_type = node["class_type"]
    legacy = class_type in LEGACY_NODES
    value_input = VALUE_INPUT[class_type]
    value = inputs.get(value_input)
    if link(value) is not None:
        return None  # the value comes from another node: nothing to set here
    param_type = str(inputs.get("param_type") or "STRING").upper()  # CozyGenDynamicInput's
    kind = NODE_TYPES.get(class_type) or DYNAMIC_PARAM_TYPES.get(param_type, "string")
    name = _text(inputs.get("param_name")) or f"{kind}_{node_id}"
    order = finite_number(inputs.get("priority" if legacy else "order"))
    param = Parameter(
        name=name,
        label=_text(inputs.get("label")) or name,
        type=kind,
        group=_text(inputs.get("group")),
        order=int(max(-1e15, min(1e15, order))) if order is not None else (10 if legacy else 0),  # JSON-safe
        description=_text(inputs.get("description")) or "",
        targets=[(node_id, value_input)],
    )
    if class_type == "CozyGenDynamicInput" and isinstance(value, str) and kind not in ("string", "choice"):
        value = cast_dynamic(param_type, value)
    if kind == "string":
        multiline = inputs.get("display_multiline" if class_type == "CozyGenStringInput" else "multiline")
        param.type = "text" if multiline is True else "string"
        param.default = value if isinstance(value, str) else None
    elif kind in ("int", "float"):
        _cozygen_bounds(param, class_type, value_input, inputs, legacy, object_info)
        param.default = _as_number(value, kind)
        seed_like = inputs.get("add_randomize_toggle") is True or name.lower().replace(" ", "_") in (
            "seed",
            "noise_seed",
        )
        if legacy and kind == "int" and seed_like:  # the original CozyGen's seeds are int inputs
            param.type = "seed"
            # A seed with the original's randomize toggle starts randomized, as ComfyUI's seed widgets do (a new
            # image per tap); CozyGen's own "randomize" input, which the original app ignores, says otherwise.
            param.randomize = inputs.get("randomize", inputs.get("add_randomize_toggle")) is True
    elif kind == "seed":
        _cozygen_bounds(param, class_type, value_input, inputs, legacy, object_info)
        param.default = _as_number(value, "int")
        param.randomize = inputs.get("randomize") is True
    elif kind == "boolean":
        param.default = value if isinstance(value, bool) else None
    elif kind == "choice":
        source = _text(inputs.get("choice_type")) or "fixed"
        param.choice_source = source
        if source == "fixed":
            param.choices = parse_choices(inputs.get("choices"))
        else:
            param.choices = choice_list(source, object_info, models)  # None: this host cannot say
        if class_type == "CozyGenChoiceInput":
            value = next((v for v in (value, inputs.get("default_choice")) if _text(v) and v != "None"), None)
        param.default = value if isinstance(value, str) and value else None
    elif kind == "image":
        param.default = value if isinstance(value, str) and value.strip() else None
    if param.type == "seed":
        param.min = 0 if param.min is None else param.min
        param.max = SEED_MAX if param.max is None else param.max
    param.required = param.default is None
    return param


def _cozygen_bounds(
    param: Parameter, class_type: str, value_input: str, inputs: dict, legacy: bool, object_info: dict
) -> None:
    """min/max/step set on the node, else the options object_info gives the node's value input."""
    _, options, _ = input_spec(object_info, class_type, value_input)
    names = ("min_value", "max_value", "step") if legacy else ("min", "max", "step")
    low, high, step = (finite_number(inputs.get(n)) for n in names)
    if class_type == "CozyGenDynamicInput" and (low is None or high is None or low >= high):
        low = high = None  # its hidden defaults (0 to 1) mean "not set"
    param.min = low if low is not None else finite_number(options.get("min"))
    param.max = high if high is not None else finite_number(options.get("max"))
    param.step = step if step else finite_number(options.get("step"))
    if param.type in ("int", "seed"):
        param.min, param.max, param.step = (whole_number(v) for v in (param.min, param.max, param.step))


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _as_number(value: Any, kind: str) -> int | float | None:
    number = finite_number(value)
    if number is None:
        return None
    if kind == "int":
        return int(number) if float(number).is_integer() else None
    return float(number)
