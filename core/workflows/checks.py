"""What each stored workflow lacks on this host, for the whole list at once, kept while nothing changes.

The workflow list shows a warning per workflow (a missing node or model). Checking means reading and
walking each graph, so each answer is kept like the forms are (``api/definitions.py``): per file, while
its (mtime, size, inode) and the host's definitions (the same object) stay the same. A list of kept
answers then costs one ``stat`` per workflow.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import CozyGenError
from ..graph.check import check
from .store import WorkflowStore, require_api_format

Stamp = tuple[int, int, int]


class WorkflowChecks:
    """Each workflow's check, kept per file while its file and ComfyUI's definitions stay the same."""

    def __init__(self, limit: int = 256) -> None:
        self.limit = limit
        self._known: dict[Path, tuple[Stamp, Any, dict[str, Any] | None]] = {}

    def listing(self, store: WorkflowStore, definitions: Any) -> tuple[list[str], dict[str, dict[str, Any]]]:
        """The workflows' names, and ``{name: {"ok", "missing_nodes", "missing_models", "invalid_values"}}``
        for each readable API-format one (blocking: call it in a thread)."""
        names = store.names()
        out: dict[str, dict[str, Any]] = {}
        for name in names:
            found = self.check(store, name, definitions)
            if found is not None:
                out[name] = found
        return names, out

    def check(self, store: WorkflowStore, name: str, definitions: Any) -> dict[str, Any] | None:
        """One workflow's check (None when it cannot be read as API format), from the kept one if unchanged."""
        try:
            path = store.path(name)
            stat = path.stat()
        except (OSError, CozyGenError):
            return None
        stamp = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        known = self._known.get(path)
        if known is not None and known[0] == stamp and known[1] is definitions:
            return known[2]
        object_info, models = definitions
        try:
            result: dict[str, Any] | None = check(require_api_format(store.read(name)), object_info, models)
        except (OSError, CozyGenError):
            result = None
        if len(self._known) >= self.limit:
            self._known.clear()
        self._known[path] = (stamp, definitions, result)
        return result
