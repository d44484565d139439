"""What CozyGen records inside the files it saves.

Besides ComfyUI's own ``prompt`` and ``workflow`` text chunks, each PNG saved by
CozyGen Output carries a ``cozygen`` chunk: the job (prompt) id and the map of
the CozyGen input parameters (``param_name`` → value) that made it.
"""

from __future__ import annotations

from typing import Any

CHUNK = "cozygen"
FORMAT_VERSION = 1
# Where each CozyGen input node class keeps the value the phone sets.
VALUE_INPUTS = ("value", "default_value", "image_filename")


def cozygen_params(prompt: dict[str, Any] | None) -> dict[str, Any]:
    """``param_name`` → value for every CozyGen input node in an API-format graph."""
    params: dict[str, Any] = {}
    for node in (prompt or {}).values():
        if not isinstance(node, dict) or not str(node.get("class_type", "")).startswith("CozyGen"):
            continue
        inputs = node.get("inputs") or {}
        name = inputs.get("param_name")
        if not isinstance(name, str) or not name:
            continue
        for key in VALUE_INPUTS:
            value = inputs.get(key)
            if key in inputs and not isinstance(value, list):  # a list is a link to another node
                params[name] = value
                break
    return params


def cozygen_record(prompt: dict[str, Any] | None, prompt_id: str | None) -> dict[str, Any]:
    return {"version": FORMAT_VERSION, "prompt_id": prompt_id, "params": cozygen_params(prompt)}
