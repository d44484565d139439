"""A node's widgets as the editor builds them from the node definition, and its saved values mapped onto them.

The editor makes one widget per input of kind INT, FLOAT, STRING, BOOLEAN or COMBO (required, then optional,
in the definition's order) unless the input has ``forceInput``. It adds hidden widgets that take a slot in
``widgets_values`` but are not sent to ComfyUI: ``control_after_generate`` (named ``control_before_generate``
under that setting) after an INT with ``control_after_generate`` or named seed/noise_seed, and after a COMBO
with ``control_after_generate``; and one ``upload`` button at the end of a node with an ``image_upload``,
``video_upload``, ``animated_image_upload`` or ``audio_upload`` COMBO. A few nodes get widgets from the
editor's own code (:data:`EDITOR_WIDGETS`). This was checked against the real editor (1.32.9) for every node
type of a ComfyUI 0.3.75 host: tests/integration/test_ui_convert_equivalence.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ..object_info import read_spec

WIDGET_KINDS = frozenset({"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"})
UPLOAD_OPTIONS = ("image_upload", "video_upload", "animated_image_upload", "audio_upload")
SEED_NAMES = ("seed", "noise_seed")
DEFAULTS = {"INT": 0, "FLOAT": 0, "STRING": "", "BOOLEAN": False}


@dataclass(frozen=True)
class Widget:
    name: str
    sent: bool  # whether graphToPrompt sends it (options.serialize is not false)
    kind: str = ""
    default: Any = None
    dynamic_prompts: bool = False
    saved: bool = True  # whether it holds a slot of widgets_values (serialize is not false)
    optional: bool = True  # not a required input's (an optional input's, the editor's own)


# Widgets the editor's own code adds after the definition's: (name, sent, saved, value when not saved). A node
# whose input the editor makes itself at export (the webcam, a 3D view) cannot be converted (EDITOR_MADE); the
# 3D previews only send an empty capture.
EDITOR_WIDGETS: dict[str, tuple[tuple[str, bool, bool, Any], ...]] = {
    "LoadImageOutput": (("Auto-refresh after generation", False, True, None), ("refresh", True, True, None)),
    "PreviewAny": (("preview", True, False, ""),),
    "Preview3D": (("image", True, True, ""),),
    "Preview3DAnimation": (("image", True, True, ""),),
    "SaveGLB": (("image", True, True, ""),),
}
EDITOR_MADE = frozenset({"WebcamCapture", "Load3D", "Load3DAnimation"})


def entries(definition: dict[str, Any]) -> Iterator[tuple[str, str, Any]]:
    """(section, name, spec) of a node definition's required, then optional inputs, in order."""
    sections = definition.get("input")
    for section in ("required", "optional"):
        found = sections.get(section) if isinstance(sections, dict) else None
        if isinstance(found, dict):
            for name, spec in found.items():
                yield section, name, spec


def layout(definition: dict[str, Any]) -> list[Widget]:
    """The widgets that hold a slot of ``widgets_values``, in order."""
    widgets: list[Widget] = []
    upload = False
    for section, name, spec in entries(definition):
        kind, options, choices = read_spec(spec)
        if kind not in WIDGET_KINDS or options.get("forceInput"):
            continue
        default = options.get("default", (choices or [None])[0] if kind == "COMBO" else DEFAULTS.get(kind))
        dynamic = kind == "STRING" and options.get("dynamicPrompts") is True
        optional = section == "optional"
        widgets.append(Widget(name, True, kind, default, dynamic, optional=optional))
        control = options.get("control_after_generate", kind == "INT" and name in SEED_NAMES)
        if kind in ("INT", "COMBO") and control:
            value = "randomize" if kind == "INT" else None
            widgets.append(Widget("control_after_generate", False, default=value, optional=optional))
        upload = upload or (kind == "COMBO" and any(options.get(key) for key in UPLOAD_OPTIONS))
    for name, sent, saved, value in EDITOR_WIDGETS.get(str(definition.get("name")), ()):
        widgets.append(Widget(name, sent, default=value, saved=saved))
    if upload:
        widgets.append(Widget("upload", False))
    return widgets


def migrate(definition: dict[str, Any], widgets: list[Widget], values: list[Any]) -> list[Any]:
    """The editor's ``migrateWidgetsValues``: files from before ``forceInput`` kept a slot for forced inputs."""
    names = {w.name for w in widgets}
    kept: list[tuple[str, bool, Any]] = []
    for _, name, spec in entries(definition):
        options = read_spec(spec)[1]
        if name in names or options.get("forceInput"):
            kept.append((name, bool(options.get("forceInput")), options.get("control_after_generate")))
    if not any(forced for _, forced, _ in kept):
        return values
    width = sum(2 if control or name in SEED_NAMES else 1 for name, _, control in kept)
    if width != len(values):
        return values
    return [value for (_, forced, _), value in zip(kept, values, strict=False) if not forced]


def assign(widgets: list[Widget], saved: Any) -> tuple[dict[str, Any], list[Widget], int]:
    """``{widget name: value}`` for every widget (a saved value, else the default), the saved widgets that got
    no value, and how many saved values were left over.

    A list is mapped by position (the editor's way); a dict (some custom nodes save one) by name.
    """
    values = {w.name: w.default for w in widgets}
    widgets = [w for w in widgets if w.saved]
    if isinstance(saved, dict):
        values.update({w.name: saved[w.name] for w in widgets if w.name in saved})
        return values, [w for w in widgets if w.name not in saved], 0
    saved = saved if isinstance(saved, list) else []
    for widget, value in zip(widgets, saved, strict=False):
        values[widget.name] = value
    return values, widgets[len(saved) :], max(0, len(saved) - len(widgets))
