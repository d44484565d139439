"""The executable nodes of a UI workflow: every node of the root graph and, for each subgraph node, the nodes of
its definition, recursively, with the editor's ids (``"5"``, ``"5:12"``, ``"5:12:3"``: the subgraph nodes' ids
on the way, then the node's own)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..object_info import read_spec
from .document import MAX_NODES, MAX_SUBGRAPH_DEPTH, Document, Scope
from .report import ConversionError
from .widgets import entries

VIRTUAL_TYPES = frozenset({"Reroute", "PrimitiveNode", "Note", "MarkdownNote"})  # editor-only nodes
MUTED, BYPASSED = 2, 4


@dataclass
class Slot:
    name: str
    type: Any
    link: Any  # the link id, or None
    widget: bool = False  # a widget's input socket (``widget`` in the file)


@dataclass
class ExecNode:
    """One node as the editor's ``ExecutableNodeDTO`` sees it."""

    id: str
    path: tuple[str, ...]  # the ids of the subgraph nodes it sits in
    raw: dict[str, Any]
    scope: Scope
    parent: ExecNode | None  # the subgraph node it sits in
    definition: dict[str, Any] | None
    subgraph: Scope | None = None  # set on a subgraph node: its definition
    inputs: list[Slot] = field(default_factory=list)

    @property
    def type(self) -> str:
        return self.raw["type"]

    @property
    def raw_id(self) -> str:
        return str(self.raw["id"])

    @property
    def mode(self) -> Any:
        return self.raw.get("mode", 0)

    @property
    def virtual(self) -> bool:
        return self.type in VIRTUAL_TYPES or self.subgraph is not None

    @property
    def title(self) -> str:
        title = self.raw.get("title")
        if isinstance(title, str):
            return title
        if self.definition is not None:
            return str(self.definition.get("display_name") or self.definition.get("name") or self.type)
        return self.type

    def output_type(self, slot: int) -> Any:
        outputs = self.definition.get("output") if self.definition else None
        if isinstance(outputs, list) and 0 <= slot < len(outputs):
            kind = outputs[slot]
            return "COMBO" if isinstance(kind, list) else kind
        raw = self.raw.get("outputs")
        if isinstance(raw, list) and 0 <= slot < len(raw) and isinstance(raw[slot], dict):
            return raw[slot].get("type")
        return None


def flatten(document: Document, object_info: dict[str, Any]) -> dict[str, ExecNode]:
    """Every executable node by its id; ConversionError for a subgraph that uses itself or a graph too large."""
    nodes: dict[str, ExecNode] = {}
    _add(document, object_info, document.root, (), None, (), nodes, {})
    return nodes


def _add(
    document: Document,
    object_info: dict[str, Any],
    scope: Scope,
    path: tuple[str, ...],
    parent: ExecNode | None,
    stack: tuple[str, ...],
    nodes: dict[str, ExecNode],
    kinds: dict[str, list[tuple[str, Any]]],
) -> None:
    for node_id, raw in scope.nodes.items():
        exec_id = ":".join((*path, node_id))
        definition = object_info.get(raw["type"])
        node = ExecNode(exec_id, path, raw, scope, parent, definition if isinstance(definition, dict) else None)
        node.subgraph = document.subgraphs.get(raw["type"])
        declared = None
        if node.subgraph is None and node.definition is not None:
            declared = kinds.get(raw["type"])
            if declared is None:
                declared = kinds[raw["type"]] = [
                    (name, read_spec(spec)[0]) for _, name, spec in entries(node.definition)
                ]
        node.inputs = _slots(raw, declared, node.subgraph)
        nodes[exec_id] = node
        if len(nodes) > MAX_NODES:
            raise ConversionError(f"the workflow has more than {MAX_NODES} nodes, subgraphs included")
        if node.subgraph is None:
            continue
        if raw["type"] in stack:
            raise ConversionError(f"subgraph {raw['type']} contains itself", exec_id, raw["type"])
        if len(stack) >= MAX_SUBGRAPH_DEPTH:
            raise ConversionError(f"subgraphs nest more than {MAX_SUBGRAPH_DEPTH} deep", exec_id, raw["type"])
        _add(document, object_info, node.subgraph, (*path, node_id), node, (*stack, raw["type"]), nodes, kinds)


def _slots(raw: dict[str, Any], declared: list[tuple[str, Any]] | None, subgraph: Scope | None) -> list[Slot]:
    """The node's inputs as the editor holds them: the definition's (a node type's, or a subgraph's), in its
    order, with the file's links (by name), then the file's other inputs."""
    saved = [s for s in raw.get("inputs") or () if isinstance(s, dict) and isinstance(s.get("name"), str)]
    by_name = {s["name"]: s for s in saved}
    slots: list[Slot] = []
    if subgraph is not None:
        for entry in subgraph.raw.get("inputs") or ():
            if isinstance(entry, dict) and isinstance(entry.get("name"), str):
                found = by_name.pop(entry["name"], {})
                slots.append(Slot(entry["name"], entry.get("type"), found.get("link"), "widget" in found))
    for name, kind in declared or ():
        entry = by_name.pop(name, {})
        slots.append(Slot(name, kind, entry.get("link"), "widget" in entry))
    slots.extend(Slot(s["name"], s.get("type"), s.get("link"), "widget" in s) for s in saved if s["name"] in by_name)
    return slots
