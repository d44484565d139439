"""The original CozyGen's input nodes, under their original names, inputs and defaults.

Workflows saved for the original CozyGen (its app writes the form's value into
``default_value``, ``value`` or ``image_filename`` before queueing) run unchanged: the
outputs are what the original gave. They are thin adapters over the shared pieces of
``inputs.py``; two things are deliberately better than the original:

- CozyGenImageInput reads images as ComfyUI's LoadImage does (EXIF rotation, RGB, MASK =
  1 - alpha, frames as a batch), keeps the path inside its folder and notices changed files;
- CozyGenChoiceInput refuses a sampler, scheduler or model that ComfyUI does not have, with
  a message, instead of failing later in the node it feeds.

The numeric nodes keep passing their value through unchecked, as the original did (their
min/max were hints for the form): an old workflow that ran before still runs. They are marked
deprecated, so the editor's node search offers the new CozyGen nodes instead.
"""

from __future__ import annotations

from typing import Any

from ..core.graph.node_values import DYNAMIC_TYPES, FIXED, cast_dynamic, check_choice, legacy_choice
from ..core.media import image_load
from .inputs import ANY, CATEGORY, choice_options, choice_types, image_fingerprint, image_problem, load_image

STATIC = "CozyGen/Static"
_PRIORITY = ("INT", {"default": 10, "tooltip": "Position in the CozyGen form: lower comes first."})
_RANDOMIZE = ("BOOLEAN", {"default": False, "tooltip": "Offer a randomize toggle in the CozyGen form."})


def _param_name(default: str) -> tuple[str, dict[str, Any]]:
    return ("STRING", {"default": default, "tooltip": "The label and key of the parameter in the CozyGen form."})


class _Legacy:
    DEPRECATED = True
    FUNCTION = "get_value"


class CozyGenDynamicInput(_Legacy):
    CATEGORY = CATEGORY
    DESCRIPTION = (
        "The original CozyGen's all-purpose input: default_value cast by param_type "
        "(a text that is not a number gives 0; BOOLEAN is true for 'true'). Use the typed CozyGen nodes instead."
    )
    RETURN_TYPES = (ANY,)
    FUNCTION = "get_dynamic_value"

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {
            "required": {
                "param_name": _param_name("Dynamic Parameter"),
                "priority": _PRIORITY,
                "param_type": (list(DYNAMIC_TYPES), {"default": "STRING", "tooltip": "How default_value is cast."}),
                "default_value": ("STRING", {"default": "", "tooltip": "The value, as text."}),
            },
            "optional": {
                "add_randomize_toggle": _RANDOMIZE,
                "choice_type": ("STRING", {"default": "", "tooltip": "For DROPDOWN: where the choices come from."}),
                "display_bypass": ("BOOLEAN", {"default": False, "tooltip": "Offer a bypass toggle in the form."}),
            },
            "hidden": {
                "choices": ("STRING", {"default": ""}),
                "multiline": ("BOOLEAN", {"default": False}),
                "min_value": ("FLOAT", {"default": 0.0}),
                "max_value": ("FLOAT", {"default": 1.0}),
                "step": ("FLOAT", {"default": 0.0}),
            },
        }

    def get_dynamic_value(self, param_type: str, default_value: str, **_form: Any) -> tuple[Any]:
        return (cast_dynamic(param_type, default_value),)


class CozyGenImageInput(_Legacy):
    CATEGORY = CATEGORY
    DESCRIPTION = (
        "The original CozyGen's image input: a file of the input folder, or output::<subfolder>::<filename>. "
        "Loads it as ComfyUI's Load Image does. Use CozyGen Image instead."
    )
    RETURN_TYPES = ("IMAGE", "MASK")
    FUNCTION = "load_image"
    fingerprints = image_load.FileFingerprints()  # the input files' hashes, for IS_CHANGED

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {
            "required": {
                "param_name": _param_name("Image Input"),
                "image_filename": (
                    "STRING",
                    {"default": "", "tooltip": "A path in the input folder, or output::<subfolder>::<filename>."},
                ),
            }
        }

    @classmethod
    def VALIDATE_INPUTS(cls, image_filename: Any = None) -> bool | str:
        return image_problem(image_filename)

    @classmethod
    def IS_CHANGED(cls, image_filename: Any = None, **_form: Any) -> Any:
        return image_fingerprint(image_filename, cls.fingerprints)

    def load_image(self, image_filename: str, **_form: Any) -> tuple[Any, Any]:
        return load_image(image_filename)


