"""The parameters of a workflow without CozyGen input nodes, read from its samplers.

For each sampler (KSampler, KSamplerAdvanced, SamplerCustom, SamplerCustomAdvanced with its
noise/guider/sampler/sigmas nodes): the prompts of the text encoders its conditioning comes
from, seed, steps, cfg (and a FluxGuidance guidance), sampler, scheduler, denoise, the empty
latent's size, the checkpoint or diffusion model and the LoRAs on its model chain; and every
LoadImage. With several samplers the second one's own parameters are named ``seed_2``,
``steps_2``… and grouped apart; a node they share (one checkpoint, one empty latent) gives one
parameter. An input that is a link is never a parameter. The walks go through
:meth:`core.graph.links.Walk.enter`, so a hostile graph cannot loop or stall.
"""

from __future__ import annotations

from typing import Any

from .links import (
    HELPER_INPUTS,
    KNOWN_SAMPLERS,
    LATENT_INPUTS,
    LOADER_INPUTS,
    SEED_INPUTS,
    TEXT_INPUTS,
    ZERO_CONDITIONING,
    Walk,
    conditioning_inputs,
    first_link,
    id_key,
    link,
    model_source,
    pick,
    upstream,
)
from .node_values import SEED_MAX
from .object_info import input_spec, model_folder
from .parameter import Parameter, finite_number, unique_name, whole_number

MAX_ORDERED_SAMPLERS = 64  # beyond this many samplers, node id order (no upstream walks)
LOAD_IMAGE_NODES = frozenset({"LoadImage", "LoadImageMask"})


