"""Reading ComfyUI's ``/object_info``: input specs, the current choice lists, and which models folder an input lists."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Where ComfyUI lists each choice type: the first of these classes found in object_info gives the list.
CHOICE_LISTS: dict[str, tuple[tuple[str, str], ...]] = {
    "sampler": (("KSampler", "sampler_name"), ("KSamplerSelect", "sampler_name"), ("KSamplerAdvanced", "sampler_name")),
    "scheduler": (("KSampler", "scheduler"), ("BasicScheduler", "scheduler"), ("KSamplerAdvanced", "scheduler")),
    "checkpoints": (("CheckpointLoaderSimple", "ckpt_name"), ("CheckpointLoader", "ckpt_name")),
    "loras": (("LoraLoader", "lora_name"), ("LoraLoaderModelOnly", "lora_name")),
    "vae": (("VAELoader", "vae_name"),),
    "diffusion_models": (("UNETLoader", "unet_name"),),
    "unet": (("UNETLoader", "unet_name"),),
    "text_encoders": (("CLIPLoader", "clip_name"), ("DualCLIPLoader", "clip_name1")),
    "clip": (("CLIPLoader", "clip_name"), ("DualCLIPLoader", "clip_name1")),
    "clip_vision": (("CLIPVisionLoader", "clip_name"),),
    "controlnet": (("ControlNetLoader", "control_net_name"),),
    "upscale_models": (("UpscaleModelLoader", "model_name"),),
    "style_models": (("StyleModelLoader", "style_model_name"),),
    "gligen": (("GLIGENLoader", "gligen_name"),),
    "hypernetworks": (("HypernetworkLoader", "hypernetwork_name"),),
    "photomaker": (("PhotoMakerLoader", "photomaker_model_name"),),
}
# Model-file inputs and the models folder they list.
MODEL_INPUT_FOLDERS = {
    "ckpt_name": "checkpoints",
    "lora_name": "loras",
    "vae_name": "vae",
    "unet_name": "diffusion_models",
    "clip_name": "text_encoders",
    "control_net_name": "controlnet",
    "upscale_model_name": "upscale_models",
    "style_model_name": "style_models",
    "gligen_name": "gligen",
    "hypernetwork_name": "hypernetworks",
    "photomaker_model_name": "photomaker",
}
_CLASS_INPUT_FOLDERS = {
    ("CLIPVisionLoader", "clip_name"): "clip_vision",
    ("UpscaleModelLoader", "model_name"): "upscale_models",
}


def input_spec(object_info: Any, class_type: str, input_name: str) -> tuple[str | None, dict[str, Any], list | None]:
    """(kind, options, choices) of one input of a node class: kind INT/FLOAT/STRING/BOOLEAN/COMBO/… or None.

    Both COMBO forms are read: ``[["a", "b"], {...}]`` and the newer ``["COMBO", {"options": [...]}]``.
    Hidden inputs are not looked at.
    """
    info = object_info.get(class_type) if isinstance(object_info, dict) else None
    sections = info.get("input") if isinstance(info, dict) else None
    if not isinstance(sections, dict):
        return None, {}, None
    for section in ("required", "optional"):
        entries = sections.get(section)
        spec = entries.get(input_name) if isinstance(entries, dict) else None
        if spec is None:
            continue
        return read_spec(spec)
    return None, {}, None


def class_inputs(object_info: Any, class_type: str) -> dict[str, tuple[str, Any]] | None:
    """``{input name: (section, raw spec)}`` of the required and optional inputs; None for an unknown class."""
    info = object_info.get(class_type) if isinstance(object_info, dict) else None
    if not isinstance(info, dict):
        return None
    sections = info.get("input")
    found: dict[str, tuple[str, Any]] = {}
    for section in ("required", "optional"):
        entries = sections.get(section) if isinstance(sections, dict) else None
        if isinstance(entries, dict):
            for name, spec in entries.items():
                found.setdefault(name, (section, spec))
    return found


def read_spec(spec: Any) -> tuple[str | None, dict[str, Any], list | None]:
    if isinstance(spec, str):
        return spec, {}, None
    if not isinstance(spec, list | tuple) or not spec:
        return None, {}, None
    first = spec[0]
    options = spec[1] if len(spec) > 1 and isinstance(spec[1], dict) else {}
    if isinstance(first, list | tuple):
        return "COMBO", options, list(first)
    if first == "COMBO":
        listed = options.get("options")
        return "COMBO", options, list(listed) if isinstance(listed, list | tuple) else []
    return (first if isinstance(first, str) else None), options, None


def choice_list(source: str | None, object_info: Any, models: Mapping[str, Any] | None = None) -> list | None:
    """The current list for a choice type (``sampler``, ``scheduler`` or a models folder); None when unknown.

    A folder listed in ``models`` wins; otherwise the list of a node class that uses it in ``object_info``.
    """
    if not source:
        return None
    if models and isinstance(models.get(source), list | tuple):
        return list(models[source])
    for class_type, input_name in CHOICE_LISTS.get(source, ()):
        kind, _, choices = input_spec(object_info, class_type, input_name)
        if kind == "COMBO" and choices is not None:
            return choices
    return None


def model_folder(class_type: str, input_name: str) -> str | None:
    """The models folder a model-file input lists (``ckpt_name`` → checkpoints, ``clip_name2`` → text_encoders …)."""
    if (class_type, input_name) in _CLASS_INPUT_FOLDERS:
        return _CLASS_INPUT_FOLDERS[(class_type, input_name)]
    if input_name in MODEL_INPUT_FOLDERS:
        return MODEL_INPUT_FOLDERS[input_name]
    base = input_name.rstrip("0123456789_")
    return MODEL_INPUT_FOLDERS.get(base)
