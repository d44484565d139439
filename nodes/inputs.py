"""CozyGen's input nodes: each marks one value the CozyGen app shows in its form.

Every value is a plain widget input, so a workflow keeps it when reopened in ComfyUI's
editor. The app fills the value input before queueing (core.graph.node_values.VALUE_INPUT says
which); the node then outputs it, checked but never clamped or changed.

The shared pieces (image references, choice lists) are used by the original CozyGen node
names in ``legacy.py`` too. Over 400 lines because it is the catalogue of the input node classes, each a short
declaration ComfyUI reads; their rules live in core.graph.node_values.
"""

from __future__ import annotations

from typing import Any

from ..core.graph.node_values import (
    FIXED,
    INT_LIMIT,
    SAMPLER,
    SCHEDULER,
    SEED_MAX,
    check_choice,
    check_range,
    check_seed,
    parse_choices,
    resolve_image_ref,
)
from ..core.host import current as current_host
from ..core.media import image_load

CATEGORY = "CozyGen"
FLOAT_LIMIT = 1.0e15


class AnyType(str):
    """ComfyUI's wildcard type ``*``: it never differs from another type, so it can feed any input
    (a COMBO such as ckpt_name or sampler_name included). ComfyUI 0.3.75 compares link types with
    ``!=`` (comfy_execution.validation.validate_node_input), which is why ``__ne__`` decides."""

    def __ne__(self, other: object) -> bool:
        return False

    __hash__ = str.__hash__


ANY = AnyType("*")


# -- shared by the new and the original node names ----------------------------------------
def choice_types(*, legacy: bool = False) -> list[str]:
    """Model folders ComfyUI knows, then sampler and scheduler (``legacy`` adds the models folder's
    sub-folders, which the original CozyGen listed)."""
    host = current_host()
    folders = set(host.model_folders())
    if legacy:
        folders.update(host.models_subfolders())
    return [*sorted(folders), SAMPLER, SCHEDULER]


def choice_options(choice_type: str, choices: Any = "") -> list[str] | None:
    """The valid values for a choice type, or None when the host has no list for it."""
    if choice_type == FIXED:
        return parse_choices(choices)
    host = current_host()
    if choice_type == SAMPLER:
        return host.sampler_names()
    if choice_type == SCHEDULER:
        return host.scheduler_names()
    try:
        return host.model_files(choice_type)
    except KeyError:
        return None


def image_path(ref: Any) -> Any:
    host = current_host()
    return resolve_image_ref(ref, host.input_directory(), host.output_directory())


def load_image(ref: Any) -> tuple[Any, Any]:
    """IMAGE and MASK tensors for an image reference, as ComfyUI's LoadImage makes them."""
    import torch  # ComfyUI has loaded it already

    images, masks = image_load.load_frames(image_path(ref))
    return torch.from_numpy(images), torch.from_numpy(masks)


def image_problem(ref: Any) -> bool | str:
    """True, or why the reference is not a usable image (for VALIDATE_INPUTS)."""
    if ref is None:  # linked from another node: known only when it runs
        return True
    try:
        image_path(ref)
    except ValueError as error:
        return str(error)
    return True


def image_fingerprint(ref: Any, fingerprints: image_load.FileFingerprints) -> Any:
    """The file's content hash (kept by the node's ``fingerprints``), so an image changed under the same name is
    read again."""
    try:
        return fingerprints.of(image_path(ref))
    except (ValueError, OSError):
        return float("nan")  # never equal to itself: run again and report the error then


def _problem(check: Any, *args: Any) -> bool | str:
    if any(arg is None for arg in args):  # a linked input: checked when the node runs
        return True
    try:
        check(*args)
    except ValueError as error:
        return str(error)
    return True


