"""Tell the phone when a workflow file changes: one watchdog observer over CozyGen's workflows folder and
ComfyUI's user directory (each user's ``<id>/workflows``, where the editor saves).

Changes are coalesced for ``debounce`` seconds (an editor save is a write and a rename), then reported as
``(source, editor_user, names)``: ``source`` "cozygen" (no names: the folder holds every user's imports) or
"editor", with the ComfyUI user folder the file is in and the changed files' names as that user lists them
(``editor/<subfolders>/<file>.json``). Only ``.json`` files count; ComfyUI's own database and settings in the
user directory are ignored before any work is done.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .editor import PREFIX

log = logging.getLogger(__name__)

Report = Callable[[str, str | None, list[str]], None]  # (source, editor user folder, names)


class WorkflowWatcher:
    def __init__(self, cozygen_dir: Path, user_dir: Path, report: Report, *, debounce: float = 0.3) -> None:
        self.bases = {"cozygen": cozygen_dir, "editor": user_dir}
        self.report = report
        self.debounce = debounce
        self._pending: dict[tuple[str, str | None], set[str]] = {}
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self._observer: Any = None

    def start(self) -> None:
        from watchdog.events import FileSystemEventHandler
        from watchdog.observers import Observer
        from watchdog.observers.polling import PollingObserver

        watcher = self

        class Handler(FileSystemEventHandler):
            def on_any_event(self, event: Any) -> None:
                if event.is_directory or event.event_type in ("opened", "closed", "closed_no_write"):
                    return
                for path in (event.src_path, getattr(event, "dest_path", "") or ""):
                    if isinstance(path, str) and path.endswith(".json"):
                        watcher.note(path)

        for observer_class in (Observer, PollingObserver):
            observer = observer_class()
            try:
                for base in self.bases.values():
                    base.mkdir(parents=True, exist_ok=True)
                    observer.schedule(Handler(), os.path.realpath(base), recursive=True)
                observer.start()
            except OSError as exc:  # inotify limits: poll instead
                log.warning("CozyGen: workflow watcher unavailable (%s); trying polling", exc)
                continue
            self._observer = observer
            return

    def stop(self) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)

    def note(self, path: str) -> None:
        """Remember one changed file (from the observer's thread) and report it after the quiet time."""
        found = self.locate(path)
        if found is None:
            return
        source, editor_user, name = found
        with self._lock:
            names = self._pending.setdefault((source, editor_user), set())
            if name is not None:
                names.add(name)
            if self._timer is None:
                self._timer = threading.Timer(self.debounce, self._flush)
                self._timer.daemon = True
                self._timer.start()

    def locate(self, path: str) -> tuple[str, str | None, str | None] | None:
        """(source, editor user folder, name) of a changed file; None for a file that is not a workflow."""
        for source, base in self.bases.items():
            try:
                parts = Path(path).relative_to(os.path.realpath(base)).parts
            except ValueError:
                continue
            if source == "cozygen":
                return (source, None, None) if len(parts) == 1 else None
            if len(parts) >= 3 and parts[1] == "workflows":  # <user id>/workflows/<subfolders>/<file>.json
                return source, parts[0], PREFIX + "/".join(parts[2:])
            return None
        return None

    def _flush(self) -> None:
        with self._lock:
            pending, self._pending, self._timer = self._pending, {}, None
        for (source, editor_user), names in pending.items():
            try:
                self.report(source, editor_user, sorted(names))
            except Exception:  # a report that fails must not stop the next ones
                log.exception("CozyGen: telling about a changed workflow failed")
