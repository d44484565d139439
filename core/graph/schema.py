"""The parameters a phone form (or a script) can set on an API-format ComfyUI workflow.

:func:`extract_schema` reads a workflow and ComfyUI's ``/object_info`` and returns a list
of :class:`Parameter`. Each parameter says where its value is written (``targets``: pairs
of node id and input name), its type, its default (the value now in the workflow), and its
bounds or choices, which always come from ``object_info`` (never from hard-coded lists).

Two ways to find them:

- A workflow with CozyGen input nodes (``CozyGenString`` … ``CozyGenImage``, or the original
  CozyGen's ``CozyGen*Input`` classes) is described by those nodes alone, in their
  ``order``/``priority`` and then node id order. The value is written on the CozyGen node
  itself (``value``/``seed``/``image``; ``default_value``/``value``/``image_filename`` for
  the legacy classes).
- Otherwise the graph is read from each sampler (KSampler, KSamplerAdvanced, SamplerCustom,
  SamplerCustomAdvanced with its noise/guider/sampler/sigmas nodes): the prompts of the text
  encoders its conditioning comes from, seed, steps, cfg (and a FluxGuidance guidance), sampler,
  scheduler, denoise, the empty latent's size, the checkpoint or diffusion model and the LoRAs
  on its model chain; and every LoadImage. With several samplers the second one's own
  parameters are named ``seed_2``, ``steps_2``… and grouped apart; a node they share (one
  checkpoint, one empty latent) gives one parameter. An input that is a link is never a parameter.

The walks borrow :mod:`core.graph.summary`'s link rules and have the same limits (visited
sets, a depth limit and a shared budget of hops), so a hostile graph cannot loop or stall.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import BadRequest
from .node_values import SEED_MAX, VALUE_INPUT, cast_dynamic, parse_choices
from .summary import (
    KNOWN_SAMPLERS,
    LATENT_INPUTS,
    MAX_DEPTH,
    MAX_HOPS,
    MAX_NODES,
    TEXT_INPUTS,
    _id_key,
    _link,
    upstream,
)

TYPES = ("string", "text", "int", "float", "boolean", "seed", "choice", "image")
UI_FORMAT_MESSAGE = (
    "This file is a ComfyUI editor (UI-format) workflow, which cannot be run as it is. In ComfyUI, "
    "use Workflow > Export (API) (or 'Save (API Format)' in the old menu, with dev mode enabled in the "
    "settings) and use that file instead."
)

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
COZYGEN_INPUT_NODES = NEW_NODES | LEGACY_NODES
_NODE_TYPES = {
    "CozyGenString": "string",
    "CozyGenInt": "int",
    "CozyGenFloat": "float",
    "CozyGenBoolean": "boolean",
    "CozyGenSeed": "seed",
    "CozyGenChoice": "choice",
    "CozyGenImage": "image",
    "CozyGenStringInput": "string",
    "CozyGenIntInput": "int",
    "CozyGenFloatInput": "float",
    "CozyGenChoiceInput": "choice",
    "CozyGenImageInput": "image",
}
_DYNAMIC_TYPES = {"STRING": "string", "INT": "int", "FLOAT": "float", "BOOLEAN": "boolean", "DROPDOWN": "choice"}

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
HELPER_INPUTS = ("guider", "noise", "sampler", "sigmas")  # what they point at is part of a sampler
MAX_ORDERED_SAMPLERS = 64  # beyond this many samplers, node id order (no upstream walks)
LOAD_IMAGE_NODES = frozenset({"LoadImage", "LoadImageMask"})
ZERO_CONDITIONING = frozenset({"ConditioningZeroOut"})


@dataclass
class Parameter:
    """One value a caller may set. ``targets`` are the (node id, input name) pairs it is written to."""

    name: str
    label: str
    type: str
    default: Any = None
    min: float | int | None = None
    max: float | int | None = None
    step: float | int | None = None
    choices: list[Any] | None = None
    choice_source: str | None = None
    required: bool = False
    group: str | None = None
    order: int = 0
    description: str = ""
    targets: list[tuple[str, str]] = field(default_factory=list)
    randomize: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "type": self.type,
            "default": self.default,
            "min": self.min,
            "max": self.max,
            "step": self.step,
            "choices": None if self.choices is None else list(self.choices),
            "choice_source": self.choice_source,
            "required": self.required,
            "group": self.group,
            "order": self.order,
            "description": self.description,
            "targets": [[node_id, name] for node_id, name in self.targets],
            "randomize": self.randomize,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Parameter:
        """The inverse of :meth:`to_dict` (a schema sent back by a client or kept in a store)."""
        targets = [
            (str(t[0]), str(t[1])) for t in data.get("targets") or () if isinstance(t, list | tuple) and len(t) == 2
        ]
        choices = data.get("choices")
        return cls(
            name=str(data["name"]),
            label=str(data.get("label") or data["name"]),
            type=str(data.get("type") or "string"),
            default=data.get("default"),
            min=data.get("min"),
            max=data.get("max"),
            step=data.get("step"),
            choices=list(choices) if isinstance(choices, list) else None,
            choice_source=data.get("choice_source"),
            required=bool(data.get("required")),
            group=data.get("group"),
            order=int(data.get("order") or 0),
            description=str(data.get("description") or ""),
            targets=targets,
            randomize=bool(data.get("randomize")),
        )


# Format.


def is_ui_format(data: Any) -> bool:
    """The editor's format: top-level ``nodes`` and ``links`` lists."""
    return isinstance(data, dict) and isinstance(data.get("nodes"), list) and isinstance(data.get("links"), list)


