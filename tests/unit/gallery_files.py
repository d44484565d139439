"""Files and events for the gallery's unit tests: a small PNG as ComfyUI and CozyGen save one, the hub's events."""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image
from PIL.PngImagePlugin import PngInfo

from cozygen.core.events import Event
from cozygen.core.gallery.service import Gallery


def save_png(path: Path, *, prompt: dict | None = None, color: str = "red") -> Path:
    """A small PNG; with ``prompt``, ComfyUI's prompt chunk and CozyGen's (prompt id "abc")."""
    path.parent.mkdir(parents=True, exist_ok=True)
    info = PngInfo()
    if prompt is not None:
        info.add_text("prompt", json.dumps(prompt))
        info.add_text("cozygen", json.dumps({"version": 1, "prompt_id": "abc", "params": {}}))
    Image.new("RGB", (16, 12), color).save(path, format="PNG", pnginfo=info)
    return path


def events(gallery: Gallery) -> list[Event]:
    """Every event the gallery's hub published since it started."""
    found, complete = gallery.hub.since(f"{gallery.hub.boot}-0")
    assert complete
    return found
