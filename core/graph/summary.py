"""Standard generation fields read out of a ComfyUI API-format prompt graph and CozyGen's recorded params.

:func:`summarize` fills ``FIELDS`` from the graph (the walks are :mod:`.summary_walk`'s: the
sampler that made the image and what reaches it), then the values recorded in CozyGen's
``params`` map win over the graph. :func:`summarize_png_text` reads both out of a PNG's text.

Hostile graphs cannot loop or stall: every walk has a visited set and a depth limit, all walks
of one summary share a budget of link hops (:mod:`.links`), and a graph of more than
``MAX_NODES`` nodes is not read. Bad graphs give ``None`` fields, never an exception.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

from ..json_depth import too_deep
from ..media.metadata import CHUNK
from .links import MAX_NODES
from .summary_walk import Accept, SummaryWalk, as_float, as_int, as_name, as_str

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


def summarize(prompt: Any, params: dict | None = None) -> dict[str, Any]:
    """Every key of ``FIELDS``; ``loras`` is a list of names, the others a value or ``None``."""
    summary: dict[str, Any] = dict.fromkeys(FIELDS)
    summary["loras"] = []
    params = params if isinstance(params, dict) else {}
    if isinstance(prompt, dict) and len(prompt) <= MAX_NODES:
        SummaryWalk(prompt, params).fill(summary)
    _apply_params(summary, params)
    return summary


def seed_meta(summary: dict) -> dict:
    """The seed-004 gallery ``meta``: model, prompt (the positive text), loras, or only ``has_prompt``."""
    model, prompt = as_str(summary.get("model")), as_str(summary.get("positive"))
    loras = summary.get("loras")
    loras = [name for name in loras if as_str(name)] if isinstance(loras, list) else []
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


# CozyGen params.


def _param_int(value: Any) -> int | None:
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return as_int(value)


def _param_float(value: Any) -> float | None:
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    return as_float(value)


_PARAM_COERCE: dict[str, Accept] = {
    **dict.fromkeys(("positive", "negative", "sampler", "scheduler"), as_str),
    **dict.fromkeys(("seed", "steps", "width", "height"), _param_int),
    **dict.fromkeys(("cfg", "denoise"), _param_float),
    "model": as_name,
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
                if as_name(name) is not None and name not in summary["loras"]:
                    summary["loras"].append(name)
        elif field is not None:
            coerced = _PARAM_COERCE[field](value)
            if coerced is not None:
                summary[field] = coerced
