"""App mode: the inputs and outputs an author picked in ComfyUI's editor, as the phone form's parameters.

The editor (comfyui-frontend-package 1.41.x onwards) saves the selection in the UI document as
``extra.linearData = {"inputs": [[id, widget_name, config?], ...], "outputs": [node_id, ...]}``:

- ``id`` is a node id (number or string) of the root graph, an execution path ``"a:b"`` (node b inside
  the subgraph node a), a node locator ``"<subgraph uuid>:<local id>"`` (that node in every instance of
  the subgraph), or (1.5x) a widget id ``"<graph uuid>:<local id>:<widget name>"``, each part URI-encoded.
- widgets are named by name, never by index; a name that is an input of a subgraph node (a promoted
  widget) is followed into the subgraph to the widget it feeds.
- ``config`` holds only ``height`` and ``description``; the author's label is the one the editor's rename
  writes on the node's input of that widget (``inputs[].label``), else the widget's name. There are no
  min/max/step/choice overrides: the group is the node's title, and bounds come from the host's definitions
  as for every other form.

:func:`app_mode` maps that onto the API graph the converter made (ids as it gives them, ``"a:b"`` inside
subgraphs) and answers None when the document has no selection, so the other readers decide as before.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from ..errors import BadRequest
from .links import id_key
from .object_info import input_spec
from .parameter import Parameter, finite_number, unique_name, whole_number
from .ui_format.ids import unique_ids

CODE = "APP_MODE"


@dataclass
class AppSelection:
    """The form's parameters in the author's order, and the API ids of the nodes whose images the results show."""

    parameters: list[Parameter] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)


def linear_data(ui: Any) -> dict[str, Any] | None:
    """``extra.linearData`` of a UI document when it selects anything, else None."""
    extra = ui.get("extra") if isinstance(ui, dict) else None
    data = extra.get("linearData") if isinstance(extra, dict) else None
    if not isinstance(data, dict) or not (data.get("inputs") or data.get("outputs")):
        return None
    return data


def app_mode(ui: Any, graph: dict[str, Any], object_info: Any) -> AppSelection | None:
    """The App-mode selection of ``ui`` on its converted ``graph``; None without one.

    A selection naming a node or widget the graph lacks (or whose input is a link) is a 400 ``APP_MODE``
    naming it: the form must not silently lose an input the author chose.
    """
    data = linear_data(ui)
    if data is None:
        return None
    tree = _Tree(ui)
    selection = AppSelection()
    names: dict[str, Parameter] = {}
    for position, entry in enumerate(_list(data.get("inputs"))):
        if not isinstance(entry, list) or len(entry) < 2 or not isinstance(entry[1], str):
            raise BadRequest(f"App mode: input {position + 1} is not a [node, widget] pair", code=CODE)
        config = entry[2] if len(entry) > 2 and isinstance(entry[2], dict) else {}
        targets = tree.targets(entry[0], entry[1])
        if not targets:
            raise BadRequest(f"App mode: node {entry[0]!r} (widget {entry[1]!r}) is not in the workflow", code=CODE)
        for node_id, input_name in targets:
            _require_literal(graph, node_id, input_name)
        first_id, first_input = targets[0]
        param = _parameter(graph, object_info, first_id, first_input, len(selection.parameters))
        param.name = unique_name(first_input, names)
        param.label = tree.label(entry[0], entry[1]) or entry[1]
        param.group = tree.title(first_id)
        param.description = str(config.get("description") or "")
        param.targets = targets
        names[param.name] = param
        selection.parameters.append(param)
    for raw in _list(data.get("outputs")):
        found = [node_id for node_id in tree.node_ids(raw) if node_id in graph]
        if not found:
            raise BadRequest(f"App mode: output node {raw!r} is not in the workflow", code=CODE)
        selection.outputs += [node_id for node_id in found if node_id not in selection.outputs]
    return selection


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _require_literal(graph: dict[str, Any], node_id: str, input_name: str) -> None:
    node = graph.get(node_id)
    inputs = node.get("inputs") if isinstance(node, dict) else None
    if not isinstance(inputs, dict):
        raise BadRequest(f"App mode: node {node_id} is not in the workflow (muted, or only in the editor)", code=CODE)
    if input_name not in inputs:
        raise BadRequest(f"App mode: node {node_id} has no widget {input_name!r}", code=CODE)
    if isinstance(inputs[input_name], list | dict):
        raise BadRequest(f"App mode: widget {input_name!r} of node {node_id} is fed by a link", code=CODE)


def _parameter(graph: dict[str, Any], object_info: Any, node_id: str, input_name: str, order: int) -> Parameter:
    value = graph[node_id]["inputs"][input_name]
    kind, options, choices = input_spec(object_info, str(graph[node_id].get("class_type")), input_name)
    param = Parameter(name=input_name, label=input_name, type=_kind(kind, options, value), default=value, order=order)
    if param.type in ("int", "float"):
        param.min, param.max, param.step = (finite_number(options.get(k)) for k in ("min", "max", "step"))
        if param.type == "int":
            param.min, param.max, param.step = (whole_number(v) for v in (param.min, param.max, param.step))
            if options.get("control_after_generate") or input_name in ("seed", "noise_seed"):
                param.type, param.randomize = "seed", True
    if param.type == "choice":
        param.choices, param.choice_source = list(choices or []), "fixed"
    param.required = value is None
    return param


def _kind(kind: str | None, options: dict[str, Any], value: Any) -> str:
    if kind == "COMBO":
        return "choice"
    if kind in ("INT", "FLOAT", "BOOLEAN"):
        return kind.lower()
    if kind == "STRING":
        return "text" if options.get("multiline") is True else "string"
    if isinstance(value, bool):
        return "boolean"
    return "int" if isinstance(value, int) else "float" if isinstance(value, float) else "string"


class _Tree:
    """The UI document's nodes by the ids the converter gives them (``"a:b"`` inside subgraph node a)."""

    def __init__(self, ui: dict[str, Any]) -> None:
        ui = unique_ids(ui)  # the ids the converter gives (the editor renumbers ids a subgraph reuses)
        self.root_id = str(ui.get("id") or "")
        definitions = (ui.get("definitions") or {}).get("subgraphs") if isinstance(ui.get("definitions"), dict) else []
        self.subgraphs = {str(d.get("id")): d for d in _list(definitions) if isinstance(d, dict)}
        self.nodes: dict[str, dict[str, Any]] = {}  # API-style id -> UI node
        self.instances: dict[str, list[str]] = {}  # subgraph uuid -> id prefixes of its instances
        self._walk(_list(ui.get("nodes")), "", 0)

    def _walk(self, nodes: list[Any], prefix: str, depth: int) -> None:
        for node in nodes:
            if not isinstance(node, dict) or depth > 16:
                continue
            node_id = f"{prefix}{node.get('id')}"
            self.nodes[node_id] = node
            inner = self.subgraphs.get(str(node.get("type")))
            if inner is not None:
                self.instances.setdefault(str(inner.get("id")), []).append(node_id)
                self._walk(_list(inner.get("nodes")), f"{node_id}:", depth + 1)

    def title(self, node_id: str) -> str | None:
        node = self.nodes.get(node_id) or {}
        return str(node.get("title") or node.get("type") or "") or None

    def label(self, raw: Any, widget: str) -> str | None:
        """The label the author gave a widget (the editor's rename, kept on the node's input of that widget)."""
        for node_id in self.node_ids(raw):
            for slot in _list((self.nodes.get(node_id) or {}).get("inputs")):
                if not isinstance(slot, dict):
                    continue
                widget_of = slot.get("widget")
                named = widget_of.get("name") if isinstance(widget_of, dict) else slot.get("name")
                label = slot.get("label")
                if named == widget and isinstance(label, str) and label.strip():
                    return label.strip()[:120]
        return None

    def node_ids(self, raw: Any) -> list[str]:
        """The API ids a stored node reference names: one, or one per instance of a subgraph (locators)."""
        text = str(raw)
        if text in self.nodes:
            return [text]
        parts = text.split(":")
        if len(parts) == 2 and parts[0] in self.subgraphs:  # a locator: <subgraph uuid>:<local id>
            return [f"{prefix}:{unquote(parts[1])}" for prefix in self.instances.get(parts[0], [])]
        if len(parts) == 2 and parts[0] == self.root_id:
            return [unquote(parts[1])] if unquote(parts[1]) in self.nodes else []
        return []

    def targets(self, raw: Any, widget: str) -> list[tuple[str, str]]:
        """The (API node id, input name) pairs one stored input names, following promoted subgraph widgets."""
        text = str(raw)
        parts = text.split(":")
        if len(parts) == 3 and (parts[0] == self.root_id or parts[0] in self.subgraphs):  # a widget id
            ids = self.node_ids(f"{parts[0]}:{parts[1]}")
            widget = unquote(parts[2]) if not widget else widget
        else:
            ids = self.node_ids(text)
        found: list[tuple[str, str]] = []
        for node_id in sorted(ids, key=id_key):
            found += self._through(node_id, widget, 0)
        return found

    def _through(self, node_id: str, name: str, depth: int) -> list[tuple[str, str]]:
        node = self.nodes.get(node_id) or {}
        inner = self.subgraphs.get(str(node.get("type")))
        if inner is None or depth > 16:
            return [(node_id, name)]
        slot = next((s for s in _list(inner.get("inputs")) if isinstance(s, dict) and s.get("name") == name), None)
        if slot is None:
            return []
        links = {str(link.get("id")): link for link in _list(inner.get("links")) if isinstance(link, dict)}
        found: list[tuple[str, str]] = []
        for link_id in _list(slot.get("linkIds")):
            link = links.get(str(link_id))
            target = self.nodes.get(f"{node_id}:{link.get('target_id')}") if link else None
            if link is None or target is None:
                continue
            inputs = _list(target.get("inputs"))
            index = link.get("target_slot")
            if isinstance(index, int) and 0 <= index < len(inputs) and isinstance(inputs[index], dict):
                inner_name = str(inputs[index].get("name"))
                found += self._through(f"{node_id}:{link.get('target_id')}", inner_name, depth + 1)
        return found
