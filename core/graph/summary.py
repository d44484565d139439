"""Standard generation fields read out of a ComfyUI API-format prompt graph.

A graph is ``{node_id: {"class_type": str, "inputs": {...}}}`` where an input
holding ``[node_id, output_index]`` is a link. :func:`summarize` picks the sampler
that made the image (a known sampler class first, then any node with
``positive``/``negative``/``model``, then any seeded node that looks like one;
preferring one that feeds an output node, then a first pass over a refiner pass,
then the lowest node id) and follows its links:

- ``positive``/``negative`` through conditioning nodes to text encoders (several texts, as
  from ConditioningCombine, are joined with newlines; ConditioningZeroOut carries none);
- ``model`` through LoRA loaders and model patches to a checkpoint/UNet loader;
- ``latent_image`` through latent nodes to an empty latent (its width and height);
- ``noise``, ``guider``, ``sampler`` and ``sigmas`` of SamplerCustomAdvanced-style
  graphs to RandomNoise, CFGGuider, KSamplerSelect and BasicScheduler.

Any value may itself be a link to a primitive or CozyGen input node. The values
recorded in CozyGen's ``params`` map win over the graph. Without a sampler, the
model is the first loader, the LoRAs every LoRA loader's and the positive prompt
the longest encoder text (the seed-004 rule).

Hostile graphs cannot loop or stall: every walk has a visited set and a depth
limit, all walks of one summary share a budget of link hops, and a graph of more
than ``MAX_NODES`` nodes is not read. Bad graphs give ``None`` fields, never an
exception.
"""

from __future__ import annotations

import json
import math
from collections import deque
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Any

import orjson

from ..json_depth import too_deep
from ..media.metadata import CHUNK

FIELDS = (
    "positive",
    "negative",
    "seed",
    "steps",
    "cfg",
    "sampler",
    "scheduler",
    "denoise",
    "model",
    "loras",
    "width",
    "height",
)
MAX_DEPTH = 64  # links followed in one walk
MAX_HOPS = 20_000  # links followed in one summary, all walks together
MAX_NODES = 10_000  # a larger graph is not read at all
KNOWN_SAMPLERS = frozenset({"KSampler", "KSamplerAdvanced", "SamplerCustom", "SamplerCustomAdvanced"})
SAMPLER_HINTS = ("steps", "cfg", "model", "positive", "latent_image", "guider", "sampler_name")
HELPER_INPUTS = ("guider", "noise", "sampler", "sigmas")  # what they point at is part of a sampler, not one
OUTPUT_WORDS = ("save", "preview", "output", "videocombine")
TEXT_INPUTS = ("text", "t5xxl", "text_g", "clip_l", "text_l", "prompt")
ZERO_CONDITIONING = frozenset({"ConditioningZeroOut"})
LATENT_INPUTS = ("samples", "latent_image", "latent")
LORA_STRENGTHS = ("strength_model", "strength_clip", "strength")
STRING_SOURCES = ("text", "value", "string", "default_value", "prompt")
INT_SOURCES = ("value", "default_value", "seed", "noise_seed", "int", "number")
FLOAT_SOURCES = ("value", "default_value", "float", "number")
PARAM_FIELDS = {
    **dict.fromkeys(("positiveprompt", "positive", "prompt", "positivetext"), "positive"),
    **dict.fromkeys(("negativeprompt", "negative", "negativetext"), "negative"),
    **dict.fromkeys(("seed", "noiseseed"), "seed"),
    **dict.fromkeys(("steps",), "steps"),
    **dict.fromkeys(("cfg", "cfgscale"), "cfg"),
    **dict.fromkeys(("sampler", "samplername"), "sampler"),
    **dict.fromkeys(("scheduler",), "scheduler"),
    **dict.fromkeys(("denoise",), "denoise"),
    **dict.fromkeys(("model", "modelname", "checkpoint", "ckpt", "ckptname", "unetname"), "model"),
    **dict.fromkeys(("lora", "loraname", "loras"), "loras"),
    **dict.fromkeys(("width",), "width"),
    **dict.fromkeys(("height",), "height"),
}

