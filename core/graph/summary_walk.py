"""The walks behind :func:`core.graph.summary.summarize`: which sampler made the image, and what reaches it.

:class:`SummaryWalk` picks the sampler (a known sampler class first, then any node with
``positive``/``negative``/``model``, then any seeded node that looks like one; preferring one
that feeds an output node, then a first pass over a refiner pass, then the lowest node id) and
follows its links:

- ``positive``/``negative`` through conditioning nodes to text encoders (several texts, as
  from ConditioningCombine, are joined with newlines; ConditioningZeroOut carries none);
- ``model`` through LoRA loaders and model patches to a checkpoint/UNet loader;
- ``latent_image`` through latent nodes to an empty latent (its width and height);
- ``noise``, ``guider``, ``sampler`` and ``sigmas`` of SamplerCustomAdvanced-style
  graphs to RandomNoise, CFGGuider, KSamplerSelect and BasicScheduler.

Any value may itself be a link to a primitive or CozyGen input node. Without a sampler, the
model is the first loader, the LoRAs every LoRA loader's and the positive prompt the longest
encoder text (the seed-004 rule). Every walk goes through :meth:`Walk.enter` (a visited set,
a depth limit and the graph's budget of hops).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from functools import lru_cache
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
    downstream,
    first_link,
    id_key,
    link,
    model_source,
    pick,
    upstream,
)

SAMPLER_HINTS = ("steps", "cfg", "model", "positive", "latent_image", "guider", "sampler_name")
OUTPUT_WORDS = ("save", "preview", "output", "videocombine")
LORA_STRENGTHS = ("strength_model", "strength_clip", "strength")
STRING_SOURCES = ("text", "value", "string", "default_value", "prompt")
INT_SOURCES = ("value", "default_value", "seed", "noise_seed", "int", "number")
FLOAT_SOURCES = ("value", "default_value", "float", "number")

Accept = Callable[[Any], Any]


class SummaryWalk(Walk):
    """Fills a summary from one graph; ``params`` are CozyGen's recorded values (they answer CozyGen input nodes)."""

    def __init__(self, prompt: dict, params: dict) -> None:
        super().__init__(prompt)
        self.params = params

    def fill(self, summary: dict[str, Any]) -> None:
        sampler = self._pick_sampler()
        if sampler is None:
            texts = [t for node_id in self.by_id() if (t := self._encoder_text(self.inputs[node_id], 0))]
            summary["positive"] = max(texts, key=len, default=None)
            for node_id in self.by_id():
                self._collect_loras(self.inputs[node_id], summary["loras"])
        else:
            self._read_sampler(self.inputs[sampler], summary)
            if summary["positive"] is None:  # an all-in-one node that takes its prompt itself
                summary["positive"] = self._encoder_text(self.inputs[sampler], 0)
        if summary["model"] is None:
            summary["model"] = next(
                filter(None, (self._loader_name(self.inputs[n], False) for n in self.by_id())), None
            )

    # Choosing the sampler.

    def _pick_sampler(self) -> str | None:
        tiers = {node_id: tier for node_id in self.inputs if (tier := self._tier(node_id)) is not None}
        for inputs in self.inputs.values():
            for name in HELPER_INPUTS:
                if name in inputs:
                    tiers.pop(link(inputs[name]) or "", None)
        if not tiers:
            return None
        if len(tiers) == 1:  # the common case: nothing to choose between
            return next(iter(tiers))
        feeding = upstream(self.inputs, (n for n in self.inputs if _is_output(self.types[n])))
        best = min((node_id not in feeding, tier) for node_id, tier in tiers.items())
        tied = sorted((n for n, t in tiers.items() if (n not in feeding, t) == best), key=id_key)
        if len(tied) > 1:  # prefer a first pass to a refiner/hires pass that another sampler feeds
            fed = downstream(self.inputs, tiers.keys())
            tied = [n for n in tied if n not in fed] or tied
        return tied[0]

    def _tier(self, node_id: str) -> int | None:
        class_type, inputs = self.types[node_id], self.inputs[node_id]
        if class_type in KNOWN_SAMPLERS:
            return 0
        if class_type.endswith("Guider"):
            return None
        if "positive" in inputs and "negative" in inputs and "model" in inputs:
            return 1
        if any(name in inputs for name in SEED_INPUTS) and any(name in inputs for name in SAMPLER_HINTS):
            return 2
        return None

    # Reading the chosen sampler.

    def _read_sampler(self, inputs: dict[str, Any], summary: dict[str, Any]) -> None:
        guider = self._linked(inputs.get("guider"))
        noise = self._linked(inputs.get("noise"))
        chooser = self._linked(inputs.get("sampler"))
        scheduler_id = self.schedule(inputs.get("sigmas"))
        schedule = self.inputs[scheduler_id] if scheduler_id is not None else {}
        summary["seed"] = self._scalar(
            [(inputs, "seed"), (inputs, "noise_seed"), (noise, "noise_seed"), (noise, "seed")], as_int, INT_SOURCES
        )
        summary["steps"] = self._scalar([(inputs, "steps"), (schedule, "steps")], as_int, INT_SOURCES)
        summary["cfg"] = self._scalar([(inputs, "cfg"), (guider, "cfg")], as_float, FLOAT_SOURCES)
        summary["sampler"] = self._scalar([(inputs, "sampler_name"), (chooser, "sampler_name")], as_str, STRING_SOURCES)
        summary["scheduler"] = self._scalar([(inputs, "scheduler"), (schedule, "scheduler")], as_str, STRING_SOURCES)
        summary["denoise"] = self._scalar([(inputs, "denoise"), (schedule, "denoise")], as_float, FLOAT_SOURCES)
        for side, guider_inputs in (("positive", ("positive", "conditioning", "cond1")), ("negative", ("negative",))):
            value = pick(inputs, (side,), guider, guider_inputs)
            summary[side] = "\n".join(self._texts(value, side, 0, set())) or None
        summary["model"] = self._model_chain(pick(inputs, ("model",), guider, ("model",)), summary["loras"])
        latent = next((inputs[name] for name in LATENT_INPUTS if name in inputs), None)
        summary["width"], summary["height"] = self._latent_size(latent)

    def _linked(self, value: Any) -> dict[str, Any]:
        return self.inputs.get(link(value) or "", {})

    def _scalar(self, sources: list[tuple[dict[str, Any], str]], accept: Accept, names: tuple[str, ...]) -> Any:
        for inputs, name in sources:
            if name in inputs:
                found = self._value(inputs[name], (name, *names), accept)
                if found is not None:
                    return found
        return None

    def _value(
        self, value: Any, names: tuple[str, ...], accept: Accept, depth: int = 0, seen: set | None = None
    ) -> Any:
        """``value`` itself if ``accept`` takes it, else the value of the node it links to (through ``names``)."""
        found = accept(value)
        if found is not None:
            return found
        node_id = link(value)
        seen = set() if seen is None else seen
        if not self.enter(node_id, seen, depth):
            return None
        inputs = self.inputs[node_id]
        param = inputs.get("param_name")
        if self.types[node_id].startswith("CozyGen") and isinstance(param, str) and param in self.params:
            found = accept(self.params[param])
            if found is not None:
                return found
        for name in names:
            if name in inputs:
                found = self._value(inputs[name], names, accept, depth + 1, seen)
                if found is not None:
                    return found
        return None

    # Prompts.

    def _texts(self, value: Any, side: str, depth: int, seen: set[str]) -> list[str]:
        """Prompt texts that reach a sampler's ``side`` input through ``value``, in order, without repeats."""
        direct = as_str(value)
        if direct is not None:
            return [direct]
        node_id = link(value)
        if not self.enter(node_id, seen, depth):
            return []
        inputs = self.inputs[node_id]
        if self.types[node_id] in ZERO_CONDITIONING:
            return []
        own = as_str(inputs.get(side))  # loaders that take the prompt as a string (Efficient Loader)
        text = own if own is not None else self._encoder_text(inputs, depth)
        if text is not None:
            return [text]
        texts: list[str] = []
        for name in conditioning_inputs(inputs, side):
            for found in self._texts(inputs[name], side, depth + 1, seen):
                if found not in texts:
                    texts.append(found)
        return texts

    def _encoder_text(self, inputs: dict[str, Any], depth: int) -> str | None:
        for name in TEXT_INPUTS:
            if name in inputs:
                text = self._value(inputs[name], (name, *STRING_SOURCES), as_str, depth + 1)
                if text is not None:
                    return text
        return None

    # Model and LoRAs.

    def _model_chain(self, value: Any, loras: list[str]) -> str | None:
        """The loader at the top of the model chain; adds the LoRAs met on the way, in the order they apply."""
        met: list[list[str]] = []
        model = None
        seen: set[str] = set()
        node_id = link(value)
        while self.enter(node_id, seen, len(seen)):
            inputs = self.inputs[node_id]
            met.append([])
            self._collect_loras(inputs, met[-1])
            model = self._loader_name(inputs, True)
            if model is not None:
                break
            node_id = model_source(inputs)
        for name in (name for names in reversed(met) for name in names):
            if name not in loras:
                loras.append(name)
        return model

    def _loader_name(self, inputs: dict[str, Any], model_name: bool) -> str | None:
        for key, value in inputs.items():
            if not isinstance(key, str):
                continue
            if key.endswith(LOADER_INPUTS) or (model_name and key == "model_name"):
                name = self._value(value, (key, *STRING_SOURCES), as_name)
                if name is not None:
                    return name
        return None

    def _collect_loras(self, inputs: dict[str, Any], loras: list[str]) -> None:
        found: list[str | None] = []
        if not all_zero(inputs.get(k) for k in LORA_STRENGTHS if k in inputs):
            found += [
                self._value(v, (k, *STRING_SOURCES), as_name)
                for k, v in inputs.items()
                if isinstance(k, str) and "lora_name" in k
            ]
        for entry in inputs.values():  # rgthree Power Lora Loader: {"on": bool, "lora": name, "strength": float}
            if isinstance(entry, dict) and entry.get("on", True) is not False and not all_zero([entry.get("strength")]):
                found.append(as_name(entry.get("lora")))
        for name in found:
            if name is not None and name not in loras:
                loras.append(name)

    # Size.

    def _latent_size(self, value: Any) -> tuple[int | None, int | None]:
        """Width and height of the node that started the latent (None for VAEEncode: an image's size is not known)."""
        seen: set[str] = set()
        node_id = link(value)
        while self.enter(node_id, seen, len(seen)):
            inputs = self.inputs[node_id]
            source = first_link(inputs, LATENT_INPUTS)
            if source is None:
                width = self._scalar([(inputs, "width")], as_int, INT_SOURCES)
                return width, self._scalar([(inputs, "height")], as_int, INT_SOURCES)
            node_id = source
        return None, None


@lru_cache(maxsize=1024)
def _is_output(class_type: str) -> bool:
    lowered = class_type.lower()
    return any(word in lowered for word in OUTPUT_WORDS)


def all_zero(values: Iterable[Any]) -> bool:
    """Whether ``values`` hold a number and every number is zero (a LoRA switched off)."""
    numbers = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
    return bool(numbers) and all(v == 0 for v in numbers)


# Accepting a value as a field's type (None: not one).


def as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def as_float(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def as_str(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def as_name(value: Any) -> str | None:
    """A file name from a choice input; the choice ``None`` means no file."""
    name = as_str(value)
    return None if name is None or name.strip().lower() == "none" else name
