"""What changed between two images' generations: seed, steps, cfg, sampler, prompts, LoRA strengths and the
other parameters a person compares, read from each image's metadata (``fields``, ``params`` and ``prompt`` as
``api/gallery.metadata_of`` gives them). Pure: no file or database is read here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..graph.summary import FIELDS, PARAM_FIELDS

STANDARD = tuple(name for name in FIELDS if name != "loras")  # each LoRA is compared on its own
MAX_NODES = 5000  # nodes of a graph looked through for LoRAs


def compare(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """``{"differences": [{name, a, b}], "same": [{name, value}]}``, in a fixed order: the standard fields, then
    each LoRA's strengths, then CozyGen's other parameters. A parameter neither image has is left out."""
    first, second = parameters(a), parameters(b)
    differences, same = [], []
    for name in [*first, *(n for n in second if n not in first)]:
        left, right = first.get(name), second.get(name)
        if left is None and right is None:
            continue
        if _equal(left, right):
            same.append({"name": name, "value": left})
        else:
            differences.append({"name": name, "a": left, "b": right})
    return {"differences": differences, "same": same}


def parameters(meta: Mapping[str, Any]) -> dict[str, Any]:
    """The comparable parameters of one image, by name."""
    fields = _mapping(meta.get("fields"))
    found: dict[str, Any] = {name: fields.get(name) for name in STANDARD}
    strengths = lora_strengths(meta.get("prompt"))
    loras = fields.get("loras")
    loras = loras if isinstance(loras, list) else []
    for name in [*strengths, *(n for n in loras if isinstance(n, str) and n not in strengths)]:
        model, clip = strengths.get(name, (True, None))  # a LoRA known by name alone: on, strength unknown
        found[f"lora:{name}"] = model
        if clip is not None:
            found[f"lora_clip:{name}"] = clip
    for key, value in _mapping(meta.get("params")).items():
        if isinstance(key, str) and _normal(key) not in PARAM_FIELDS:
            found[f"param:{key}"] = value
    return found


def lora_strengths(graph: Any) -> dict[str, tuple[Any, Any]]:
    """Each LoRA a graph loads (by file name) with its model and clip strengths (clip None when the node has
    none): LoraLoader, LoraLoaderModelOnly and their kin (any node with a ``lora_name`` input), and the entries
    of rgthree's Power Lora Loader (``{"on", "lora", "strength"}``; off ones skipped). A strength given by a link
    is not known here: the LoRA is then ``True`` (on)."""
    found: dict[str, tuple[Any, Any]] = {}
    if not isinstance(graph, Mapping) or len(graph) > MAX_NODES:
        return found
    for node in graph.values():
        inputs = node.get("inputs") if isinstance(node, Mapping) else None
        if not isinstance(inputs, Mapping):
            continue
        name = inputs.get("lora_name")
        if isinstance(name, str) and name and name.lower() != "none":
            model = _number(inputs.get("strength_model", inputs.get("strength")))
            found.setdefault(name, (True if model is None else model, _number(inputs.get("strength_clip"))))
        for entry in inputs.values():
            if isinstance(entry, Mapping) and isinstance(entry.get("lora"), str) and entry.get("on", True) is not False:
                if entry["lora"] and entry["lora"].lower() != "none":
                    model = _number(entry.get("strength"))
                    found.setdefault(
                        entry["lora"], (True if model is None else model, _number(entry.get("strengthTwo")))
                    )
    return found


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _number(value: Any) -> Any:
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def _normal(key: str) -> str:
    return key.lower().replace(" ", "").replace("_", "").replace("-", "")


def _equal(left: Any, right: Any) -> bool:
    if isinstance(left, bool) or isinstance(right, bool):
        return left is right
    return bool(left == right)
