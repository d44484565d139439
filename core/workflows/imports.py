"""Workflows brought in from outside: a file or pasted JSON in either format, or the graph inside an image.

:func:`to_api_graph` turns a parsed document into the API graph CozyGen stores: an API-format graph as it is,
the editor's UI format through :mod:`..graph.ui_format` with the host's definitions. Either way the graph must
hold together before it is kept (:func:`require_sound`): every node type known to this host, no link to a node
that is not there, no cycle. The workflow check's report of the rest (values, missing model files) comes back
with it for the phone to show. Problems are :class:`..graph.ui_format.ConversionError` (400 in the check's
shape, naming the node). :func:`save_new` keeps a graph under a free name, never over an existing workflow.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..graph.check import check
from ..graph.links import on_cycles
from ..graph.ui_format import ConversionError, convert, is_ui_workflow
from ..graph.ui_format.report import Problems, refuse
from .store import Editor, WorkflowStore, is_api_format, save_owned, workflow_name

MAX_NAME = 60
MAX_TRIES = 1000
UNSAFE = re.compile(r"[^\w \-().]+")


@dataclass
class Imported:
    graph: dict[str, Any]
    format: str  # "api" or "ui"
    report: dict[str, Any]  # the workflow check's shape


def to_api_graph(data: Any, object_info: Any, models: Mapping[str, Any] | None = None) -> Imported:
    """The API graph of ``data`` (either format) and its check; ConversionError when it cannot be kept."""
    if is_api_format(data):
        graph, form = {str(k): v for k, v in data.items()}, "api"
        problems = Problems()
    elif is_ui_workflow(data):
        conversion = convert(data, object_info)
        graph, form = conversion.prompt, "ui"
        problems = Problems()
        problems.missing = {e["class_type"]: e for e in conversion.report["missing_nodes"]}
        problems.invalid = list(conversion.report["invalid_values"])
        if problems:
            raise refuse(problems)
        if not graph:
            raise ConversionError("the workflow has no node this ComfyUI can run")
    else:
        raise ConversionError(
            'this is neither an API-format workflow ({"<node id>": {"class_type", "inputs"}}) nor one saved by '
            "ComfyUI's editor"
        )
    report = check(graph, object_info, models)
    require_sound(graph, report)
    return Imported(graph, form, report)


def require_sound(graph: Mapping[str, Any], report: Mapping[str, Any]) -> None:
    """ConversionError naming the first node of a type this host lacks, with a link to no node, or on a cycle."""
    problems = Problems()
    problems.missing = {e["class_type"]: e for e in report.get("missing_nodes", ())}
    problems.invalid = [
        e for e in report.get("invalid_values", ()) if "which is not in the workflow" in str(e.get("problem"))
    ]
    if problems:
        raise refuse(problems)
    stuck = on_cycles(graph)
    if stuck:
        first = stuck[0]
        raise ConversionError(
            f"the links form a cycle through nodes {', '.join(stuck[:10])}", first, str(graph[first].get("class_type"))
        )


def safe_stem(value: Any, fallback: str = "workflow") -> str:
    """A workflow name made from any text (a file name, an image's name): safe characters only, short."""
    text = value if isinstance(value, str) else ""
    if text.lower().endswith(".json"):
        text = text[:-5]
    stem = UNSAFE.sub("_", text).strip(" ._-")[:MAX_NAME].strip(" ._-")
    return stem or fallback


def save_new(conn: sqlite3.Connection, store: WorkflowStore, stem: str, text: bytes, editor: Editor) -> str:
    """Write a prepared workflow under ``stem`` or ``stem 2``, ``stem 3``… the first name no workflow has (on the
    database's writer, so two imports cannot take one name)."""
    for number in range(1, MAX_TRIES + 1):
        filename = workflow_name(stem if number == 1 else f"{stem} {number}")
        if store.saved(filename) is None and store.shipped_as(filename) is None:
            return save_owned(conn, store, filename, text, editor)
    raise ConversionError(f"there are already {MAX_TRIES} workflows named {stem}: choose another name")
