"""What each stored workflow lacks on this host, for the whole list at once, kept while nothing changes.

The workflow list shows a warning per workflow (a missing node or model). Checking means reading and
walking each graph (and converting an editor's UI-format file first), so each answer is kept like the forms
are (``api/definitions.py``): per file, while its (mtime, size, inode) and the host's definitions (the same
object) stay the same. A list of kept answers then costs one ``stat`` per workflow (taken by the listing).
"""

from __future__ import annotations

from typing import Any

from ..comfyui import partner
from ..errors import CozyGenError
from ..graph.check import check
from ..graph.ui_format import checked, is_ui_workflow
from .editor import Entry, Stamp, is_editor_name, stamp_of
from .store import WorkflowStore, require_api_format


def problem_report(error: CozyGenError) -> dict[str, Any]:
    """A workflow that cannot be read or converted at all, in the check's shape."""
    extra = error.extra or {}
    invalid = extra.get("invalid_values") or [
        {"node_id": None, "class_type": "", "input": None, "value": None, "problem": error.message}
    ]
    return {
        "ok": False,
        "missing_nodes": extra.get("missing_nodes", []),
        "missing_models": extra.get("missing_models", {}),
        "invalid_values": invalid,
        "error": error.message,
        "code": error.code,
    }


class WorkflowChecks:
    """Each workflow's check, kept per file while its file and ComfyUI's definitions stay the same."""

    def __init__(self, limit: int = 4096) -> None:
        self.limit = limit
        self._known: dict[str, tuple[Stamp, Any, dict[str, Any] | None]] = {}
        self._definitions: Any = None

    def same(self, definitions: Any) -> Any:
        """The kept definitions when ``definitions`` equal them (ComfyUI's are read afresh every few seconds, as a
        new object: one comparison keeps every kept check), else ``definitions``, kept from now on."""
        if definitions is not self._definitions and definitions != self._definitions:
            self._definitions = definitions
        return self._definitions

    def listing(self, store: WorkflowStore, definitions: Any) -> tuple[list[str], dict[str, dict[str, Any]]]:
        """The workflows' names and their checks (``detailed`` without the entries)."""
        entries, checks = self.detailed(store, definitions)
        return [entry.name for entry in entries], checks

    def detailed(self, store: WorkflowStore, definitions: Any) -> tuple[list[Entry], dict[str, dict[str, Any]]]:
        """The workflows, and ``{name: {"ok", "missing_nodes", "missing_models", "invalid_values"}}`` for each
        readable one (blocking: call it in a thread). An editor file that does not convert is listed with its
        problems (and ``error``, ``code``) instead of failing the list."""
        entries, definitions = store.entries(), self.same(definitions)
        out: dict[str, dict[str, Any]] = {}
        for entry in entries:
            found = self.entry_check(store, entry, definitions)
            if found is not None:
                out[entry.name] = found
        return entries, out

    def check(self, store: WorkflowStore, name: str, definitions: Any) -> dict[str, Any] | None:
        """One workflow's check (None when it cannot be read), from the kept one if unchanged."""
        try:
            path = store.path(name)
            stat = path.stat()
        except (OSError, CozyGenError):
            return None
        entry = Entry(name, str(path), "editor" if is_editor_name(name) else "cozygen", "", stamp_of(stat))
        return self.entry_check(store, entry, self.same(definitions))

    def entry_check(self, store: WorkflowStore, entry: Entry, definitions: Any) -> dict[str, Any] | None:
        known = self._known.get(entry.path)
        if known is not None and known[0] == entry.stamp and known[1] is definitions:
            return known[2]
        object_info, models = definitions
        result: dict[str, Any] | None
        try:
            data = store.read(entry.name)
            if is_ui_workflow(data):
                conversion = checked(data, object_info, models)
                graph, result = conversion.prompt, conversion.report
            else:
                graph = require_api_format(data)
                result = check(graph, object_info, models)
            # kept as if the key were set: with_key_state() says, per request, whether it is
            result = partner.key_report(result, graph, object_info, key_set=True)
        except OSError:
            result = None
        except CozyGenError as error:
            result = problem_report(error) if entry.source == "editor" or error.code == "UI_CONVERT" else None
        if len(self._known) >= self.limit:
            self._known.clear()
        self._known[entry.path] = (entry.stamp, definitions, result)
        return result