Accept = Callable[[Any], Any]


def summarize(prompt: Any, params: dict | None = None) -> dict[str, Any]:
    """Every key of ``FIELDS``; ``loras`` is a list of names, the others a value or ``None``."""
    summary: dict[str, Any] = dict.fromkeys(FIELDS)
    summary["loras"] = []
    params = params if isinstance(params, dict) else {}
    if isinstance(prompt, dict) and len(prompt) <= MAX_NODES:
        _Graph(prompt, params).fill(summary)
    _apply_params(summary, params)
    return summary


def seed_meta(summary: dict) -> dict:
    """The seed-004 gallery ``meta``: model, prompt (the positive text), loras, or only ``has_prompt``."""
    model, prompt = _as_str(summary.get("model")), _as_str(summary.get("positive"))
    loras = summary.get("loras")
    loras = [name for name in loras if _as_str(name)] if isinstance(loras, list) else []
    if not (model or prompt or loras):
        return {"has_prompt": True}
    return {"model": model, "prompt": prompt, "loras": loras, "has_prompt": True}


def parse_prompt_text(text: str | None) -> dict | None:
    """The API-format graph in a PNG ``prompt`` chunk, or ``None`` unless it is a dict of nodes."""
    if not isinstance(text, str) or not text:
        return None
    value = _loads(text)
    return value if _is_graph(value) else None


def summarize_png_text(text: dict[str, str]) -> tuple[dict | None, dict[str, Any]]:
    """(graph, summary) from a PNG's text chunks: ``prompt`` (or ``extra_pnginfo``'s) and the ``cozygen`` params."""
    text = text if isinstance(text, dict) else {}
    graph = parse_prompt_text(text.get("prompt"))
    if graph is None:
        extra = _json_dict(text.get("extra_pnginfo"))
        inner = extra.get("prompt")
        graph = inner if _is_graph(inner) else parse_prompt_text(inner)
    params = _json_dict(text.get(CHUNK)).get("params")
    return graph, summarize(graph, params if isinstance(params, dict) else None)


