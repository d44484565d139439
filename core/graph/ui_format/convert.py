"""The editor's ``graphToPrompt`` on the server: a UI-format workflow to the API graph ComfyUI runs.

Each executable node (:mod:`.flatten`) that is not editor-only, muted (mode 2) or bypassed (mode 4) becomes
``{"class_type", "inputs", "_meta": {"title"}}``: first the widgets the editor sends (:mod:`.widgets`, with a
PrimitiveNode's value applied to the widget it feeds, and dynamic prompts processed), then the linked inputs,
resolved (:mod:`.resolve`). Inputs linked to a node that is not sent (a muted one) are dropped, as the editor
does. What cannot be converted is reported in the workflow check's shape (:mod:`.report`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..check import check
from ..links import on_cycles
from . import dynamic_prompt, text_replacements
from .document import read
from .flatten import BYPASSED, MUTED, ExecNode, flatten
from .report import ConversionError, Problems, refuse
from .resolve import Resolver
from .widgets import EDITOR_MADE, Widget, assign, layout, migrate, migration

EDITOR_ONLY = "PrimitiveNode"
Layout = tuple[list[Widget], list[tuple[bool, int]] | None]  # a node type's widgets and its migration plan


@dataclass
class Conversion:
    prompt: dict[str, dict[str, Any]]
    report: dict[str, Any]  # the check's shape: ok, missing_nodes, missing_models, invalid_values


def convert(data: Any, object_info: Any, choose: dynamic_prompt.Choose | None = None) -> Conversion:
    """The API graph of the UI workflow ``data`` on a host with ``object_info``, and what could not be converted.

    ConversionError (400, ``UI_CONVERT``) when the file cannot be read as a whole: not a workflow, too large or
    deep, a link to a missing node, a cycle, a subgraph that contains itself.
    """
    object_info = object_info if isinstance(object_info, dict) else {}
    document = read(data)
    nodes = flatten(document, object_info)
    problems = Problems()
    applied = _primitive_values(nodes)
    resolver = Resolver(nodes)
    layouts: dict[str, Layout] = {}
    prompt: dict[str, dict[str, Any]] = {}
    for node in nodes.values():
        if node.virtual or node.mode in (MUTED, BYPASSED):
            continue
        if node.type in document.group_nodes or node.type.startswith("workflow>"):
            text = "a group node: open the workflow in ComfyUI and convert the group node to a subgraph"
            problems.invalid_value(node.id, node.type, None, None, text)
            continue
        if node.definition is None:
            problems.missing_node(node.id, node.type)
            continue
        if node.type in EDITOR_MADE:
            text = "its value is made by the editor itself (camera, 3D view), so it runs only from the editor"
            problems.invalid_value(node.id, node.type, None, None, text)
        inputs = _widget_inputs(node, _layout_of(node, layouts), applied, problems, choose)
        for index, slot in enumerate(node.inputs):
            if slot.link is None:
                continue
            resolved = resolver.input(node, index, set())
            if resolved is None:
                continue
            if resolved[0] == "value":
                inputs[slot.name] = _wrap(resolved[1])
            else:
                inputs[slot.name] = [str(resolved[1]), int(resolved[2])]  # type: ignore[misc]
        prompt[node.id] = {"inputs": inputs, "class_type": node.type, "_meta": {"title": node.title}}
    for entry in prompt.values():
        for name, value in list(entry["inputs"].items()):
            if isinstance(value, list) and len(value) == 2 and value[0] not in prompt:
                del entry["inputs"][name]
    text_replacements.replace_nodes(prompt, lambda: _views(nodes, layouts, applied))
    _refuse_cycles(prompt)
    return Conversion(prompt, problems.as_report())


def checked(
    data: Any, object_info: Any, models: Mapping[str, Any] | None = None, choose: dynamic_prompt.Choose | None = None
) -> Conversion:
    """:func:`convert`, then the workflow check over the result: values the definitions refuse (choices,
    bounds, required inputs) and missing model files join the conversion's own problems in one report."""
    conversion = convert(data, object_info, choose)
    if conversion.prompt:
        found = check(conversion.prompt, object_info, models)
        report = conversion.report
        known = {e["class_type"] for e in report["missing_nodes"]}
        report["missing_nodes"] += [e for e in found["missing_nodes"] if e["class_type"] not in known]
        report["missing_models"] = found["missing_models"]
        report["invalid_values"] += found["invalid_values"]
        report["ok"] = not (report["missing_nodes"] or report["missing_models"] or report["invalid_values"])
    return conversion


def to_api(data: Any, object_info: Any, choose: dynamic_prompt.Choose | None = None) -> dict[str, dict[str, Any]]:
    """The API graph, or ConversionError naming every node that could not be converted."""
    conversion = convert(data, object_info, choose)
    if not conversion.report["ok"]:
        problems = Problems()
        problems.missing = {e["class_type"]: e for e in conversion.report["missing_nodes"]}
        problems.invalid = conversion.report["invalid_values"]
        raise refuse(problems)
    return conversion.prompt