def is_api_format(data: Any) -> bool:
    """``{node_id: {"class_type": str, "inputs": {...}}}`` with at least one node (``inputs`` may be absent)."""
    if not isinstance(data, dict) or not data or is_ui_format(data):
        return False
    for node in data.values():
        if not isinstance(node, dict) or not isinstance(node.get("class_type"), str):
            return False
        if not isinstance(node.get("inputs", {}), dict):
            return False
    return True


def reject_ui_format(data: Any) -> None:
    """BadRequest ``UI_FORMAT`` for an editor-format workflow, telling how to export the API format."""
    if is_ui_format(data):
        raise BadRequest(UI_FORMAT_MESSAGE, code="UI_FORMAT")


def ensure_api_format(data: Any) -> dict[str, Any]:
    """``data`` when it is an API-format workflow; BadRequest ``UI_FORMAT`` or ``NOT_API_FORMAT`` otherwise."""
    reject_ui_format(data)
    if not is_api_format(data):
        raise BadRequest(
            'a workflow must be ComfyUI API format: {"<node id>": {"class_type": ..., "inputs": {...}}}',
            code="NOT_API_FORMAT",
        )
    if len(data) > MAX_NODES:
        raise BadRequest(f"the workflow has more than {MAX_NODES} nodes", code="NOT_API_FORMAT")
    return data


# object_info.


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


# The schema.


def extract_schema(workflow: Any, object_info: Any, *, models: Mapping[str, Any] | None = None) -> list[Parameter]:
    """The parameters of ``workflow`` (API format; BadRequest for the UI format), in display order.

    ``models`` (folder → file names), when given, supplies choice lists for CozyGen choice nodes
    whose folder no node class of ``object_info`` lists.
    """
    ensure_api_format(workflow)
    object_info = object_info if isinstance(object_info, dict) else {}
    cozygen = sorted(
        (str(node_id) for node_id, node in workflow.items() if node.get("class_type") in COZYGEN_INPUT_NODES),
        key=_id_key,
    )
    if cozygen:
        return _cozygen_schema(workflow, cozygen, object_info, models)
    return _GraphSchema(workflow, object_info).build()


# CozyGen input nodes.


def _cozygen_schema(
    workflow: dict, node_ids: list[str], object_info: dict, models: Mapping[str, Any] | None
) -> list[Parameter]:
    found: list[tuple[float, tuple, Parameter]] = []
    nodes = {str(node_id): node for node_id, node in workflow.items()}
    for node_id in node_ids:
        param = _cozygen_param(node_id, nodes[node_id], object_info, models)
        if param is not None:
            found.append((param.order, _id_key(node_id), param))
    found.sort(key=lambda item: (item[0], item[1]))
    params: list[Parameter] = []
    by_name: dict[str, Parameter] = {}
    for _, _, param in found:
        same = by_name.get(param.name)
        if same is not None and same.type == param.type and same.choices == param.choices:
            same.targets.extend(param.targets)  # one value for every node that shares the name
            continue
        if same is not None:
            param.name = _unique(param.name, by_name)
        by_name[param.name] = param
        params.append(param)
    return params