class _Graph:
    def __init__(self, prompt: dict, params: dict) -> None:
        self.inputs: dict[str, dict[str, Any]] = {}
        self.types: dict[str, str] = {}
        for node_id, node in prompt.items():
            if not isinstance(node, dict):
                continue
            inputs = node.get("inputs")
            class_type = node.get("class_type")
            node_id = node_id if isinstance(node_id, str) else str(node_id)
            self.inputs[node_id] = inputs if isinstance(inputs, dict) else {}  # keys may be non-strings
            self.types[node_id] = class_type if isinstance(class_type, str) else ""
        self.params = params
        self.hops = MAX_HOPS

    def _enter(self, node_id: str | None, seen: set[str], depth: int) -> bool:
        """Whether a walk may step onto ``node_id``: an existing node, not yet seen, within both limits."""
        if node_id is None or node_id in seen or depth >= MAX_DEPTH or node_id not in self.inputs or self.hops <= 0:
            return False
        self.hops -= 1
        seen.add(node_id)
        return True

    def fill(self, summary: dict[str, Any]) -> None:
        sampler = self._pick_sampler()
        if sampler is None:
            texts = [t for node_id in self._by_id() if (t := self._encoder_text(self.inputs[node_id], 0))]
            summary["positive"] = max(texts, key=len, default=None)
            for node_id in self._by_id():
                self._collect_loras(self.inputs[node_id], summary["loras"])
        else:
            self._read_sampler(self.inputs[sampler], summary)
            if summary["positive"] is None:  # an all-in-one node that takes its prompt itself
                summary["positive"] = self._encoder_text(self.inputs[sampler], 0)
        if summary["model"] is None:
            summary["model"] = next(
                filter(None, (self._loader_name(self.inputs[n], False) for n in self._by_id())), None
            )

    # Choosing the sampler.

    def _pick_sampler(self) -> str | None:
        tiers = {node_id: tier for node_id in self.inputs if (tier := self._tier(node_id)) is not None}
        for inputs in self.inputs.values():
            for name in HELPER_INPUTS:
                if name in inputs:
                    tiers.pop(_link(inputs[name]) or "", None)
        if not tiers:
            return None
        if len(tiers) == 1:  # the common case: nothing to choose between
            return next(iter(tiers))
        feeding = self._upstream(n for n in self.inputs if _is_output(self.types[n]))
        best = min((node_id not in feeding, tier) for node_id, tier in tiers.items())
        tied = sorted((n for n, t in tiers.items() if (n not in feeding, t) == best), key=_id_key)
        if len(tied) > 1:  # prefer a first pass to a refiner/hires pass that another sampler feeds
            fed = self._downstream(tiers.keys())
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
        if ("seed" in inputs or "noise_seed" in inputs) and any(name in inputs for name in SAMPLER_HINTS):
            return 2
        return None

    def _upstream(self, starts: Iterable[str]) -> set[str]:
        return upstream(self.inputs, starts)

    def _downstream(self, sources: Iterable[str]) -> set[str]:
        """Nodes fed, through one link or more, by any of ``sources``."""
        consumers: dict[str, list[str]] = {}
        for node_id, inputs in self.inputs.items():
            for value in inputs.values():
                target = _link(value)
                if target is not None:
                    consumers.setdefault(target, []).append(node_id)
        fed: set[str] = set()
        queue = deque(sources)
        while queue:
            for consumer in consumers.get(queue.popleft(), ()):
                if consumer not in fed:
                    fed.add(consumer)
                    queue.append(consumer)
        return fed

    def _by_id(self) -> list[str]:
        return sorted(self.inputs, key=_id_key)

    # Reading the chosen sampler.

    def _read_sampler(self, inputs: dict[str, Any], summary: dict[str, Any]) -> None:
        guider = self._linked(inputs.get("guider"))
        noise = self._linked(inputs.get("noise"))
        chooser = self._linked(inputs.get("sampler"))
        schedule = self._schedule(inputs.get("sigmas"))
        summary["seed"] = self._scalar(
            [(inputs, "seed"), (inputs, "noise_seed"), (noise, "noise_seed"), (noise, "seed")], _as_int, INT_SOURCES
        )
        summary["steps"] = self._scalar([(inputs, "steps"), (schedule, "steps")], _as_int, INT_SOURCES)
        summary["cfg"] = self._scalar([(inputs, "cfg"), (guider, "cfg")], _as_float, FLOAT_SOURCES)
        summary["sampler"] = self._scalar(
            [(inputs, "sampler_name"), (chooser, "sampler_name")], _as_str, STRING_SOURCES
        )
        summary["scheduler"] = self._scalar([(inputs, "scheduler"), (schedule, "scheduler")], _as_str, STRING_SOURCES)
        summary["denoise"] = self._scalar([(inputs, "denoise"), (schedule, "denoise")], _as_float, FLOAT_SOURCES)
        for side, guider_inputs in (("positive", ("positive", "conditioning", "cond1")), ("negative", ("negative",))):
            value = _pick(inputs, (side,), guider, guider_inputs)
            summary[side] = "\n".join(self._texts(value, side, 0, set())) or None
        summary["model"] = self._model_chain(_pick(inputs, ("model",), guider, ("model",)), summary["loras"])
        latent = next((inputs[name] for name in LATENT_INPUTS if name in inputs), None)
        summary["width"], summary["height"] = self._latent_size(latent)

    def _linked(self, value: Any) -> dict[str, Any]:
        return self.inputs.get(_link(value) or "", {})

    def _schedule(self, value: Any) -> dict[str, Any]:
        """Inputs of the node that made the sigmas (BasicScheduler & co), through SplitSigmas-style nodes."""
        seen: set[str] = set()
        node_id = _link(value)
        while self._enter(node_id, seen, len(seen)):
            inputs = self.inputs[node_id]
            if "steps" in inputs or "scheduler" in inputs:
                return inputs
            node_id = _link(inputs.get("sigmas"))
        return {}

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
        node_id = _link(value)
        seen = set() if seen is None else seen
        if not self._enter(node_id, seen, depth):
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
        direct = _as_str(value)
        if direct is not None:
            return [direct]
        node_id = _link(value)
        if not self._enter(node_id, seen, depth):
            return []
        inputs = self.inputs[node_id]
        if self.types[node_id] in ZERO_CONDITIONING:
            return []
        own = _as_str(inputs.get(side))  # loaders that take the prompt as a string (Efficient Loader)
        text = own if own is not None else self._encoder_text(inputs, depth)
        if text is not None:
            return [text]
        if _link(inputs.get(side)) is not None:
            upstream = [side]
        else:
            upstream = [
                k for k in inputs if isinstance(k, str) and "cond" in k.lower() and k not in ("positive", "negative")
            ]
        texts: list[str] = []
        for name in upstream:
            for found in self._texts(inputs[name], side, depth + 1, seen):
                if found not in texts:
                    texts.append(found)
        return texts

    def _encoder_text(self, inputs: dict[str, Any], depth: int) -> str | None:
        for name in TEXT_INPUTS:
            if name in inputs:
                text = self._value(inputs[name], (name, *STRING_SOURCES), _as_str, depth + 1)
                if text is not None:
                    return text
        return None

    # Model and LoRAs.

    def _model_chain(self, value: Any, loras: list[str]) -> str | None:
        """The loader at the top of the model chain; adds the LoRAs met on the way, in the order they apply."""
        met: list[list[str]] = []
        model = None
        seen: set[str] = set()
        node_id = _link(value)
        while self._enter(node_id, seen, len(seen)):
            inputs = self.inputs[node_id]
            met.append([])
            self._collect_loras(inputs, met[-1])
            model = self._loader_name(inputs, True)
            if model is not None:
                break
            node_id = _link(inputs.get("model"))
            if node_id is None:
                node_id = next(
                    filter(None, (_link(v) for k, v in inputs.items() if isinstance(k, str) and k.startswith("model"))),
                    None,
                )
        for name in (name for names in reversed(met) for name in names):
            if name not in loras:
                loras.append(name)
        return model

    def _loader_name(self, inputs: dict[str, Any], model_name: bool) -> str | None:
        for key, value in inputs.items():
            if not isinstance(key, str):
                continue
            if key.endswith(("ckpt_name", "unet_name")) or (model_name and key == "model_name"):
                name = self._value(value, (key, *STRING_SOURCES), _as_name)
                if name is not None:
                    return name
        return None

    def _collect_loras(self, inputs: dict[str, Any], loras: list[str]) -> None:
        found: list[str | None] = []
        if not _all_zero(inputs.get(k) for k in LORA_STRENGTHS if k in inputs):
            found += [
                self._value(v, (k, *STRING_SOURCES), _as_name)
                for k, v in inputs.items()
                if isinstance(k, str) and "lora_name" in k
            ]
        for entry in inputs.values():  # rgthree Power Lora Loader: {"on": bool, "lora": name, "strength": float}
            if (
                isinstance(entry, dict)
                and entry.get("on", True) is not False
                and not _all_zero([entry.get("strength")])
            ):
                found.append(_as_name(entry.get("lora")))
        for name in found:
            if name is not None and name not in loras:
                loras.append(name)

    # Size.

    def _latent_size(self, value: Any) -> tuple[int | None, int | None]:
        """Width and height of the node that started the latent (None for VAEEncode: an image's size is not known)."""
        seen: set[str] = set()
        node_id = _link(value)
        while self._enter(node_id, seen, len(seen)):
            inputs = self.inputs[node_id]
            source = next((t for name in LATENT_INPUTS if (t := _link(inputs.get(name))) is not None), None)
            if source is None:
                width = self._scalar([(inputs, "width")], _as_int, INT_SOURCES)
                return width, self._scalar([(inputs, "height")], _as_int, INT_SOURCES)
            node_id = source
        return None, None


