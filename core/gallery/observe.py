"""The file-system events the gallery watcher hears: one watchdog observer over every root.

Only the kinds that can change the index are asked of the kernel (``EVENTS``): files and folders created,
deleted or moved, a file written (closed after writing, modified, its attributes). Opens and reads (every file
the describe helpers and thumbnails read gave two events), and the "folder modified" that watchdog adds beside
each file event, never reach Python's side of the observer, so a burst costs one event per file written.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

log = logging.getLogger("cozygen")

Note = Callable[[str, str | None], None]  # (path, destination of a move or None)
Lost = Callable[[str], None]  # the kernel's queue overflowed under this path


def event_kinds() -> list[type]:
    from watchdog.events import (
        DirCreatedEvent,
        DirDeletedEvent,
        DirMovedEvent,
        EventsLostEvent,
        FileAttribEvent,
        FileClosedEvent,
        FileCreatedEvent,
        FileDeletedEvent,
        FileModifiedEvent,
        FileMovedEvent,
    )

    return [
        FileCreatedEvent,
        FileDeletedEvent,
        FileMovedEvent,
        FileModifiedEvent,
        FileAttribEvent,
        FileClosedEvent,
        DirCreatedEvent,
        DirDeletedEvent,
        DirMovedEvent,
        EventsLostEvent,  # always delivered by the kernel; listed so the emitter passes it on
    ]


def observe(bases: Iterable[Path], note: Note, lost: Lost) -> tuple[Any, str]:
    """Start watching ``bases`` (recursively): (the observer, "native" or "polling"), or (None, "off")."""
    from watchdog.events import FileSystemEventHandler
    from watchdog.observers import Observer
    from watchdog.observers.polling import PollingObserver

    class Handler(FileSystemEventHandler):
        def on_any_event(self, event: Any) -> None:
            if event.event_type == "events_lost":  # look at everything again
                lost(event.src_path)
                return
            note(event.src_path, getattr(event, "dest_path", "") or None)

    kinds = event_kinds()
    for observer_class, mode in ((Observer, "native"), (PollingObserver, "polling")):
        observer = observer_class(timeout=1) if mode == "polling" else observer_class()
        try:
            for base in bases:
                base.mkdir(parents=True, exist_ok=True)
                # Watch the real folder: through a symlinked root, inotify misses new subfolders' files.
                observer.schedule(Handler(), os.path.realpath(base), recursive=True, event_filter=kinds)
            observer.start()
        except OSError as exc:  # inotify limits: fall back to polling
            log.warning("CozyGen: file watcher unavailable (%s); polling instead", exc)
            continue
        return observer, mode
    return None, "off"
