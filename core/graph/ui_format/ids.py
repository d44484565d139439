"""Node ids unique across a workflow, as the editor makes them when it loads one (frontend 1.4x,
``deduplicateSubgraphNodeIds``).

ComfyUI's own templates reuse a node id inside two subgraph definitions (or in one and the root graph). On load,
the editor keeps the root graph's ids, then walks ``definitions.subgraphs`` in order and gives each node whose
numeric id is taken the next free id after the workflow's last node id, patching that subgraph's links and
promoted widgets and the ``proxyWidgets`` of the nodes that use it. The API graph's ids (``26:27``) follow.
"""

from __future__ import annotations

from typing import Any


def unique_ids(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with the editor's renumbering applied; ``data`` itself when no id is taken twice. ``data`` is never
    changed: what is renumbered is copied (a node, a link), the rest shared."""
    definitions = data.get("definitions")
    subgraphs = definitions.get("subgraphs") if isinstance(definitions, dict) else None
    if not isinstance(subgraphs, list):
        return data
    used = _root_ids(data)
    last = [_last_node_id(data)]
    remapped: dict[str, dict[Any, int]] = {}
    renumbered: list[Any] = []
    for subgraph in subgraphs:
        if not isinstance(subgraph, dict):
            renumbered.append(subgraph)
            continue
        nodes, found = _remap(_list(subgraph.get("nodes")), used, last)
        if not found:
            renumbered.append(subgraph)
            continue
        remapped[str(subgraph.get("id"))] = found
        copy = {**subgraph, "nodes": nodes}
        if isinstance(subgraph.get("links"), list):
            copy["links"] = [_patched(link, ("origin_id", "target_id"), found) for link in subgraph["links"]]
        if isinstance(subgraph.get("widgets"), list):
            copy["widgets"] = [_patched(widget, ("id",), found) for widget in subgraph["widgets"]]
        renumbered.append(copy)
    if not remapped:
        return data
    renumbered = [
        {**s, "nodes": _with_proxies(_list(s.get("nodes")), remapped)} if isinstance(s, dict) else s for s in renumbered
    ]
    return {
        **data,
        "nodes": _with_proxies(_list(data.get("nodes")), remapped),
        "definitions": {**definitions, "subgraphs": renumbered},  # type: ignore[dict-item]
    }


def _remap(nodes: list[Any], used: set[Any], last: list[Any]) -> tuple[list[Any], dict[Any, int]]:
    """The nodes with a taken id given the next free one (copies), and old id → new id."""
    found: dict[Any, int] = {}
    out: list[Any] = []
    for node in nodes:
        node_id = node.get("id") if isinstance(node, dict) else None
        if _number(node_id) and node_id in used:
            last[0] = int(last[0]) + 1
            while last[0] in used:
                last[0] += 1
            found[node_id] = last[0]
            used.add(last[0])
            node = {**node, "id": last[0]}
        elif _number(node_id):
            used.add(node_id)
            last[0] = max(last[0], node_id)
        out.append(node)
    return out, found


def _patched(item: Any, keys: tuple[str, ...], found: dict[Any, int]) -> Any:
    """``item`` with the ids under ``keys`` that ``found`` renumbers (a copy when one is)."""
    if not isinstance(item, dict):
        return item
    changes = {k: found[item[k]] for k in keys if _number(item.get(k)) and item[k] in found}
    return {**item, **changes} if changes else item


def _with_proxies(nodes: list[Any], remapped: dict[str, dict[Any, int]]) -> list[Any]:
    """The nodes, a subgraph node's ``properties.proxyWidgets`` (``[[inner id, widget], ...]``) following its
    subgraph's renumbering (copies of the nodes that change)."""
    out = []
    for node in nodes:
        found = remapped.get(str(node.get("type"))) if isinstance(node, dict) else None
        properties = node.get("properties") if found else None
        proxies = properties.get("proxyWidgets") if isinstance(properties, dict) else None
        if found and isinstance(proxies, list):
            proxies = [_proxy(proxy, found) for proxy in proxies]
            node = {**node, "properties": {**properties, "proxyWidgets": proxies}}  # type: ignore[dict-item]
        out.append(node)
    return out


def _proxy(proxy: Any, found: dict[Any, int]) -> Any:
    if not isinstance(proxy, list) or not proxy:
        return proxy
    try:
        inner = float(proxy[0])  # the editor's Number(id)
    except (TypeError, ValueError):
        return proxy
    key = int(inner) if inner.is_integer() else inner
    return [str(found[key]), *proxy[1:]] if key in found else proxy


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