def _link(value: Any) -> str | None:
    """The node id a ``[node_id, output_index]`` link points at, or None when ``value`` is no link."""
    if value.__class__ not in (list, tuple) or len(value) != 2 or value[1].__class__ is not int:
        return None  # exact classes: a bool is no index and no node id
    node_id = value[0]
    if node_id.__class__ is str:
        return node_id
    return str(node_id) if node_id.__class__ is int else None


@lru_cache(maxsize=1024)
def _is_output(class_type: str) -> bool:
    lowered = class_type.lower()
    return any(word in lowered for word in OUTPUT_WORDS)


def _pick(
    inputs: dict[str, Any], names: tuple[str, ...], fallback: dict[str, Any], fallback_names: tuple[str, ...]
) -> Any:
    """The first present of ``names`` in ``inputs``, else of ``fallback_names`` in ``fallback`` (a guider)."""
    for source, keys in ((inputs, names), (fallback, fallback_names)):
        for key in keys:
            if key in source:
                return source[key]
    return None


def _id_key(node_id: str) -> tuple[int, tuple[int, ...], str]:
    parts = node_id.split(":")
    if all(part.isdigit() for part in parts):
        return 0, tuple(int(part) for part in parts), ""
    return 1, (), node_id


def _is_graph(value: Any) -> bool:
    return isinstance(value, dict) and any(isinstance(n, dict) and "class_type" in n for n in value.values())