class GraphSchema(Walk):
    """Builds the parameters of one API-format workflow (already checked by ``ensure_api_format``)."""

    def __init__(self, workflow: dict, object_info: dict) -> None:
        super().__init__(workflow)
        self.object_info = object_info
        self.params: list[Parameter] = []
        self.names: dict[str, Parameter] = {}
        self.taken: dict[tuple[str, str], Parameter] = {}
        self.loras = 0

    def build(self) -> list[Parameter]:
        samplers = self._samplers()
        several = len(samplers) > 1
        for index, sampler in enumerate(samplers):
            suffix = f"_{index + 1}" if index else ""
            number = f" {index + 1}" if several else ""
            self._read_sampler(sampler, suffix, number)
        for node_id in self.by_id():
            if self.types[node_id] in LOAD_IMAGE_NODES:
                self._add("image", "Image", node_id, "image", group="Image", kind="image")
        return self.params

    # Finding the samplers.

    def _samplers(self) -> list[str]:
        found = [n for n in self.inputs if self.types[n] in KNOWN_SAMPLERS]
        if not found:  # sampler-like nodes (a seed and steps or cfg, e.g. CozyGen Procedural Image)
            helpers = {link(v) for ins in self.inputs.values() for k, v in ins.items() if k in HELPER_INPUTS}
            found = [
                n
                for n, ins in self.inputs.items()
                if n not in helpers
                and not self.types[n].endswith(("Guider", "Noise"))
                and any(name in ins for name in SEED_INPUTS)
                and any(name in ins for name in ("steps", "cfg", "sampler_name", "positive"))
            ]
        if len(found) < 2 or len(found) > MAX_ORDERED_SAMPLERS:
            return sorted(found, key=id_key)
        feeders = {n: upstream(self.inputs, [n]) - {n} for n in found}
        return sorted(found, key=lambda n: (sum(other in feeders[n] for other in found if other != n), id_key(n)))

    # One sampler.

    def _read_sampler(self, sampler: str, suffix: str, number: str) -> None:
        inputs = self.inputs[sampler]
        guider = link(inputs.get("guider"))
        noise = link(inputs.get("noise"))
        chooser = link(inputs.get("sampler"))
        schedule = self.schedule(inputs.get("sigmas"))
        guider_inputs = self.inputs.get(guider or "", {})
        prompt, sampling = f"Prompt{number}", f"Sampling{number}"
        label = f" (sampler{number})" if suffix else ""

        positive = pick(inputs, ("positive",), guider_inputs, ("positive", "conditioning", "cond1"))
        guidance = self._prompts(positive, "positive", suffix, prompt, "Positive prompt" + label)
        negative = pick(inputs, ("negative",), guider_inputs, ("negative",))
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
        model = pick(inputs, ("model",), guider_inputs, ("model",))
        if model is None and schedule is not None:
            model = self.inputs[schedule].get("model")
        self._model_chain(model)

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
            base = side + suffix if index == 0 else unique_name(side + suffix, self.names)
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
            if side == "positive" and finite_number(self.inputs[node_id].get("guidance")) is not None:
                return node_id, "guidance"
        return None

    def _walk_conditioning(
        self, value: Any, side: str, seen: set[str], encoders: list[str], guidance: list[tuple[str, str]]
    ) -> None:
        node_id = link(value)
        if not self.enter(node_id, seen, len(seen)):
            return
        inputs, class_type = self.inputs[node_id], self.types[node_id]
        if class_type in ZERO_CONDITIONING:
            return
        if any(name in inputs for name in TEXT_INPUTS):
            encoders.append(node_id)
            return
        if side == "positive" and "guidance" in inputs and "conditioning" in inputs:  # FluxGuidance
            guidance.append((node_id, "guidance"))
        for name in conditioning_inputs(inputs, side):
            self._walk_conditioning(inputs[name], side, seen, encoders, guidance)

    # Latent size.

    def _latent(self, sampler: str, inputs: dict[str, Any]) -> None:
        if "width" in inputs and "height" in inputs and not any(n in inputs for n in LATENT_INPUTS):
            node_id: str | None = sampler  # the sampler makes its own image (CozyGen Procedural Image)
        else:
            node_id = link(next((inputs[n] for n in LATENT_INPUTS if n in inputs), None))
        seen: set[str] = set()
        while self.enter(node_id, seen, len(seen)):
            class_type, latent = self.types[node_id], self.inputs[node_id]
            if ("width" in latent and "height" in latent) and (
                node_id == sampler or "LatentImage" in class_type or ("Empty" in class_type and "Latent" in class_type)
            ):
                self._add("width", "Width", node_id, "width", group="Size")
                self._add("height", "Height", node_id, "height", group="Size")
                self._add("batch_size", "Batch size", node_id, "batch_size", group="Size")
                return
            node_id = first_link(latent, LATENT_INPUTS)

    # Model chain.

    def _model_chain(self, value: Any) -> None:
        loras: list[str] = []
        seen: set[str] = set()
        node_id = link(value)
        while self.enter(node_id, seen, len(seen)):
            inputs = self.inputs[node_id]
            if "lora_name" in inputs:
                loras.append(node_id)
            loader = next((n for n in LOADER_INPUTS if n in inputs), None)
            if loader == "ckpt_name":
                self._add("checkpoint", "Checkpoint", node_id, loader, group="Model", source="checkpoints")
                break
            if loader == "unet_name":
                self._add("unet_name", "Diffusion model", node_id, loader, group="Model", source="diffusion_models")
                break
            node_id = model_source(inputs)
        for node_id in reversed(loras):  # in the order they apply, the one nearest the loader first
            if (node_id, "lora_name") in self.taken or link(self.inputs[node_id]["lora_name"]) is not None:
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
            name=unique_name(name, self.names),
            label=label,
            type=kind or _param_type(spec_kind, options, value, text),
            default=value,
            group=group,
            order=len(self.params),
            targets=[(node_id, input_name)],
        )
        if param.type in ("int", "float", "seed"):
            param.min, param.max, param.step = (finite_number(options.get(k)) for k in ("min", "max", "step"))
            if param.type != "float":
                param.min, param.max, param.step = (whole_number(v) for v in (param.min, param.max, param.step))
        if param.type == "seed":
            param.min = 0 if param.min is None else param.min
            param.max = SEED_MAX if param.max is None else param.max
            param.randomize = True  # as ComfyUI's own seed widgets start: a new seed per job, a new image per tap
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
