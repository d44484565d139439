"""Which model a graph loads, read from its loader inputs (following links to choice and primitive nodes)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .links import LOADER_INPUTS, id_key, link

MODEL_INPUTS = (*LOADER_INPUTS, "model_name", "checkpoint_name", "checkpoint")
PROCEDURAL_MODEL = "procedural"  # the weights-free procedural node stands for a model of its own


def graph_model(graph: Mapping[str, Any] | None) -> str | None:
    """The checkpoint (or diffusion model) a graph loads: the first loader input naming one, in node order;
    a graph drawing with CozyGen's procedural node counts as model ``procedural``."""
    if not isinstance(graph, Mapping):
        return None
    procedural = False
    for _, node in sorted(graph.items(), key=lambda item: id_key(str(item[0]))):
        if not isinstance(node, Mapping):
            continue
        raw = node.get("inputs")
        inputs = raw if isinstance(raw, Mapping) else {}
        for name in MODEL_INPUTS:
            value = _linked_value(graph, inputs.get(name))
            if isinstance(value, str) and value.strip():
                return value.strip()
        procedural = procedural or "Procedural" in str(node.get("class_type") or "")
    return PROCEDURAL_MODEL if procedural else None


def _linked_value(graph: Mapping[str, Any], value: Any, depth: int = 4) -> Any:
    """An input's value, following a link to a node that holds it as ``value``, as CozyGen's choice nodes and
    most primitive nodes do."""
    while depth > 0 and (node_id := link(value)) is not None:
        source = graph.get(node_id)
        inputs = source.get("inputs") if isinstance(source, Mapping) else None
        value = inputs.get("value") if isinstance(inputs, Mapping) else None
        depth -= 1
    return value
