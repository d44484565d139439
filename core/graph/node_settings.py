"""Every widget of every node of an API-format workflow: the "all settings" view and its node overrides.

:func:`node_settings` groups the widgets by node (in node id order) with the node's title (``_meta.title``,
else the definition's display name). Each widget is a :class:`.parameter.Parameter` named
``"<node_id>.<input>"`` with its type, bounds and choices from ``object_info`` and the value now in the graph as
its default, plus whether it is linked (a converted widget fed by another node: shown, never editable).

A job's ``values`` may hold such names next to the form's own parameters: :func:`node_overrides` gives the
parameters :func:`.fill.fill` then checks and writes with the same rules as the form (bounds, types, choices),
and refuses, all at once, a name whose node is not in the graph, an input the node has no widget for, and a
linked input.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .fill import FieldErrors
from .links import id_key, link
from .object_info import class_inputs, model_folder, read_spec
from .parameter import Parameter

WIDGET_KINDS = frozenset({"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"})
IMAGE_INPUTS = frozenset({("LoadImage", "image"), ("LoadImageMask", "image"), ("LoadImageOutput", "image")})
SEPARATOR = "."


def override_name(node_id: str, input_name: str) -> str:
    return f"{node_id}{SEPARATOR}{input_name}"


def node_settings(workflow: Mapping[str, Any], object_info: Any) -> list[dict[str, Any]]:
    """``[{"id", "class_type", "title", "known", "widgets": [parameter dict + "linked", "input"]}]`` per node
    that has at least one widget."""
    object_info = object_info if isinstance(object_info, dict) else {}
    nodes = []
    for node_id in sorted((str(k) for k in workflow), key=id_key):
        node = workflow[node_id]
        class_type = str(node.get("class_type"))
        widgets = [
            {**param.to_dict(), "input": name, "linked": linked}
            for name, param, linked in _widgets(node_id, node, object_info)
        ]
        if widgets:
            nodes.append(
                {
                    "id": node_id,
                    "class_type": class_type,
                    "title": _title(node, class_type, object_info),
                    "known": class_type in object_info,
                    "widgets": widgets,
                }
            )
    return nodes


def node_overrides(
    workflow: Mapping[str, Any], object_info: Any, names: Iterable[Any], taken: Iterable[str] = ()
) -> list[Parameter]:
    """The parameters for the ``"<node_id>.<input>"`` names among ``names`` (those in ``taken``, the form's own
    parameter names, are left to the form); FieldErrors naming each one that cannot be set."""
    taken = set(taken)
    wanted = [n for n in names if isinstance(n, str) and SEPARATOR in n and n not in taken]
    if not wanted:
        return []
    object_info = object_info if isinstance(object_info, dict) else {}
    found: dict[str, Parameter] = {}
    errors: dict[str, str] = {}
    for name in wanted:
        node_id, _, input_name = name.rpartition(SEPARATOR)
        node = workflow.get(node_id)
        if not isinstance(node, dict):
            errors[name] = f"no node {node_id} in this workflow"
            continue
        widgets = {key: (param, linked) for key, param, linked in _widgets(node_id, node, object_info)}
        if input_name not in widgets:
            errors[name] = f"node {node_id} ({node.get('class_type')}) has no setting {input_name!r}"
            continue
        param, linked = widgets[input_name]
        if linked:
            errors[name] = f"node {node_id} ({node.get('class_type')}): {input_name} is linked to another node"
            continue
        found[name] = param
    if errors:
        raise FieldErrors(errors)
    return list(found.values())


def _widgets(node_id: str, node: Mapping[str, Any], object_info: dict) -> list[tuple[str, Parameter, bool]]:
    """(input name, parameter, linked) of each widget of one node, in its definition's order."""
    class_type = str(node.get("class_type"))
    raw = node.get("inputs")
    inputs: dict[str, Any] = raw if isinstance(raw, dict) else {}
    specs = class_inputs(object_info, class_type)
    found = []
    if specs is None:  # a node type this host lacks: its plain values, typed by what they hold
        for name, value in inputs.items():
            if link(value) is None and isinstance(value, str | int | float | bool):
                found.append((name, _parameter(node_id, name, None, {}, None, value, class_type), False))
        return found
    for name, (_section, spec) in specs.items():
        kind, options, choices = read_spec(spec)
        if kind not in WIDGET_KINDS:
            continue
        value = inputs.get(name, options.get("default"))
        linked = link(value) is not None
        param = _parameter(node_id, name, kind, options, choices, None if linked else value, class_type)
        found.append((name, param, linked))
    return found


def _parameter(
    node_id: str, name: str, kind: str | None, options: dict, choices: list | None, value: Any, class_type: str
) -> Parameter:
    if isinstance(value, dict) and "__value__" in value:  # a list value, as the editor sends it
        value = value["__value__"]
    if isinstance(value, int) and not isinstance(value, bool):
        value = _number(value)
    param_type = _type(kind, options, value)
    if (class_type, name) in IMAGE_INPUTS:
        param_type, choices = "image", None
    bounds = options if param_type in ("int", "float") else {}
    return Parameter(
        name=override_name(node_id, name),
        label=name,
        type=param_type,
        default=value,
        min=_number(bounds.get("min")),
        max=_number(bounds.get("max")),
        step=_number(bounds.get("step")),
        choices=choices if param_type == "choice" else None,
        choice_source=model_folder(class_type, name) if param_type == "choice" else None,
        description=str(options.get("tooltip") or ""),
        targets=[(node_id, name)],
    )


def _type(kind: str | None, options: dict, value: Any) -> str:
    if kind == "COMBO":
        return "choice"
    if kind in ("INT", "FLOAT"):
        return kind.lower()
    if kind == "BOOLEAN":
        return "boolean"
    if kind == "STRING":
        return "text" if options.get("multiline") is True else "string"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "int"
    return "float" if isinstance(value, float) else "string"


def _number(value: Any) -> int | float | None:
    """A bound as JSON can carry it: a whole number past 64 bits (a seed's 2**64) as a float."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    return value if isinstance(value, float) or -(2**63) <= value < 2**64 else float(value)


def _title(node: Mapping[str, Any], class_type: str, object_info: dict) -> str:
    meta = node.get("_meta")
    title = meta.get("title") if isinstance(meta, dict) else None
    if isinstance(title, str) and title.strip():
        return title
    info = object_info.get(class_type)
    shown = info.get("display_name") if isinstance(info, dict) else None
    return shown if isinstance(shown, str) and shown else class_type
