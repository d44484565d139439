"""ComfyUI's validation errors in CozyGen's terms: field errors where a form field feeds the input."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import BadRequest
from ..graph.fill import FieldErrors


# -- ComfyUI's validation, in CozyGen's terms -----------------------------------------------------
def validation_error(error: Any, node_errors: Any, schema: Any) -> BadRequest:
    """ComfyUI refused the graph: its node errors become field errors where a form field feeds that
    node input (400 ``INVALID_VALUES`` with ``fields``), else per-node messages (400 ``NODE_ERRORS``
    with ``nodes``: id → {class_type, errors}); with no node named, ``INVALID_PROMPT``."""
    targets: dict[tuple[str, str], str] = {}
    for param in schema or ():
        for node_id, input_name in getattr(param, "targets", ()):
            targets.setdefault((str(node_id), str(input_name)), param.name)
    fields: dict[str, str] = {}
    nodes: dict[str, dict[str, Any]] = {}
    for node_id, entry in (node_errors or {}).items() if isinstance(node_errors, Mapping) else ():
        entry = entry if isinstance(entry, Mapping) else {}
        for problem in entry.get("errors") or ():
            problem = problem if isinstance(problem, Mapping) else {"message": str(problem)}
            text = _problem_text(problem)
            extra = problem.get("extra_info")
            extra = extra if isinstance(extra, Mapping) else {}
            name = targets.get((str(node_id), str(extra.get("input_name"))))
            if name is not None:
                fields.setdefault(name, text)
                continue
            node = nodes.setdefault(str(node_id), {"class_type": entry.get("class_type"), "errors": []})
            node["errors"].append(text)
    if fields and not nodes:
        return FieldErrors(fields)
    if nodes:
        shown = "; ".join(
            f"node {node_id} ({n['class_type']}): {', '.join(n['errors'])}" for node_id, n in nodes.items()
        )
        return BadRequest(
            f"ComfyUI refused the workflow: {shown}", code="NODE_ERRORS", extra={"nodes": nodes, "fields": fields}
        )
    message = _problem_text(error) if isinstance(error, Mapping) else str(error or "the workflow is not valid")
    return BadRequest(f"ComfyUI refused the workflow: {message}", code="INVALID_PROMPT")


def _problem_text(problem: Mapping[str, Any]) -> str:
    message = str(problem.get("message") or problem.get("type") or "invalid").strip()
    details = str(problem.get("details") or "").strip()
    return f"{message}: {details}" if details and details not in message else message