def _cozygen_param(node_id: str, node: Any, object_info: dict, models: Mapping[str, Any] | None) -> Parameter | None:
    inputs = node.get("inputs") if isinstance(node, dict) else None
    inputs = inputs if isinstance(inputs, dict) else {}
    class_type = node["class_type"]
    legacy = class_type in LEGACY_NODES
    value_input = VALUE_INPUT[class_type]
    value = inputs.get(value_input)
    if _link(value) is not None:
        return None  # the value comes from another node: nothing to set here
    param_type = str(inputs.get("param_type") or "STRING").upper()  # CozyGenDynamicInput's
    kind = _NODE_TYPES.get(class_type) or _DYNAMIC_TYPES.get(param_type, "string")
    name = _text(inputs.get("param_name")) or f"{kind}_{node_id}"
    order = _number(inputs.get("priority" if legacy else "order"))
    param = Parameter(
        name=name,
        label=_text(inputs.get("label")) or name,
        type=kind,
        group=_text(inputs.get("group")),
        order=int(max(-1e15, min(1e15, order))) if order is not None else (10 if legacy else 0),  # JSON-safe
        description=_text(inputs.get("description")) or "",
        targets=[(node_id, value_input)],
    )
    if class_type == "CozyGenDynamicInput" and isinstance(value, str) and kind not in ("string", "choice"):
        value = cast_dynamic(param_type, value)
    if kind == "string":
        multiline = inputs.get("display_multiline" if class_type == "CozyGenStringInput" else "multiline")
        param.type = "text" if multiline is True else "string"
        param.default = value if isinstance(value, str) else None
    elif kind in ("int", "float"):
        _cozygen_bounds(param, class_type, value_input, inputs, legacy, object_info)
        param.default = _as_number(value, kind)
        seed_like = inputs.get("add_randomize_toggle") is True or name.lower().replace(" ", "_") in (
            "seed",
            "noise_seed",
        )
        if legacy and kind == "int" and seed_like:  # the original CozyGen's seeds are int inputs
            param.type = "seed"
    elif kind == "seed":
        _cozygen_bounds(param, class_type, value_input, inputs, legacy, object_info)
        param.default = _as_number(value, "int")
        param.randomize = inputs.get("randomize") is True
    elif kind == "boolean":
        param.default = value if isinstance(value, bool) else None
    elif kind == "choice":
        source = _text(inputs.get("choice_type")) or "fixed"
        param.choice_source = source
        if source == "fixed":
            param.choices = parse_choices(inputs.get("choices"))
        else:
            param.choices = choice_list(source, object_info, models)  # None: this host cannot say
        if class_type == "CozyGenChoiceInput":
            value = next((v for v in (value, inputs.get("default_choice")) if _text(v) and v != "None"), None)
        param.default = value if isinstance(value, str) and value else None
    elif kind == "image":
        param.default = value if isinstance(value, str) and value.strip() else None
    if param.type == "seed":
        param.min = 0 if param.min is None else param.min
        param.max = SEED_MAX if param.max is None else param.max
    param.required = param.default is None
    return param


def _cozygen_bounds(
    param: Parameter, class_type: str, value_input: str, inputs: dict, legacy: bool, object_info: dict
) -> None:
    """min/max/step set on the node, else the options object_info gives the node's value input."""
    _, options, _ = input_spec(object_info, class_type, value_input)
    names = ("min_value", "max_value", "step") if legacy else ("min", "max", "step")
    low, high, step = (_number(inputs.get(n)) for n in names)
    if class_type == "CozyGenDynamicInput" and (low is None or high is None or low >= high):
        low = high = None  # its hidden defaults (0 to 1) mean "not set"
    param.min = low if low is not None else _number(options.get("min"))
    param.max = high if high is not None else _number(options.get("max"))
    param.step = step if step else _number(options.get("step"))
    if param.type in ("int", "seed"):
        param.min, param.max, param.step = (_whole(v) for v in (param.min, param.max, param.step))


# Reading the graph.


