"""The problems of one conversion, in the workflow check's shape (``missing_nodes``, ``invalid_values``)."""

from __future__ import annotations

from typing import Any

from ...errors import BadRequest
from ..links import id_key


class Problems:
    """What could not be converted, node by node; :meth:`as_report` gives the check's shape."""

    def __init__(self) -> None:
        self.missing: dict[str, dict[str, Any]] = {}
        self.invalid: list[dict[str, Any]] = []
        self.warnings: list[dict[str, Any]] = []  # converted as the editor does, but worth telling

    def missing_node(self, node_id: str, class_type: str) -> None:
        entry = self.missing.setdefault(class_type, {"class_type": class_type, "node_ids": []})
        entry["node_ids"].append(node_id)

    def invalid_value(self, node_id: str, class_type: str, name: str | None, value: Any, problem: str) -> None:
        self.invalid.append(
            {"node_id": node_id, "class_type": class_type, "input": name, "value": value, "problem": problem}
        )

    def warn(self, node_id: str, class_type: str, text: str) -> None:
        self.warnings.append({"node_id": node_id, "class_type": class_type, "problem": text})

    def __bool__(self) -> bool:
        return bool(self.missing or self.invalid)

    def as_report(self) -> dict[str, Any]:
        missing = sorted(self.missing.values(), key=lambda e: id_key(e["node_ids"][0]))
        return {
            "ok": not self,
            "missing_nodes": missing,
            "missing_models": {},
            "invalid_values": list(self.invalid),
            "warnings": list(self.warnings),
        }


class ConversionError(BadRequest):
    """A file that cannot be converted at all (not a workflow, too large or deep, a cycle, a broken link …).

    Rendered as ``{"error", "code": "UI_CONVERT", "missing_nodes", "missing_models", "invalid_values"}`` with
    the node at fault in ``invalid_values`` when there is one: the workflow check's shape.
    """

    code = "UI_CONVERT"

    def __init__(self, message: str, node_id: str | None = None, class_type: str = "", name: str | None = None) -> None:
        problems = Problems()
        if node_id is not None:
            problems.invalid_value(node_id, class_type, name, None, message)
        report = problems.as_report()
        report.pop("ok")
        super().__init__(message, extra=report)


def refuse(problems: Problems) -> ConversionError:
    """The error for a conversion whose report is not ok: its first problem as the message, all of them attached."""
    report = problems.as_report()
    if report["missing_nodes"]:
        first = report["missing_nodes"][0]
        message = f"node {first['node_ids'][0]}: this ComfyUI has no node type {first['class_type']!r}"
    else:
        first = report["invalid_values"][0]
        message = f"node {first['node_id']} ({first['class_type']}): {first['problem']}"
    error = ConversionError(message)
    report.pop("ok")
    error.extra = report
    return error