def _number_inputs(name: str, kind: str, default: Any, low: Any, high: Any, step: Any) -> dict[str, Any]:
    high_options = {"default": high, "max": high} if kind == "INT" else {"default": high}
    return {
        "required": {
            "param_name": _param_name(name),
            "priority": _PRIORITY,
            "default_value": (kind, {"default": default, "tooltip": "The value (passed through as it is)."}),
            "min_value": (kind, {"default": low, "tooltip": "Smallest value the CozyGen form offers."}),
            "max_value": (kind, {**high_options, "tooltip": "Largest value the CozyGen form offers."}),
            "step": (kind, {"default": step, "tooltip": "Step of the CozyGen form's slider."}),
            "add_randomize_toggle": _RANDOMIZE,
        }
    }


class CozyGenFloatInput(_Legacy):
    CATEGORY = STATIC
    DESCRIPTION = "The original CozyGen's number input: outputs default_value. Use CozyGen Float instead."
    RETURN_TYPES = ("FLOAT",)

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return _number_inputs("Float Parameter", "FLOAT", 1.0, 0.0, 1024.0, 0.1)

    def get_value(self, default_value: float, **_form: Any) -> tuple[float]:
        return (default_value,)


class CozyGenIntInput(_Legacy):
    CATEGORY = STATIC
    DESCRIPTION = "The original CozyGen's whole-number input: outputs default_value. Use CozyGen Int instead."
    RETURN_TYPES = ("INT",)

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return _number_inputs("Int Parameter", "INT", 1, 0, 9999999999, 1)

    def get_value(self, default_value: int, **_form: Any) -> tuple[int]:
        return (default_value,)


class CozyGenStringInput(_Legacy):
    CATEGORY = STATIC
    DESCRIPTION = "The original CozyGen's text input: outputs default_value. Use CozyGen String instead."
    RETURN_TYPES = ("STRING",)

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {
            "required": {
                "param_name": _param_name("String Parameter"),
                "priority": _PRIORITY,
                "default_value": ("STRING", {"default": "", "tooltip": "The text."}),
                "display_multiline": (
                    "BOOLEAN",
                    {"default": False, "tooltip": "Show a multi-line text box in the CozyGen form."},
                ),
            }
        }

    def get_value(self, default_value: str, **_form: Any) -> tuple[str]:
        return (default_value,)


class CozyGenChoiceInput(_Legacy):
    CATEGORY = STATIC
    DESCRIPTION = (
        "The original CozyGen's choice input: outputs value, else default_choice, else the first sampler, "
        "scheduler or model of choice_type. Use CozyGen Choice instead."
    )
    RETURN_TYPES = (ANY,)

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        types = choice_types(legacy=True)
        every: set[str] = set()
        for choice_type in types:
            every.update(choice_options(choice_type) or ())
        return {
            "required": {
                "param_name": _param_name("Choice Parameter"),
                "priority": _PRIORITY,
                "choice_type": (types, {"tooltip": "A model folder, 'sampler' or 'scheduler'."}),
                "default_choice": (["None", *sorted(every)], {"tooltip": "Used when the form sends no value."}),
                "display_bypass": ("BOOLEAN", {"default": False, "tooltip": "Offer a bypass toggle in the form."}),
            },
            "hidden": {"value": ("STRING", {"default": ""})},
        }

    def get_value(self, choice_type: str, default_choice: str = "None", value: str = "", **_form: Any) -> tuple[Any]:
        options = None if choice_type == FIXED else choice_options(choice_type)
        chosen = legacy_choice(value, default_choice, options)
        check_choice(choice_type, chosen, options)
        return (chosen,)


NODES = {
    "CozyGenDynamicInput": (CozyGenDynamicInput, "CozyGen Dynamic Input"),
    "CozyGenImageInput": (CozyGenImageInput, "CozyGen Image Input"),
    "CozyGenFloatInput": (CozyGenFloatInput, "CozyGen Float Input"),
    "CozyGenIntInput": (CozyGenIntInput, "CozyGen Int Input"),
    "CozyGenStringInput": (CozyGenStringInput, "CozyGen String Input"),
    "CozyGenChoiceInput": (CozyGenChoiceInput, "CozyGen Choice Input"),
}
