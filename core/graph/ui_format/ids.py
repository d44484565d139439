"""Node ids unique across a workflow, as the editor makes them when it loads one (frontend 1.4x,
``deduplicateSubgraphNodeIds``).

ComfyUI's own templates reuse a node id inside two subgraph definitions (or in one and the root graph). On load,
the editor keeps the root graph's ids, then walks ``definitions.subgraphs`` in order and gives each node whose
numeric id is taken the next free id after the workflow's last node id, patching that subgraph's links and
promoted widgets and the ``proxyWidgets`` of the nodes that use it. The API graph's ids (``26:27``) follow.
"""

from __future__ import annotations

import copy
from typing import Any


def unique_ids(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with the editor's renumbering applied; ``data`` itself (not copied) when no id is taken twice."""
    definitions = data.get("definitions")
    subgraphs = definitions.get("subgraphs") if isinstance(definitions, dict) else None
    if not isinstance(subgraphs, list) or not _renumbers(data, subgraphs):
        return data
    data = {**data, "nodes": copy.deepcopy(data["nodes"])}
    subgraphs = copy.deepcopy(subgraphs)
    data["definitions"] = {**definitions, "subgraphs": subgraphs}  # type: ignore[dict-item]
    used = _root_ids(data)
    last = [_last_node_id(data)]
    remapped: dict[str, dict[Any, int]] = {}
    for subgraph in subgraphs:
        if not isinstance(subgraph, dict):
            continue
        found = _remap(_list(subgraph.get("nodes")), used, last)
        if found:
            remapped[str(subgraph.get("id"))] = found
            for link in _list(subgraph.get("links")):
                if isinstance(link, dict):
                    for key in ("origin_id", "target_id"):
                        if _number(link.get(key)) and link[key] in found:
                            link[key] = found[link[key]]
            for widget in _list(subgraph.get("widgets")):
                if isinstance(widget, dict) and _number(widget.get("id")) and widget["id"] in found:
                    widget["id"] = found[widget["id"]]
    for nodes in [data["nodes"], *(_list(s.get("nodes")) for s in subgraphs if isinstance(s, dict))]:
        _patch_proxy_widgets(nodes, remapped)
    return data


def _renumbers(data: dict[str, Any], subgraphs: list[Any]) -> bool:
    """Whether loading renumbers anything: some subgraph's numeric node id is taken before it."""
    used = _root_ids(data)
    for subgraph in subgraphs:
        for node in _list(subgraph.get("nodes")) if isinstance(subgraph, dict) else ():
            node_id = node.get("id") if isinstance(node, dict) else None
            if _number(node_id):
                if node_id in used:
                    return True
                used.add(node_id)
    return False


def _remap(nodes: list[Any], used: set[Any], last: list[Any]) -> dict[Any, int]:
    found: dict[Any, int] = {}
    for node in nodes:
        node_id = node.get("id") if isinstance(node, dict) else None
        if not _number(node_id):
            continue
        if node_id in used:
            last[0] = int(last[0]) + 1
            while last[0] in used:
                last[0] += 1
            found[node_id] = node["id"] = last[0]
            used.add(last[0])
        else:
            used.add(node_id)
            if node_id > last[0]:
                last[0] = node_id
    return found


def _patch_proxy_widgets(nodes: list[Any], remapped: dict[str, dict[Any, int]]) -> None:
    """A subgraph node's ``properties.proxyWidgets`` (``[[inner id, widget], ...]``) follow its subgraph's ids."""
    for node in nodes:
        found = remapped.get(str(node.get("type"))) if isinstance(node, dict) else None
        properties = node.get("properties") if found else None
        proxies = properties.get("proxyWidgets") if isinstance(properties, dict) else None
        for proxy in proxies if isinstance(proxies, list) else ():
            if isinstance(proxy, list) and proxy:
                try:
                    inner = float(proxy[0])
                except (TypeError, ValueError):
                    continue
                key = int(inner) if inner.is_integer() else inner
                if key in found:  # type: ignore[operator]
                    proxy[0] = str(found[key])  # type: ignore[index]


def _root_ids(data: dict[str, Any]) -> set[Any]:
    return {n["id"] for n in _list(data.get("nodes")) if isinstance(n, dict) and _number(n.get("id"))}


def _last_node_id(data: dict[str, Any]) -> Any:
    """The editor's ``state.lastNodeId`` after reading the file's header (0 after a clear)."""
    last: Any = 0
    state = data.get("state")
    if data.get("version") != 0.4 and isinstance(state, dict) and _number(state.get("lastNodeId")):
        last = max(last, state["lastNodeId"])
    if "last_node_id" in data:  # assigned as it is, after the state
        last = data["last_node_id"] if _number(data["last_node_id"]) else 0
    return last


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