# -- the widgets every input node has -------------------------------------------------------
def _form_inputs(param_name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    required = {
        "param_name": (
            "STRING",
            {"default": param_name, "tooltip": "The parameter's key in the CozyGen app, its presets and its API."},
        ),
    }
    optional = {
        "label": (
            "STRING",
            {"default": "", "tooltip": "The label the CozyGen form shows; empty uses param_name."},
        ),
        "order": (
            "INT",
            {"default": 0, "min": -10000, "max": 10000, "tooltip": "Position in the CozyGen form: lower comes first."},
        ),
        "group": (
            "STRING",
            {"default": "", "tooltip": "Section of the CozyGen form this parameter is shown in; empty for the top."},
        ),
        "description": (
            "STRING",
            {"default": "", "tooltip": "Help text the CozyGen form shows under the field."},
        ),
    }
    return required, optional


def _input_types(param_name: str, fields: dict[str, Any], options: dict[str, Any] | None = None) -> dict[str, Any]:
    """param_name and the inputs that decide the output are required; how the form shows them is optional."""
    required, optional = _form_inputs(param_name)
    return {"required": {**required, **fields}, "optional": {**(options or {}), **optional}}


class _CozyGenInput:
    CATEGORY = CATEGORY
    FUNCTION = "output"


# -- the nodes -------------------------------------------------------------------------------
class CozyGenString(_CozyGenInput):
    DESCRIPTION = "A text parameter of the CozyGen form (a prompt, a file name prefix...). Outputs the text."
    RETURN_TYPES = ("STRING",)
    RETURN_NAMES = ("value",)

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return _input_types(
            "text",
            {
                "value": (
                    "STRING",
                    {
                        "default": "",
                        "multiline": True,
                        "dynamicPrompts": False,
                        "tooltip": "The text; CozyGen replaces it with what the form holds before queueing.",
                    },
                ),
            },
            {
                "multiline": (
                    "BOOLEAN",
                    {"default": False, "tooltip": "Show a multi-line text box in the CozyGen form (for prompts)."},
                ),
            },
        )

    def output(self, value: str, **_form: Any) -> tuple[str]:
        return (value,)


class CozyGenInt(_CozyGenInput):
    DESCRIPTION = (
        "A whole-number parameter of the CozyGen form with its range and step. "
        "Outputs the number; a value outside min..max is an error, never clamped."
    )
    RETURN_TYPES = ("INT",)
    RETURN_NAMES = ("value",)

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        wide = {"min": -INT_LIMIT, "max": INT_LIMIT}
        return _input_types(
            "number",
            {
                "value": ("INT", {"default": 0, **wide, "tooltip": "The number; it must lie within min..max."}),
                "min": ("INT", {"default": 0, **wide, "tooltip": "Smallest value allowed (inclusive)."}),
                "max": ("INT", {"default": 100, **wide, "tooltip": "Largest value allowed (inclusive)."}),
            },
            {
                "step": (
                    "INT",
                    {"default": 1, "min": 1, "max": INT_LIMIT, "tooltip": "Step of the CozyGen form's slider."},
                ),
            },
        )

    @classmethod
    def VALIDATE_INPUTS(cls, value: Any = None, min: Any = None, max: Any = None) -> bool | str:
        return _problem(check_range, value, min, max)

    def output(self, value: int, min: int, max: int, step: int = 1, **_form: Any) -> tuple[int]:
        check_range(value, min, max)
        return (value,)


class CozyGenFloat(_CozyGenInput):
    DESCRIPTION = (
        "A decimal-number parameter of the CozyGen form with its range and step. "
        "Outputs the number; a value outside min..max is an error, never clamped."
    )
    RETURN_TYPES = ("FLOAT",)
    RETURN_NAMES = ("value",)

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        wide = {"min": -FLOAT_LIMIT, "max": FLOAT_LIMIT, "step": 0.01, "round": False}
        return _input_types(
            "number",
            {
                "value": ("FLOAT", {"default": 1.0, **wide, "tooltip": "The number; it must lie within min..max."}),
                "min": ("FLOAT", {"default": 0.0, **wide, "tooltip": "Smallest value allowed (inclusive)."}),
                "max": ("FLOAT", {"default": 10.0, **wide, "tooltip": "Largest value allowed (inclusive)."}),
            },
            {
                "step": (
                    "FLOAT",
                    {
                        "default": 0.1,
                        "min": 1e-6,
                        "max": FLOAT_LIMIT,
                        "step": 0.01,
                        "round": False,
                        "tooltip": "Step of the CozyGen form's slider.",
                    },
                ),
            },
        )

    @classmethod
    def VALIDATE_INPUTS(cls, value: Any = None, min: Any = None, max: Any = None) -> bool | str:
        return _problem(check_range, value, min, max)

    def output(self, value: float, min: float, max: float, step: float = 0.1, **_form: Any) -> tuple[float]:
        check_range(value, min, max)
        return (float(value),)


class CozyGenBoolean(_CozyGenInput):
    DESCRIPTION = "An on/off parameter of the CozyGen form. Outputs it as a BOOLEAN."
    RETURN_TYPES = ("BOOLEAN",)
    RETURN_NAMES = ("value",)

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return _input_types(
            "enabled",
            {"value": ("BOOLEAN", {"default": False, "tooltip": "On or off; CozyGen sets it from the form."})},
        )

    def output(self, value: bool, **_form: Any) -> tuple[bool]:
        return (bool(value),)


class CozyGenSeed(_CozyGenInput):
    DESCRIPTION = (
        "The seed parameter of the CozyGen form. With randomize on, the CozyGen server picks a new seed "
        "for every job before queueing it; the node outputs the seed it is given."
    )
    RETURN_TYPES = ("INT",)
    RETURN_NAMES = ("seed",)

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return _input_types(
            "seed",
            {
                "seed": (
                    "INT",
                    {
                        "default": 0,
                        "min": 0,
                        "max": SEED_MAX,
                        "control_after_generate": False,
                        "tooltip": (
                            "The seed (0 to 2^64-1). Random seeds are chosen by the CozyGen server before "
                            "queueing; this node outputs exactly the seed it receives."
                        ),
                    },
                ),
            },
            {
                "randomize": (
                    "BOOLEAN",
                    {
                        "default": False,
                        "tooltip": (
                            "When on, CozyGen queues each job with a new random seed (written into 'seed' before "
                            "queueing, so the saved workflow records it). Off keeps the seed as set."
                        ),
                    },
                ),
            },
        )

    def output(self, seed: int, randomize: bool = False, **_form: Any) -> tuple[int]:
        check_seed(seed)
        return (seed,)


class CozyGenChoice(_CozyGenInput):
    DESCRIPTION = (
        "A choice parameter of the CozyGen form: a fixed list, a model folder (checkpoints, loras...), "
        "the sampler or the scheduler. Outputs the chosen name; connect it to a list input such as "
        "ckpt_name or sampler_name."
    )
    RETURN_TYPES = (ANY,)
    RETURN_NAMES = ("value",)

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return _input_types(
            "choice",
            {
                "choice_type": (
                    [FIXED, *choice_types()],
                    {
                        "default": FIXED,
                        "tooltip": (
                            "Where the choices come from: 'fixed' uses the 'choices' list; a model folder, "
                            "'sampler' or 'scheduler' uses ComfyUI's current list."
                        ),
                    },
                ),
                "value": (
                    "STRING",
                    {"default": "", "tooltip": "The chosen name; it must be one of the choices when the job runs."},
                ),
            },
            {
                "choices": (
                    "STRING",
                    {
                        "default": "",
                        "multiline": True,
                        "dynamicPrompts": False,
                        "tooltip": "For 'fixed': the choices, one a line. Ignored for the other choice types.",
                    },
                ),
            },
        )

    @classmethod
    def check(cls, choice_type: str, value: Any, choices: Any = "") -> None:
        known = [FIXED, *choice_types()]
        if choice_type not in known:
            raise ValueError(f"unknown choice_type {choice_type!r}; choose one of {', '.join(known)}")
        check_choice(choice_type, value, choice_options(choice_type, choices))

    @classmethod
    def VALIDATE_INPUTS(cls, choice_type: Any = None, value: Any = None, choices: Any = None) -> bool | str:
        return _problem(cls.check, choice_type, value, "" if choices is None else choices)

    def output(self, choice_type: str, value: str, choices: str = "", **_form: Any) -> tuple[str]:
        self.check(choice_type, value, choices)
        return (value,)


class CozyGenImage(_CozyGenInput):
    DESCRIPTION = (
        "An image parameter of the CozyGen form. Loads a file of the input folder, or an output image "
        "written as output::<subfolder>::<filename>, exactly as ComfyUI's Load Image does (IMAGE and MASK)."
    )
    RETURN_TYPES = ("IMAGE", "MASK")
    RETURN_NAMES = ("image", "mask")
    fingerprints = image_load.FileFingerprints()  # the input files' hashes, for IS_CHANGED

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return _input_types(
            "image",
            {
                "image": (
                    "STRING",
                    {
                        "default": "",
                        "tooltip": (
                            "A path inside ComfyUI's input folder (e.g. 'photo.png' or 'sub/photo.png'), or "
                            "'output::<subfolder>::<filename>' for an image in the output folder."
                        ),
                    },
                ),
            },
        )

    @classmethod
    def VALIDATE_INPUTS(cls, image: Any = None) -> bool | str:
        return image_problem(image)

    @classmethod
    def IS_CHANGED(cls, image: Any = None, **_form: Any) -> Any:
        return image_fingerprint(image, cls.fingerprints)

    def output(self, image: str, **_form: Any) -> tuple[Any, Any]:
        return load_image(image)


NODES = {
    "CozyGenString": (CozyGenString, "CozyGen String"),
    "CozyGenInt": (CozyGenInt, "CozyGen Int"),
    "CozyGenFloat": (CozyGenFloat, "CozyGen Float"),
    "CozyGenBoolean": (CozyGenBoolean, "CozyGen Boolean"),
    "CozyGenSeed": (CozyGenSeed, "CozyGen Seed"),
    "CozyGenChoice": (CozyGenChoice, "CozyGen Choice"),
    "CozyGenImage": (CozyGenImage, "CozyGen Image"),
}
