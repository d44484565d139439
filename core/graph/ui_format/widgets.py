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
    # frontend 1.4x (1.32.9 had one: ("preview", True, False, ""))
    "PreviewAny": (
        ("preview_markdown", True, False, ""),
        ("preview_text", True, False, ""),
        ("previewMode", True, True, False),
    ),
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


def migration(definition: dict[str, Any], widgets: list[Widget]) -> list[tuple[bool, int]] | None:
    """How the editor's ``migrateWidgetsValues`` reads old files, which kept a slot for inputs now marked
    ``forceInput``: (forced, slots) per input that is a widget or forced; None when no input is forced."""
    names = {w.name for w in widgets}
    plan: list[tuple[bool, int]] = []
    for _, name, spec in entries(definition):
        options = read_spec(spec)[1]
        if name in names or options.get("forceInput"):
            control = options.get("control_after_generate") or name in SEED_NAMES
            plan.append((bool(options.get("forceInput")), 2 if control else 1))
    return plan if any(forced for forced, _ in plan) else None


def migrate(plan: list[tuple[bool, int]] | None, values: list[Any]) -> list[Any]:
    """``values`` without the slots of forced inputs, when the saved list has exactly the old length."""
    if plan is None or sum(width for _, width in plan) != len(values):
        return values
    return [value for (forced, _), value in zip(plan, values, strict=False) if not forced]


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
