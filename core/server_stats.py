"""What the server runs on, as anyone signed in may see it: devices, memory, versions, the queue.

ComfyUI's ``/system_stats`` also carries its command line (``argv``: paths, addresses) and the Python
build; only the fields listed here pass, each checked for its type, so nothing else can leak through.
"""

from __future__ import annotations

import re
from typing import Any

DEVICE_FIELDS = ("name", "type", "index", "vram_total", "vram_free")
SYSTEM_NUMBERS = ("ram_total", "ram_free")
SYSTEM_TEXTS = ("comfyui_version", "pytorch_version")
MAX_TEXT = 200


def public_stats(
    raw: Any, *, running: int, pending: int, cozygen_version: str, comfyui_version: str | None
) -> dict[str, Any]:
    """``{"devices": [{name, type, index, vram_total, vram_free}], "ram_total", "ram_free", "comfyui_version",
    "pytorch_version", "python_version", "cozygen_version", "queue": {running, pending}}`` (None when unknown)."""
    system = raw.get("system") if isinstance(raw, dict) else None
    system = system if isinstance(system, dict) else {}
    devices = raw.get("devices") if isinstance(raw, dict) else None
    out: dict[str, Any] = {
        "devices": [_device(d) for d in devices if isinstance(d, dict)] if isinstance(devices, list) else [],
    }
    for key in SYSTEM_NUMBERS:
        out[key] = _number(system.get(key))
    for key in SYSTEM_TEXTS:
        out[key] = _text(system.get(key))
    out["comfyui_version"] = out["comfyui_version"] or comfyui_version
    python = _text(system.get("python_version"))
    found = re.match(r"\d+\.\d+(\.\d+)?", python or "")
    out["python_version"] = found.group(0) if found else None  # the version only, not the build line
    out["cozygen_version"] = cozygen_version
    out["queue"] = {"running": running, "pending": pending}
    return out


def _device(device: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": _text(device.get("name")),
        "type": _text(device.get("type")),
        "index": _number(device.get("index")),
        "vram_total": _number(device.get("vram_total")),
        "vram_free": _number(device.get("vram_free")),
    }


def _number(value: Any) -> int | float | None:
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def _text(value: Any) -> str | None:
    return value.strip()[:MAX_TEXT] if isinstance(value, str) and value.strip() else None
