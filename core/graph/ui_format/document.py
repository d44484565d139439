"""Reading the editor's JSON: the limits, the two link forms, and the subgraph definitions.

A UI-format file is ``{"nodes": [...], "links": [...], "groups", "extra", "definitions": {"subgraphs": [...]}}``.
Links are ``[id, origin_id, origin_slot, target_id, target_slot, type]`` (version 0.4) or objects with those
keys (schema 1 and every subgraph). Native reroutes (``extra.reroutes``, a link's ``parentId``) only draw a link's
path: the link still goes from its origin to its target, so nothing here needs them. Links to or from a
subgraph's input and output nodes use the ids -10 and -20.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ...json_depth import too_deep
from .ids import unique_ids
from .report import ConversionError

MAX_BYTES = 16 * 1024 * 1024  # a saved workflow is rarely over 1 MB; images are not in it
MAX_DEPTH = 64  # JSON nesting (core.json_depth); the editor's own files nest about 8 deep
MAX_NODES = 10_000  # nodes of the flattened graph, subgraphs included
MAX_SUBGRAPH_DEPTH = 32  # subgraphs inside subgraphs
SUBGRAPH_INPUT = -10
SUBGRAPH_OUTPUT = -20


@dataclass(frozen=True)
class Link:
    id: Any
    origin_id: Any
    origin_slot: int
    target_id: Any
    target_slot: int
    type: Any


@dataclass
class Scope:
    """One graph: the root, or a subgraph's definition. Nodes and links by their ids (ids are per graph)."""

    nodes: dict[str, dict[str, Any]]
    links: dict[str, Link]
    raw: dict[str, Any]
    output_links: dict[int, list[Link]] = field(default_factory=dict)  # a subgraph's output slot → inner links


@dataclass
class Document:
    root: Scope
    subgraphs: dict[str, Scope]  # by the subgraph's id, which is also the type of the nodes that use it
    group_nodes: dict[str, Any]


def parse(raw: str | bytes) -> Any:
    """The JSON value of ``raw``, refused when it is over :data:`MAX_BYTES`, not JSON, or nests too deep."""
    if len(raw) > MAX_BYTES:
        raise ConversionError(f"the workflow file is over {MAX_BYTES // (1024 * 1024)} MB")
    try:
        value = json.loads(raw)
    except RecursionError:
        raise ConversionError(f"the workflow nests more than {MAX_DEPTH} levels deep") from None
    except ValueError as error:
        raise ConversionError(f"the workflow file is not JSON ({str(error)[:80]})") from None
    if too_deep(raw, value, MAX_DEPTH):
        raise ConversionError(f"the workflow nests more than {MAX_DEPTH} levels deep")
    return value


def read(data: Any) -> Document:
    """The workflow as scopes; ConversionError for anything that is not the editor's format.

    ``data`` comes from :func:`parse` or from a reader that bounds the depth as well (a request body through
    ``api.responses.read_json``, a stored file through ``core.json_depth.too_deep``); nothing here recurses
    into it."""
    if not is_ui_workflow(data):
        raise ConversionError("this is neither an editor (UI-format) workflow nor an API-format one")
    data = unique_ids(data)  # the editor's renumbering of ids a subgraph reuses
    subgraphs: dict[str, Scope] = {}
    _collect_subgraphs(data, subgraphs)
    extra = data.get("extra") if isinstance(data.get("extra"), dict) else {}
    groups = extra.get("groupNodes")
    return Document(_scope(data), subgraphs, groups if isinstance(groups, dict) else {})


def is_ui_workflow(data: Any) -> bool:
    return isinstance(data, dict) and isinstance(data.get("nodes"), list) and isinstance(data.get("links"), list)


def _collect_subgraphs(holder: dict[str, Any], found: dict[str, Scope]) -> None:
    """Every subgraph definition: the root's ``definitions.subgraphs`` and any nested ``definitions``."""
    pending = [holder]
    while pending:
        definitions = pending.pop().get("definitions")
        entries = definitions.get("subgraphs") if isinstance(definitions, dict) else None
        for entry in entries if isinstance(entries, list) else ():
            if not isinstance(entry, dict) or not isinstance(entry.get("id"), str) or entry["id"] in found:
                continue
            if not isinstance(entry.get("nodes"), list):
                raise ConversionError(f"subgraph {entry['id']} has no node list")
            scope = _scope(entry)
            for link in scope.links.values():
                if link.target_id == SUBGRAPH_OUTPUT:
                    scope.output_links.setdefault(link.target_slot, []).append(link)
            found[entry["id"]] = scope
            if len(found) > MAX_NODES:
                raise ConversionError("the workflow defines too many subgraphs")
            pending.append(entry)


def _scope(graph: dict[str, Any]) -> Scope:
    nodes: dict[str, dict[str, Any]] = {}
    for node in graph.get("nodes") or ():
        if not isinstance(node, dict) or not isinstance(node.get("id"), int | str) or isinstance(node["id"], bool):
            raise ConversionError("a node has no id")
        node_id = str(node["id"])
        if node_id in nodes:
            raise ConversionError(f"two nodes have the id {node_id}", node_id, str(node.get("type", "")))
        if not isinstance(node.get("type"), str):
            raise ConversionError("the node has no type", node_id)
        nodes[node_id] = node
    links: dict[str, Link] = {}
    for entry in graph.get("links") or ():
        link = _link(entry)
        if link is not None:
            links[str(link.id)] = link
    return Scope(nodes, links, graph)


def _link(entry: Any) -> Link | None:
    if isinstance(entry, list) and len(entry) >= 5:
        values = (*entry[:5], entry[5] if len(entry) > 5 else "*")
    elif isinstance(entry, dict):
        keys = ("id", "origin_id", "origin_slot", "target_id", "target_slot", "type")
        values = tuple(entry.get(key, "*" if key == "type" else None) for key in keys)
    else:
        return None  # the editor drops what it cannot read, and so do we
    link_id, origin, origin_slot, target, target_slot, kind = values
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (origin_slot, target_slot)):
        raise ConversionError(f"link {link_id} has no slot numbers")
    return Link(link_id, origin, origin_slot, target, target_slot, kind)
