"""Following a link to the node that really gives the value: through Reroute nodes, bypassed nodes (by type),
into and out of subgraphs. A port of the editor's ``ExecutableNodeDTO.resolveInput``/``resolveOutput``."""

from __future__ import annotations

from typing import Any

from .document import SUBGRAPH_INPUT, Link
from .flatten import BYPASSED, ExecNode
from .report import ConversionError

# What an input resolves to: ("link", node id, output slot), ("value", a widget value), or None (nothing).
Resolved = tuple[str, Any, int] | tuple[str, Any] | None


class Resolver:
    def __init__(self, nodes: dict[str, ExecNode]) -> None:
        self.nodes = nodes

    def input(self, node: ExecNode, slot: int, seen: set[tuple[str, str, int]], kind: Any = None) -> Resolved:
        key = (node.id, "I", slot)
        if key in seen:
            raise ConversionError(f"a cycle of links passes through input {slot} of this node", node.id, node.type)
        seen.add(key)
        if not 0 <= slot < len(node.inputs):
            raise ConversionError(f"a link reaches input {slot}, which this node does not have", node.id, node.type)
        source = node.inputs[slot]
        if source.link is None:
            return None
        link = self._link(node, source.link, source.name)
        parent = node.parent
        if parent is not None and link.origin_id == SUBGRAPH_INPUT:
            if not 0 <= link.origin_slot < len(parent.inputs):
                raise ConversionError(f"no subgraph input {link.origin_slot}", parent.id, parent.type)
            outer = parent.inputs[link.origin_slot]
            if outer.link is None:
                return self._promoted(parent, link.origin_slot)
            self._link(parent, outer.link, outer.name)
            return self.input(parent, link.origin_slot, seen)  # the editor re-numbers target slots on load
        origin = node.scope.nodes.get(str(link.origin_id))
        if origin is None:
            text = f"input {source.name!r} is linked to node {link.origin_id}, which is not in the workflow"
            raise ConversionError(text, node.id, node.type, source.name)
        origin_node = self.nodes[":".join((*node.path, str(origin["id"])))]
        return self.output(origin_node, link.origin_slot, kind or source.type, seen)

    def output(self, node: ExecNode, slot: int, kind: Any, seen: set[tuple[str, str, int]]) -> Resolved:
        key = (node.id, "O", slot)
        if key in seen:
            raise ConversionError(f"a cycle of links passes through output {slot} of this node", node.id, node.type)
        seen.add(key)
        if node.mode == BYPASSED:
            index = self._bypass_slot(node, slot, kind)
            return None if index == -1 else self.input(node, index, seen)
        if node.subgraph is not None:
            inner = node.subgraph.output_links.get(slot)
            if not inner:
                return None
            origin = node.subgraph.nodes.get(str(inner[0].origin_id))
            if origin is None:
                raise ConversionError(f"subgraph output {slot} comes from no node", node.id, node.type)
            inner_node = self.nodes[":".join((*node.path, node.raw_id, str(origin["id"])))]
            return self.output(inner_node, inner[0].origin_slot, kind, seen)
        if node.virtual:
            if slot < len(node.inputs) and node.inputs[slot].link is not None:
                return self.input(node, slot, seen, kind)
            return None
        return ("link", node.id, slot)

    def _link(self, node: ExecNode, link_id: Any, name: str) -> Link:
        link = node.scope.links.get(str(link_id))
        if link is None:
            text = f"input {name!r} names link {link_id}, which is not in the workflow"
            raise ConversionError(text, node.id, node.type, name)
        return link

    def _promoted(self, subgraph_node: ExecNode, slot: int) -> Resolved:
        """The value of the subgraph node's own widget for an input nothing feeds, when it has one."""
        widget_slots = [i for i, s in enumerate(subgraph_node.inputs) if s.widget]
        values = subgraph_node.raw.get("widgets_values")
        if slot in widget_slots and isinstance(values, list) and widget_slots.index(slot) < len(values):
            return ("value", values[widget_slots.index(slot)])
        return None

    @staticmethod
    def _bypass_slot(node: ExecNode, slot: int, kind: Any) -> int:
        """The input a bypassed node passes to its output ``slot``: the same slot when its type fits, else the
        first input of the wanted type, else the first that fits both (the editor's rule)."""
        inputs = node.inputs
        given = node.output_type(slot)
        if kind in ("*", ""):
            return slot if len(inputs) > slot else 0
        if slot < len(inputs) and fits(inputs[slot].type, given) and fits(inputs[slot].type, kind):
            return slot
        for index, source in enumerate(inputs):
            if source.type == kind:
                return index
        for index, source in enumerate(inputs):
            if fits(source.type, given) and fits(source.type, kind):
                return index
        return -1


def fits(a: Any, b: Any) -> bool:
    """LiteGraph's ``isValidConnection``: "*" or "" fits anything, "A,B" fits either, case is ignored."""
    a = 0 if a in ("", "*") else a
    b = 0 if b in ("", "*") else b
    if not a or not b or a == b:
        return True
    a, b = str(a).lower(), str(b).lower()
    if "," not in a and "," not in b:
        return a == b
    return any(fits(x, y) for x in a.split(",") for y in b.split(","))
