"""Telling an API-format workflow (what ComfyUI runs) from the editor's UI format, with the error for each."""

from __future__ import annotations

from typing import Any

from ..errors import BadRequest
from .links import MAX_NODES

UI_FORMAT_MESSAGE = (
    "This file is a ComfyUI editor (UI-format) workflow, which cannot be run as it is. In ComfyUI, "
    "use Workflow > Export (API) (or 'Save (API Format)' in the old menu, with dev mode enabled in the "
    "settings) and use that file instead."
)


def is_ui_format(data: Any) -> bool:
    """The editor's format: top-level ``nodes`` and ``links`` lists."""
    return isinstance(data, dict) and isinstance(data.get("nodes"), list) and isinstance(data.get("links"), list)


def is_api_format(data: Any) -> bool:
    """``{node_id: {"class_type": str, "inputs": {...}}}`` with at least one node (``inputs`` may be absent)."""
    if not isinstance(data, dict) or not data or is_ui_format(data):
        return False
    for node in data.values():
        if not isinstance(node, dict) or not isinstance(node.get("class_type"), str):
            return False
        if not isinstance(node.get("inputs", {}), dict):
            return False
    return True


def reject_ui_format(data: Any) -> None:
    """BadRequest ``UI_FORMAT`` for an editor-format workflow, telling how to export the API format."""
    if is_ui_format(data):
        raise BadRequest(UI_FORMAT_MESSAGE, code="UI_FORMAT")


def ensure_api_format(data: Any) -> dict[str, Any]:
    """``data`` when it is an API-format workflow; BadRequest ``UI_FORMAT`` or ``NOT_API_FORMAT`` otherwise."""
    reject_ui_format(data)
    if not is_api_format(data):
        raise BadRequest(
            'a workflow must be ComfyUI API format: {"<node id>": {"class_type": ..., "inputs": {...}}}',
            code="NOT_API_FORMAT",
        )
    if len(data) > MAX_NODES:
        raise BadRequest(f"the workflow has more than {MAX_NODES} nodes", code="NOT_API_FORMAT")
    return data
