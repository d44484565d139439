"""Reading an API-format graph: links, node id order, the walks' limits and the input names every reader shares.

A graph is ``{node_id: {"class_type": str, "inputs": {...}}}`` where an input holding
``[node_id, output_index]`` is a link. The summary (:mod:`.summary_walk`), the schema
(:mod:`.graph_params`), the check and the model lookup all read links and order nodes
through this module, and their walks share :class:`Walk`'s limits so a hostile graph
cannot loop or stall.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any, TypeGuard

MAX_DEPTH = 64  # links followed in one walk
MAX_HOPS = 20_000  # links followed in one reading of a graph, all walks together
MAX_NODES = 10_000  # a larger graph is not read at all

KNOWN_SAMPLERS = frozenset({"KSampler", "KSamplerAdvanced", "SamplerCustom", "SamplerCustomAdvanced"})
HELPER_INPUTS = ("guider", "noise", "sampler", "sigmas")  # what they point at is part of a sampler, not one
SEED_INPUTS = ("seed", "noise_seed")
TEXT_INPUTS = ("text", "t5xxl", "text_g", "clip_l", "text_l", "prompt")
ZERO_CONDITIONING = frozenset({"ConditioningZeroOut"})
LATENT_INPUTS = ("samples", "latent_image", "latent")
LOADER_INPUTS = ("ckpt_name", "unet_name")  # the inputs of a checkpoint or diffusion-model loader


def link(value: Any) -> str | None:
    """The node id a ``[node_id, output_index]`` link points at, or None when ``value`` is no link."""
    if value.__class__ not in (list, tuple) or len(value) != 2 or value[1].__class__ is not int:
        return None  # exact classes: a bool is no index and no node id
    node_id = value[0]
    if node_id.__class__ is str:
        return node_id
    return str(node_id) if node_id.__class__ is int else None


def id_key(node_id: str) -> tuple[int, tuple[int, ...], str]:
    """Sort key of node ids: numeric ones (``"4"``, subgraph ``"12:3"``) in number order, then the others by name."""
    parts = node_id.split(":")
    if all(part.isdigit() for part in parts):
        return 0, tuple(int(part) for part in parts), ""
    return 1, (), node_id


def first_link(inputs: Mapping[Any, Any], names: Iterable[str]) -> str | None:
    """The node the first of ``names`` that holds a link points at."""
    return next((target for name in names if (target := link(inputs.get(name))) is not None), None)


def model_source(inputs: Mapping[Any, Any]) -> str | None:
    """The node a model patch or LoRA loader takes its model from: ``model``, else any ``model*`` input."""
    node_id = link(inputs.get("model"))
    if node_id is None:
        node_id = next(
            filter(None, (link(v) for k, v in inputs.items() if isinstance(k, str) and k.startswith("model"))), None
        )
    return node_id


def conditioning_inputs(inputs: Mapping[Any, Any], side: str) -> list[Any]:
    """The inputs a conditioning node takes the ``side`` (positive/negative) conditioning from."""
    if link(inputs.get(side)) is not None:
        return [side]
    return [k for k in inputs if isinstance(k, str) and "cond" in k.lower() and k not in ("positive", "negative")]


def pick(
    inputs: Mapping[Any, Any], names: Iterable[str], fallback: Mapping[Any, Any], fallback_names: Iterable[str]
) -> Any:
    """The first present of ``names`` in ``inputs``, else of ``fallback_names`` in ``fallback`` (a guider)."""
    for source, keys in ((inputs, names), (fallback, fallback_names)):
        for key in keys:
            if key in source:
                return source[key]
    return None


def upstream(inputs: Mapping[str, Mapping[Any, Any]], starts: Iterable[str]) -> set[str]:
    """``starts`` and every node they are fed from, through one link or more."""
    seen = set(starts)
    queue = deque(seen)
    while queue:
        for value in inputs.get(queue.popleft(), {}).values():
            target = link(value)
            if target is not None and target not in seen and target in inputs:
                seen.add(target)
                queue.append(target)
    return seen


def downstream(inputs: Mapping[str, Mapping[Any, Any]], sources: Iterable[str]) -> set[str]:
    """Nodes fed, through one link or more, by any of ``sources``."""
    consumers: dict[str, list[str]] = {}
    for node_id, node_inputs in inputs.items():
        for value in node_inputs.values():
            target = link(value)
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


class Walk:
    """A graph read as node id → inputs and node id → class type, with a budget of link hops for all its walks.

    Nodes that are not dicts are left out; a missing ``inputs`` is ``{}`` and a missing class type ``""``.
    """

    def __init__(self, graph: Mapping[Any, Any]) -> None:
        self.inputs: dict[str, dict[Any, Any]] = {}
        self.types: dict[str, str] = {}
        for node_id, node in graph.items():
            if not isinstance(node, dict):
                continue
            inputs = node.get("inputs")
            class_type = node.get("class_type")
            node_id = node_id if isinstance(node_id, str) else str(node_id)
            self.inputs[node_id] = inputs if isinstance(inputs, dict) else {}  # keys may be non-strings
            self.types[node_id] = class_type if isinstance(class_type, str) else ""
        self.hops = MAX_HOPS

    def enter(self, node_id: str | None, seen: set[str], depth: int) -> TypeGuard[str]:
        """Whether a walk may step onto ``node_id``: an existing node, not yet seen, within both limits."""
        if node_id is None or node_id in seen or depth >= MAX_DEPTH or node_id not in self.inputs or self.hops <= 0:
            return False
        self.hops -= 1
        seen.add(node_id)
        return True

    def by_id(self) -> list[str]:
        """Every node id, in :func:`id_key` order."""
        return sorted(self.inputs, key=id_key)

    def schedule(self, value: Any) -> str | None:
        """The node that made the sigmas ``value`` links to (BasicScheduler & co), through SplitSigmas-style nodes."""
        seen: set[str] = set()
        node_id = link(value)
        while self.enter(node_id, seen, len(seen)):
            inputs = self.inputs[node_id]
            if "steps" in inputs or "scheduler" in inputs:
                return node_id
            node_id = link(inputs.get("sigmas"))
        return None


def on_cycles(graph: Mapping[str, Any]) -> list[str]:
    """The ids of the nodes on or behind a cycle of links, in id order (none for a graph ComfyUI can run)."""
    feeds: dict[str, set[str]] = {}
    for node_id, node in graph.items():
        raw = node.get("inputs") if isinstance(node, dict) else None
        inputs: dict[str, Any] = raw if isinstance(raw, dict) else {}
        feeds[str(node_id)] = {s for v in inputs.values() if (s := link(v)) is not None and s in graph}
    waiting = {node_id: len(sources) for node_id, sources in feeds.items()}
    consumers: dict[str, list[str]] = {}
    for node_id, sources in feeds.items():
        for source in sources:
            consumers.setdefault(source, []).append(node_id)
    ready = deque(node_id for node_id, count in waiting.items() if count == 0)
    while ready:
        for consumer in consumers.get(ready.popleft(), ()):
            waiting[consumer] -= 1
            if waiting[consumer] == 0:
                ready.append(consumer)
    return sorted((node_id for node_id, count in waiting.items() if count > 0), key=id_key)