def _json_dict(text: Any) -> dict:
    if isinstance(text, dict):
        return text
    if not isinstance(text, str):
        return {}
    value = _loads(text)
    return value if isinstance(value, dict) else {}


def _loads(text: str) -> Any:
    """JSON fast (orjson), or through the standard library for what orjson refuses (NaN, huge ints); None for
    JSON nested past ``json_depth.MAX_DEPTH`` (it could not be written back in a reply)."""
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        try:
            value = json.loads(text, parse_int=_json_int)
        except (ValueError, RecursionError):
            return None
    return None if too_deep(text, value) else value


def _json_int(digits: str) -> int | float:
    """A JSON integer as orjson reads it: past 64 bits, a float (orjson could not write the int back)."""
    value = int(digits)
    return value if -(2**63) <= value < 2**64 else float(value)


def upstream(inputs: dict[str, dict[str, Any]], starts: Iterable[str]) -> set[str]:
    """``starts`` and every node they are fed from, through one link or more."""
    seen = set(starts)
    queue = deque(seen)
    while queue:
        for value in inputs.get(queue.popleft(), {}).values():
            target = _link(value)
            if target is not None and target not in seen and target in inputs:
                seen.add(target)
                queue.append(target)
    return seen


def _all_zero(values: Iterable[Any]) -> bool:
    numbers = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
    return bool(numbers) and all(v == 0 for v in numbers)


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _as_float(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _as_str(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _as_name(value: Any) -> str | None:
    """A file name from a choice input; the choice ``None`` means no file."""
    name = _as_str(value)
    return None if name is None or name.strip().lower() == "none" else name


# CozyGen params.


def _param_int(value: Any) -> int | None:
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return _as_int(value)


def _param_float(value: Any) -> float | None:
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    return _as_float(value)


_PARAM_COERCE: dict[str, Accept] = {
    **dict.fromkeys(("positive", "negative", "sampler", "scheduler"), _as_str),
    **dict.fromkeys(("seed", "steps", "width", "height"), _param_int),
    **dict.fromkeys(("cfg", "denoise"), _param_float),
    "model": _as_name,
}


def _apply_params(summary: dict[str, Any], params: dict) -> None:
    for key, value in params.items():
        field = (
            PARAM_FIELDS.get(key.lower().replace(" ", "").replace("_", "").replace("-", ""))
            if isinstance(key, str)
            else None
        )
        if field == "loras":
            for name in value if isinstance(value, list) else [value]:
                if _as_name(name) is not None and name not in summary["loras"]:
                    summary["loras"].append(name)
        elif field is not None:
            coerced = _PARAM_COERCE[field](value)
            if coerced is not None:
                summary[field] = coerced
