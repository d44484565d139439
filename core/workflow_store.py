"""Workflow files: the shipped examples and the user's own, in API format.

Names are single ``.json`` file names (checked by the shared path helper). The
user's folder in the data directory wins over a shipped file of the same name;
saves are atomic (temp file + rename) and only ever go to the user's folder.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from .errors import BadRequest, NotFound
from .paths import clean_name

MAX_BYTES = 10 * 1024 * 1024


def is_api_format(data: Any) -> bool:
    """``{node_id: {"class_type": ..., "inputs": {...}}}`` with at least one node."""
    return (
        isinstance(data, dict)
        and bool(data)
        and all(isinstance(n, dict) and isinstance(n.get("class_type"), str) for n in data.values())
    )


def require_api_format(data: Any) -> dict[str, Any]:
    if isinstance(data, dict) and isinstance(data.get("nodes"), list) and "links" in data:
        raise BadRequest(
            "this is the editor's UI format; in ComfyUI use Workflow > Export (API) and send that file",
            code="UI_FORMAT",
        )
    if not is_api_format(data):
        raise BadRequest(
            'a workflow must be ComfyUI API format: {"<node id>": {"class_type": ..., "inputs": {...}}}',
            code="NOT_API_FORMAT",
        )
    return data


def workflow_name(value: Any) -> str:
    name = clean_name(value, what="workflow name")
    if not name.lower().endswith(".json"):
        name += ".json"
    return name


class WorkflowStore:
    def __init__(self, shipped: Path, user: Path) -> None:
        self.shipped, self.user = shipped, user

    def names(self) -> list[str]:
        found: set[str] = set()
        for folder in (self.shipped, self.user):
            try:
                found.update(p.name for p in folder.iterdir() if p.suffix.lower() == ".json" and p.is_file())
            except OSError:
                continue
        return sorted(found, key=str.lower)

    def path(self, name: Any) -> Path:
        filename = workflow_name(name)
        for folder in (self.user, self.shipped):
            candidate = folder / filename
            if candidate.is_file():
                return candidate
        raise NotFound("not found", code="WORKFLOW_NOT_FOUND")

    def read(self, name: Any) -> Any:
        path = self.path(name)
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError):
            raise BadRequest("bad json", code="BAD_JSON") from None

    def save(self, name: Any, data: Any) -> str:
        filename = workflow_name(name)
        require_api_format(data)
        text = json.dumps(data, indent=2, ensure_ascii=False)
        if len(text.encode()) > MAX_BYTES:
            raise BadRequest(f"the workflow is larger than {MAX_BYTES // 1024 // 1024} MB", code="TOO_LARGE")
        self.user.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=self.user, prefix=".saving-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.replace(temp, self.user / filename)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        return filename
