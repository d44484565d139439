"""What CozyGen records inside the files it saves.

Besides ComfyUI's own ``prompt`` and ``workflow`` text chunks, each PNG saved by
CozyGen Output carries a ``cozygen`` chunk: the job (prompt) id and the map of
the CozyGen input parameters (``param_name`` → value) that made it.
"""

from __future__ import annotations

from typing import Any

from ..graph.node_values import VALUE_INPUT

CHUNK = "cozygen"
FORMAT_VERSION = 1


def cozygen_params(prompt: dict[str, Any] | None) -> dict[str, Any]:
    """``param_name`` → value for every CozyGen input node in an API-format graph."""
    params: dict[str, Any] = {}
    for node in (prompt or {}).values():
        class_type = node.get("class_type") if isinstance(node, dict) else None
        key = VALUE_INPUT.get(class_type) if isinstance(class_type, str) else None
        if key is None:
            continue
        inputs = node.get("inputs") or {}
        name, value = inputs.get("param_name"), inputs.get(key)
        if isinstance(name, str) and name and key in inputs and not isinstance(value, list):  # a list is a link
            params[name] = value
    return params


def cozygen_record(prompt: dict[str, Any] | None, prompt_id: str | None) -> dict[str, Any]:
    return {"version": FORMAT_VERSION, "prompt_id": prompt_id, "params": cozygen_params(prompt)}