class _GraphSchema:
    def __init__(self, workflow: dict, object_info: dict) -> None:
        self.inputs: dict[str, dict[str, Any]] = {}
        self.types: dict[str, str] = {}
        for node_id, node in workflow.items():
            inputs = node.get("inputs")
            self.inputs[str(node_id)] = inputs if isinstance(inputs, dict) else {}
            self.types[str(node_id)] = node["class_type"]
        self.object_info = object_info
        self.params: list[Parameter] = []
        self.names: dict[str, Parameter] = {}
        self.taken: dict[tuple[str, str], Parameter] = {}
        self.hops = MAX_HOPS
        self.loras = 0

    def build(self) -> list[Parameter]:
        samplers = self._samplers()
        several = len(samplers) > 1
        for index, sampler in enumerate(samplers):
            suffix = f"_{index + 1}" if index else ""
            number = f" {index + 1}" if several else ""
            self._read_sampler(sampler, suffix, number)
        for node_id in sorted(self.inputs, key=_id_key):
            if self.types[node_id] in LOAD_IMAGE_NODES:
                self._add("image", "Image", node_id, "image", group="Image", kind="image")
        return self.params

    # Finding the samplers.

    def _samplers(self) -> list[str]:
        found = [n for n in self.inputs if self.types[n] in KNOWN_SAMPLERS]
        if not found:  # sampler-like nodes (a seed and steps or cfg, e.g. CozyGen Procedural Image)
            helpers = {_link(v) for ins in self.inputs.values() for k, v in ins.items() if k in HELPER_INPUTS}
            found = [
                n
                for n, ins in self.inputs.items()
                if n not in helpers
                and not self.types[n].endswith(("Guider", "Noise"))
                and ("seed" in ins or "noise_seed" in ins)
                and any(name in ins for name in ("steps", "cfg", "sampler_name", "positive"))
            ]
        if len(found) < 2 or len(found) > MAX_ORDERED_SAMPLERS:
            return sorted(found, key=_id_key)
        upstream = {n: self._upstream(n) for n in found}
        return sorted(found, key=lambda n: (sum(other in upstream[n] for other in found if other != n), _id_key(n)))

    def _upstream(self, start: str) -> set[str]:
        return upstream(self.inputs, [start]) - {start}

    def _enter(self, node_id: str | None, seen: set[str]) -> bool:
        if node_id is None or node_id in seen or len(seen) >= MAX_DEPTH or node_id not in self.inputs:
            return False
        if self.hops <= 0:
            return False
        self.hops -= 1
        seen.add(node_id)
        return True

    # One sampler.

    def _read_sampler(self, sampler: str, suffix: str, number: str) -> None:
        inputs = self.inputs[sampler]
        guider = _link(inputs.get("guider"))
        noise = _link(inputs.get("noise"))
        chooser = _link(inputs.get("sampler"))
        schedule = self._schedule(inputs.get("sigmas"))
        guider_inputs = self.inputs.get(guider or "", {})
        prompt, sampling = f"Prompt{number}", f"Sampling{number}"
        label = f" (sampler{number})" if suffix else ""

        positive = _pick(inputs, ("positive",), guider_inputs, ("positive", "conditioning", "cond1"))
        guidance = self._prompts(positive, "positive", suffix, prompt, "Positive prompt" + label)
        negative = _pick(inputs, ("negative",), guider_inputs, ("negative",))
        self._prompts(negative, "negative", suffix, prompt, "Negative prompt" + label)
        if not any(p.name == "positive" + suffix for p in self.params):  # a node that takes its prompt itself
            for name in TEXT_INPUTS:
                if isinstance(inputs.get(name), str):
                    self._add("positive" + suffix, "Prompt" + label, sampler, name, group=prompt, text=True)
                    break

        seeds = [(sampler, "seed"), (sampler, "noise_seed"), (noise, "noise_seed"), (noise, "seed")]
        self._first("seed" + suffix, "Seed" + label, seeds, sampling, kind="seed")
        self._first("steps" + suffix, "Steps" + label, [(sampler, "steps"), (schedule, "steps")], sampling)
        self._first("cfg" + suffix, "CFG" + label, [(sampler, "cfg"), (guider, "cfg")], sampling)
        if guidance is not None:
            self._add("guidance" + suffix, "Guidance" + label, guidance[0], guidance[1], group=sampling)
        samplers = [(sampler, "sampler_name"), (chooser, "sampler_name")]
        self._first("sampler_name" + suffix, "Sampler" + label, samplers, sampling, source="sampler")
        schedulers = [(sampler, "scheduler"), (schedule, "scheduler")]
        self._first("scheduler" + suffix, "Scheduler" + label, schedulers, sampling, source="scheduler")
        self._first("denoise" + suffix, "Denoise" + label, [(sampler, "denoise"), (schedule, "denoise")], sampling)

        self._latent(sampler, inputs)
        model = _pick(inputs, ("model",), guider_inputs, ("model",))
        if model is None and schedule is not None:
            model = self.inputs[schedule].get("model")
        self._model_chain(model)

    def _schedule(self, value: Any) -> str | None:
        """The node that made the sigmas (BasicScheduler & co), through SplitSigmas-style nodes."""
        seen: set[str] = set()
        node_id = _link(value)
        while self._enter(node_id, seen):
            inputs = self.inputs[node_id]
            if "steps" in inputs or "scheduler" in inputs:
                return node_id
            node_id = _link(inputs.get("sigmas"))
        return None

    def _first(
        self,
        name: str,
        label: str,
        sources: list[tuple[str | None, str]],
        group: str,
        *,
        kind: str | None = None,
        source: str | None = None,
    ) -> None:
        """A parameter for the first of ``sources`` present (none if that one is a link)."""
        for node_id, input_name in sources:
            if node_id is not None and input_name in self.inputs.get(node_id, {}):
                self._add(name, label, node_id, input_name, group=group, kind=kind, source=source)
                return

    # Prompts.

    def _prompts(self, value: Any, side: str, suffix: str, group: str, label: str) -> tuple[str, str] | None:
        """Parameters for the encoders that feed ``value``; returns the guidance input met on the way, if any."""
        encoders: list[str] = []
        guidance: list[tuple[str, str]] = []
        self._walk_conditioning(value, side, set(), encoders, guidance)
        for index, node_id in enumerate(encoders):
            inputs = self.inputs[node_id]
            texts = [(n, inputs[n]) for n in TEXT_INPUTS if isinstance(inputs.get(n), str)]
            if not texts or (node_id, texts[0][0]) in self.taken:
                continue
            base = side + suffix if index == 0 else _unique(side + suffix, self.names)
            if all(text == texts[0][1] for _, text in texts):
                param = self._add(base, label, node_id, texts[0][0], group=group, text=True)
                if param is not None:
                    for other, _ in texts[1:]:
                        param.targets.append((node_id, other))
                        self.taken[(node_id, other)] = param
                continue
            for position, (input_name, _) in enumerate(texts):
                name = base if position == 0 else f"{base}_{input_name}"
                self._add(name, f"{label} ({input_name})", node_id, input_name, group=group, text=True)
        if guidance:
            return guidance[0]
        for node_id in encoders:  # CLIPTextEncodeFlux carries its own guidance
            if side == "positive" and _number(self.inputs[node_id].get("guidance")) is not None:
                return node_id, "guidance"
        return None

    def _walk_conditioning(
        self, value: Any, side: str, seen: set[str], encoders: list[str], guidance: list[tuple[str, str]]
    ) -> None:
        node_id = _link(value)
        if not self._enter(node_id, seen):
            return
        inputs, class_type = self.inputs[node_id], self.types[node_id]
        if class_type in ZERO_CONDITIONING:
            return
        if any(name in inputs for name in TEXT_INPUTS):
            encoders.append(node_id)
            return
        if side == "positive" and "guidance" in inputs and "conditioning" in inputs:  # FluxGuidance
            guidance.append((node_id, "guidance"))
        if _link(inputs.get(side)) is not None:
            upstream = [side]
        else:
            upstream = [
                k for k in inputs if isinstance(k, str) and "cond" in k.lower() and k not in ("positive", "negative")
            ]
        for name in upstream:
            self._walk_conditioning(inputs[name], side, seen, encoders, guidance)

    # Latent size.

    def _latent(self, sampler: str, inputs: dict[str, Any]) -> None:
        if "width" in inputs and "height" in inputs and not any(n in inputs for n in LATENT_INPUTS):
            node_id: str | None = sampler  # the sampler makes its own image (CozyGen Procedural Image)
        else:
            node_id = _link(next((inputs[n] for n in LATENT_INPUTS if n in inputs), None))
        seen: set[str] = set()
        while self._enter(node_id, seen):
            class_type, latent = self.types[node_id], self.inputs[node_id]
            if ("width" in latent and "height" in latent) and (
                node_id == sampler or "LatentImage" in class_type or ("Empty" in class_type and "Latent" in class_type)
            ):
                self._add("width", "Width", node_id, "width", group="Size")
                self._add("height", "Height", node_id, "height", group="Size")
                self._add("batch_size", "Batch size", node_id, "batch_size", group="Size")
                return
            node_id = next((t for n in LATENT_INPUTS if (t := _link(latent.get(n))) is not None), None)

    # Model chain.

    def _model_chain(self, value: Any) -> None:
        loras: list[str] = []
        seen: set[str] = set()
        node_id = _link(value)
        while self._enter(node_id, seen):
            inputs = self.inputs[node_id]
            if "lora_name" in inputs:
                loras.append(node_id)
            loader = next((n for n in ("ckpt_name", "unet_name") if n in inputs), None)
            if loader == "ckpt_name":
                self._add("checkpoint", "Checkpoint", node_id, loader, group="Model", source="checkpoints")
                break
            if loader == "unet_name":
                self._add("unet_name", "Diffusion model", node_id, loader, group="Model", source="diffusion_models")
                break
            node_id = _link(inputs.get("model"))
            if node_id is None:
                node_id = next((t for k, v in inputs.items() if k.startswith("model") and (t := _link(v))), None)
        for node_id in reversed(loras):  # in the order they apply, the one nearest the loader first
            if (node_id, "lora_name") in self.taken or _link(self.inputs[node_id]["lora_name"]) is not None:
                continue
            self.loras += 1
            name, label = f"lora_{self.loras}", f"LoRA {self.loras}"
            self._add(name, label, node_id, "lora_name", group="LoRAs", source="loras")
            self._add(f"{name}_strength", f"{label} strength", node_id, "strength_model", group="LoRAs")
            self._add(f"{name}_clip_strength", f"{label} CLIP strength", node_id, "strength_clip", group="LoRAs")

    # Making parameters.

    def _add(
        self,
        name: str,
        label: str,
        node_id: str,
        input_name: str,
        *,
        group: str,
        kind: str | None = None,
        source: str | None = None,
        text: bool = False,
    ) -> Parameter | None:
        """A parameter for one literal input; the existing one when another walk already took that input."""
        inputs = self.inputs.get(node_id, {})
        if input_name not in inputs:
            return None
        value = inputs[input_name]
        if isinstance(value, list | dict | tuple):
            return None  # a link (or something no widget holds)
        if (node_id, input_name) in self.taken:
            return self.taken[(node_id, input_name)]
        spec_kind, options, choices = input_spec(self.object_info, self.types[node_id], input_name)
        param = Parameter(
            name=_unique(name, self.names),
            label=label,
            type=kind or _param_type(spec_kind, options, value, text),
            default=value,
            group=group,
            order=len(self.params),
            targets=[(node_id, input_name)],
        )
        if param.type in ("int", "float", "seed"):
            param.min, param.max, param.step = (_number(options.get(k)) for k in ("min", "max", "step"))
            if param.type != "float":
                param.min, param.max, param.step = (_whole(v) for v in (param.min, param.max, param.step))
        if param.type == "seed":
            param.min = 0 if param.min is None else param.min
            param.max = SEED_MAX if param.max is None else param.max
        if param.type == "choice":
            param.choices = list(choices or [])
            param.choice_source = source or model_folder(self.types[node_id], input_name) or "fixed"
        param.required = value is None
        self.params.append(param)
        self.names[param.name] = param
        self.taken[(node_id, input_name)] = param
        return param


def _param_type(kind: str | None, options: dict[str, Any], value: Any, text: bool) -> str:
    if kind == "COMBO":
        return "choice"
    if kind == "INT":
        return "int"
    if kind == "FLOAT":
        return "float"
    if kind == "BOOLEAN":
        return "boolean"
    if kind == "STRING":
        return "text" if text or options.get("multiline") is True else "string"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    return "text" if text else "string"


def _pick(inputs: dict[str, Any], names: Iterable[str], fallback: dict[str, Any], fallback_names: Iterable[str]) -> Any:
    for source, keys in ((inputs, names), (fallback, fallback_names)):
        for key in keys:
            if key in source:
                return source[key]
    return None


def _unique(name: str, taken: Mapping[str, Any]) -> str:
    if name not in taken:
        return name
    number = 2
    while f"{name}_{number}" in taken:
        number += 1
    return f"{name}_{number}"


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _number(value: Any) -> int | float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _whole(value: int | float | None) -> int | None:
    if value is None:
        return None
    return int(value) if float(value).is_integer() else None


def _as_number(value: Any, kind: str) -> int | float | None:
    number = _number(value)
    if number is None:
        return None
    if kind == "int":
        return int(number) if float(number).is_integer() else None
    return float(number)
