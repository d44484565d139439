"""The rules behind CozyGen's input nodes, without ComfyUI or torch.

The nodes in ``nodes/`` call these; so can the server-side code that fills a
workflow before queueing (which input of which node holds the value, what a
valid value is). Every check raises ``ValueError`` with a message a person can
act on: ComfyUI shows it as the node's error.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..paths import PathRejected, resolve, split_relative

SEED_MAX = 0xFFFFFFFFFFFFFFFF
INT_LIMIT = 0xFFFFFFFFFFFFFFFF  # widget bounds of the plain INT inputs (ComfyUI's own seed range)
FIXED = "fixed"
SAMPLER = "sampler"
SCHEDULER = "scheduler"
OUTPUT_PREFIX = "output::"
DYNAMIC_TYPES = ("STRING", "INT", "FLOAT", "BOOLEAN", "DROPDOWN")

# Which input of each CozyGen input node holds the value the app sets before queueing.
VALUE_INPUT = {
    "CozyGenString": "value",
    "CozyGenInt": "value",
    "CozyGenFloat": "value",
    "CozyGenBoolean": "value",
    "CozyGenSeed": "seed",
    "CozyGenChoice": "value",
    "CozyGenImage": "image",
    # the original CozyGen's nodes (workflows saved for it keep working)
    "CozyGenDynamicInput": "default_value",
    "CozyGenStringInput": "default_value",
    "CozyGenIntInput": "default_value",
    "CozyGenFloatInput": "default_value",
    "CozyGenChoiceInput": "value",
    "CozyGenImageInput": "image_filename",
}
NEW_NODES = frozenset(
    {"CozyGenString", "CozyGenInt", "CozyGenFloat", "CozyGenBoolean", "CozyGenSeed", "CozyGenChoice", "CozyGenImage"}
)
LEGACY_NODES = frozenset(
    {
        "CozyGenDynamicInput",
        "CozyGenStringInput",
        "CozyGenIntInput",
        "CozyGenFloatInput",
        "CozyGenChoiceInput",
        "CozyGenImageInput",
    }
)
COZYGEN_INPUT_NODES = NEW_NODES | LEGACY_NODES  # the keys of VALUE_INPUT


def check_range(value: Any, low: Any, high: Any, *, name: str = "value") -> None:
    """Refuse a number outside [low, high] (never clamp), a NaN/infinite one, or low > high."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, not {value}")
    if low > high:
        raise ValueError(f"min ({low}) is greater than max ({high}); fix the node's min and max")
    if value < low or value > high:
        raise ValueError(f"{name} {value} is outside the allowed range {low} to {high}")


def check_seed(seed: Any) -> None:
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise ValueError(f"seed must be a whole number, not {seed!r}")
    if seed < 0 or seed > SEED_MAX:
        raise ValueError(f"seed {seed} is outside the allowed range 0 to {SEED_MAX}")


def parse_choices(text: Any) -> list[str]:
    """A newline-separated list: one choice a line, blank lines dropped, surrounding spaces trimmed."""
    if not isinstance(text, str):
        return []
    seen: dict[str, None] = {}
    for line in text.splitlines():
        item = line.strip()
        if item:
            seen.setdefault(item, None)
    return list(seen)


def check_choice(choice_type: str, value: Any, options: Sequence[str] | None) -> None:
    """``value`` must be one of ``options`` (the fixed list, or the host's current list for the type).

    ``options`` None means the host has no list for that type (a folder ComfyUI does not know), so
    nothing can be checked here.
    """
    if options is None:
        return
    if not isinstance(value, str) or not value:
        raise ValueError(f"no value chosen for choice type {choice_type!r}")
    if value in options:
        return
    if choice_type == FIXED and not options:
        raise ValueError("the fixed choice list is empty; put one choice a line in 'choices'")
    shown = ", ".join(repr(o) for o in list(options)[:20]) + (" ..." if len(options) > 20 else "")
    where = "the fixed choices" if choice_type == FIXED else f"the available {choice_type} list"
    raise ValueError(f"{value!r} is not in {where}: {shown or '(empty)'}")


def legacy_choice(value: Any, default_choice: Any, options: Sequence[str] | None) -> Any:
    """The original CozyGenChoiceInput's pick: ``value``, else ``default_choice``, else the first option."""
    for candidate in (value, default_choice):
        if isinstance(candidate, str) and candidate and candidate != "None":
            return candidate
    if options:
        return options[0]
    return default_choice


def cast_dynamic(param_type: str, text: Any) -> Any:
    """The original CozyGenDynamicInput's value: ``text`` cast by ``param_type``.

    A failed INT/FLOAT cast gives 0; BOOLEAN is true only for the text "true" (any case);
    STRING, DROPDOWN and anything else pass the text through.
    """
    if param_type == "INT":
        try:
            return int(text)
        except (TypeError, ValueError):
            return 0
    if param_type == "FLOAT":
        try:
            return float(text)
        except (TypeError, ValueError):
            return 0.0
    if param_type == "BOOLEAN":
        return str(text).lower() == "true"
    return text


def split_image_ref(ref: Any) -> tuple[str, str, str]:
    """An image reference as (root, subfolder, filename), root being "input" or "output".

    ``output::<subfolder>::<filename>`` names a file in the output folder (split on the last
    ``::``; ``output::<filename>`` is the output folder itself). Anything else is a path
    relative to the input folder. The parts are cleaned by core.paths: no absolute paths, no
    ``..``, no NUL or backslash.
    """
    if not isinstance(ref, str) or not ref.strip():
        raise PathRejected("no image chosen", code="MISSING_FILENAME")
    ref = ref.strip()
    if ref.startswith(OUTPUT_PREFIX):
        rest = ref[len(OUTPUT_PREFIX) :]
        sub, sep, name = rest.rpartition("::")
        if not sep:
            sub, name = "", rest
        if not name.strip():
            raise PathRejected(f"no file name after the last '::' in {ref!r}", code="MISSING_FILENAME")
        relative = f"{sub}/{name}" if sub else name
        folder, filename = split_relative(relative, what="image path")
        return "output", folder, filename
    folder, filename = split_relative(ref, what="image path")
    return "input", folder, filename


def resolve_image_ref(ref: Any, input_dir: str | Path, output_dir: str | Path) -> Path:
    """The file an image reference names, kept inside its root; ValueError when it is bad or missing."""
    try:
        root, sub, name = split_image_ref(ref)
        path, _, _ = resolve(Path(output_dir if root == "output" else input_dir), sub, name)
    except PathRejected as error:
        raise ValueError(f"invalid image reference {ref!r}: {error.message}") from None
    if not path.is_file():
        where = "output" if root == "output" else "input"
        raise ValueError(f"image not found in the {where} folder: {ref!r}")
    return path