def _widget_inputs(
    node: ExecNode,
    known: Layout,
    applied: dict[tuple[str, str], Any],
    problems: Problems,
    choose: Any,
) -> dict[str, Any]:
    widgets = known[0]
    saved, (values, unset, extra) = _assigned(node, known)
    count = len([w for w in widgets if w.saved])
    if extra or any(not w.optional for w in unset):
        text = f"the file holds {count + extra - len(unset)} widget values, but this node has {count} on this ComfyUI"
        problems.invalid_value(node.id, node.type, None, saved, text)
    elif unset:  # the node gained optional inputs since the file was saved: the editor gives them their defaults
        names = ", ".join(w.name for w in unset if w.sent) or unset[0].name
        problems.warn(node.id, node.type, f"no saved value for {names}: the default is used, as in the editor")
    inputs: dict[str, Any] = {}
    for widget in widgets:
        if not widget.sent:
            continue
        value = applied.get((node.id, widget.name), values[widget.name])
        if widget.dynamic_prompts and isinstance(value, str):
            value = dynamic_prompt.process(value, choose)
        inputs[widget.name] = _wrap(value)
    return inputs


def _primitive_values(nodes: dict[str, ExecNode]) -> dict[tuple[str, str], Any]:
    """(node id, widget name) → value for widgets fed by a PrimitiveNode (its ``applyToGraph``)."""
    applied: dict[tuple[str, str], Any] = {}
    for node in nodes.values():
        values = node.raw.get("widgets_values")
        outputs = node.raw.get("outputs")
        if node.type != EDITOR_ONLY or not isinstance(values, list) or not values or not isinstance(outputs, list):
            continue
        links = outputs[0].get("links") if outputs and isinstance(outputs[0], dict) else None
        for link_id in links if isinstance(links, list) else ():
            found = node.scope.links.get(str(link_id))
            target = node.scope.nodes.get(str(found.target_id)) if found else None
            slots = target.get("inputs") if target else None
            slot = next((x for x in slots or () if isinstance(x, dict) and x.get("link") == link_id), None)
            widget = slot.get("widget") if slot else None
            if isinstance(widget, dict) and isinstance(widget.get("name"), str):
                applied[(":".join((*node.path, str(found.target_id))), widget["name"])] = values[0]  # type: ignore[union-attr]
    return applied


def _layout_of(node: ExecNode, layouts: dict[str, Layout]) -> Layout:
    """The widget layout of ``node``'s type (which has a definition), kept per type."""
    known = layouts.get(node.type)
    if known is None:
        widgets = layout(node.definition or {})
        known = layouts[node.type] = (widgets, migration(node.definition or {}, widgets))
    return known


def _assigned(node: ExecNode, known: Layout) -> tuple[Any, tuple[dict[str, Any], list[Widget], int]]:
    """The node's saved widget values (migrated), and :func:`assign`'s reading of them."""
    saved = node.raw.get("widgets_values")
    if isinstance(saved, list):
        saved = migrate(known[1], saved)
    return saved, assign(known[0], saved)


def _views(
    nodes: dict[str, ExecNode], layouts: dict[str, Layout], applied: dict[tuple[str, str], Any]
) -> list[text_replacements.NodeView]:
    """Every node as the editor's search and replace sees it, in its order (a subgraph's nodes before the
    subgraph node), with every widget's value (those not sent too)."""
    children: dict[str, list[ExecNode]] = {}
    for node in nodes.values():
        children.setdefault(node.parent.id if node.parent else "", []).append(node)
    found: list[text_replacements.NodeView] = []

    def visit(node: ExecNode) -> None:
        for child in children.get(node.id, []):
            visit(child)
        values: dict[str, Any] = {}
        if node.definition is not None and not node.virtual:
            values = _assigned(node, _layout_of(node, layouts))[1][0]
            values.update({name: value for (node_id, name), value in applied.items() if node_id == node.id})
        properties = node.raw.get("properties")
        name = properties.get(text_replacements.SEARCH_NAME) if isinstance(properties, dict) else None
        if not isinstance(name, str):  # the editor names every node but the save nodes by its type
            name = None if node.type in text_replacements.SAVE_NODES else node.type
        found.append(text_replacements.NodeView(name, node.title, values))

    for node in children.get("", []):
        visit(node)
    return found


def _wrap(value: Any) -> Any:
    """A list value is sent as ``{"__value__": [...]}``: a bare list would read as a link."""
    return {"__value__": value} if isinstance(value, list) else value


def _refuse_cycles(prompt: dict[str, dict[str, Any]]) -> None:
    """ConversionError naming a node on a cycle of links, if there is one (ComfyUI cannot run it)."""
    stuck = on_cycles(prompt)
    if stuck:
        first = stuck[0]
        raise ConversionError(
            f"the links form a cycle through nodes {', '.join(stuck[:10])}", first, prompt[first]["class_type"]
        )
