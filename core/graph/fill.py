"""Writing a caller's values into a workflow, after checking every one of them.

:func:`fill` takes a workflow, its schema (:func:`core.graph.schema.extract_schema`) and a
map of parameter name → value. It checks all values first and reports every bad one at once
(:class:`FieldErrors`, 400 ``INVALID_VALUES`` with ``fields``: name → message); only then does
it write each value into every target of a deep copy of the workflow.

- Parameters left out take their default (the value already in the workflow); one without a
  default is required.
- Types are strict: JSON ``true`` is no number, ``"20"`` is no int; ``20.0`` is accepted as 20.
  Numbers must lie in [min, max]; a choice must be one of its choices exactly (case counts);
  an image is a relative input-folder path or ``output::<subfolder>::<file>`` (core.paths rules).
- A seed of -1, ``"<name>__randomize": true``, or a schema seed marked ``randomize`` that the
  caller gave no value for, becomes a random int in [0, 2**63-1] drawn from ``rng``; the seed
  actually used is what goes into the graph and into ``Filled.params``.
- ``$name$`` and ``$category::name$`` in string values are expanded from the aliases map
  (``{"items": {name: text}, "categories": {name: category}}``, or a flat ``{name: text}``),
  repeatedly up to ``MAX_ALIAS_DEPTH`` times; unknown aliases stay as they are. The text before
  expansion is kept in ``Filled.raw`` when it differs.
"""

from __future__ import annotations

import copy
import math
import random
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from ..errors import BadRequest
from ..paths import PathRejected
from ..prompts.wildcards import Expander, Wildcard, has_choices
from .api_format import ensure_api_format
from .node_values import COZYGEN_INPUT_NODES, OUTPUT_PREFIX, split_image_ref
from .parameter import Parameter

RANDOM_SEED_MAX = 2**63 - 1
RANDOMIZE_SUFFIX = "__randomize"
MAX_ALIAS_DEPTH = 5
MAX_EXPANDED_CHARS = 200_000  # a text may not grow beyond this by expanding aliases
_TOKEN = re.compile(r"\$([^\s$](?:[^$\n]*[^\s$])?)\$")


class FieldErrors(BadRequest):
    """Every invalid value of one request: ``errors`` (and the JSON body's ``fields``) maps name → message."""

    code = "INVALID_VALUES"

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors = dict(errors)
        shown = "; ".join(f"{name}: {message}" for name, message in list(self.errors.items())[:5])
        more = f" (and {len(self.errors) - 5} more)" if len(self.errors) > 5 else ""
        count = len(self.errors)
        super().__init__(
            f"{count} invalid value{'' if count == 1 else 's'}: {shown}{more}", extra={"fields": self.errors}
        )


@dataclass
class Filled:
    """The workflow with the values written in, the values used (seeds resolved), raw texts before aliases, and
    the output nodes whose images the job's results show (App mode's; empty: all)."""

    graph: dict[str, Any]
    params: dict[str, Any]
    raw: dict[str, str] = field(default_factory=dict)
    outputs: list[str] = field(default_factory=list)


class _Invalid(ValueError):
    pass


def fill(
    workflow: Any,
    schema: Iterable[Parameter | Mapping[str, Any]],
    values: Mapping[str, Any] | None,
    *,
    aliases: Any = None,
    wildcards: Mapping[str, Wildcard] | None = None,
    rng: random.Random | None = None,
) -> Filled:
    """A deep copy of ``workflow`` with ``values`` (defaults for the rest) written into every target.

    Texts have their ``__wildcards__`` and ``{a|b}`` choices expanded when ``wildcards`` is given (the same
    seed gives the same choices), then their aliases; ``raw`` keeps what was sent."""
    ensure_api_format(workflow)
    if values is None:
        values = {}
    if not isinstance(values, Mapping):
        raise BadRequest("values must be a JSON object of parameter name to value", code="INVALID_VALUES")
    params = [p if isinstance(p, Parameter) else Parameter.from_dict(p) for p in schema]
    by_name = {p.name: p for p in params}
    rng = rng if rng is not None else random.Random()
    items, categories = alias_table(aliases)

    flags = {p.name + RANDOMIZE_SUFFIX for p in params if p.type == "seed"}
    errors: dict[str, str] = {}
    for key in values:
        if not isinstance(key, str):
            errors[str(key)] = "unknown parameter"
        elif key in flags:
            if not isinstance(values[key], bool):
                errors[key] = "must be true or false"
        elif key not in by_name:
            errors[key] = "unknown parameter"

    resolved: dict[str, Any] = {}
    for param in params:
        try:
            resolved[param.name] = _resolve(param, values, rng)
        except ValueError as error:  # _Invalid
            errors.setdefault(param.name, str(error))
    raw: dict[str, str] = {}
    seed = next((resolved.get(p.name) for p in params if p.type == "seed"), None)
    for param in params:  # texts: wildcards and {a|b} choices (seeded by the job's seed), then aliases
        value = resolved.get(param.name)
        if param.type not in ("string", "text") or not isinstance(value, str):
            continue
        try:
            expanded = value
            if wildcards is not None and has_choices(expanded):
                chooser = random.Random(f"{seed}:{param.name}") if seed is not None else rng
                expanded = Expander(wildcards, chooser).expand(expanded)
            if items:
                expanded = expand_aliases(expanded, items, categories)
        except ValueError as error:  # an alias expansion that grew too long
            errors.setdefault(param.name, str(error))
            continue
        except BadRequest as error:  # an unknown wildcard, or one nesting too deep
            errors.setdefault(param.name, error.message)
            continue
        if expanded != value:
            raw[param.name] = value
            resolved[param.name] = expanded
    if errors:
        raise FieldErrors(errors)

    graph = copy_json(workflow)
    nodes = {str(node_id): node for node_id, node in graph.items()}
    for param in params:
        for node_id, input_name in param.targets:
            node = nodes.get(str(node_id))
            if node is None:
                errors[param.name] = f"its node {node_id} is not in the workflow"
                continue
            inputs = node.get("inputs")
            if not isinstance(inputs, dict):
                inputs = node["inputs"] = {}
            inputs[input_name] = _for_target(param, resolved[param.name], node.get("class_type"), input_name)
    if errors:
        raise FieldErrors(errors)
    return Filled(graph=graph, params=resolved, raw=raw)


def with_seed_offset(filled: Filled, schema: Iterable[Parameter], offset: int) -> Filled:
    """The same filled workflow with every seed parameter moved on by ``offset`` (the i-th image of a job
    of several prompts runs with seed + i)."""
    if offset == 0:
        return filled
    graph = copy_json(filled.graph)
    params = dict(filled.params)
    nodes = {str(node_id): node for node_id, node in graph.items()}
    for param in schema:
        seed = params.get(param.name)
        if param.type != "seed" or not isinstance(seed, int) or isinstance(seed, bool):
            continue
        params[param.name] = seed + offset
        for node_id, input_name in param.targets:
            inputs = nodes.get(str(node_id), {}).get("inputs")
            if isinstance(inputs, dict):
                inputs[input_name] = seed + offset
    return Filled(graph=graph, params=params, raw=dict(filled.raw))


def check_value(param: Parameter, value: Any) -> Any:
    """``value`` as ``fill`` would take it for ``param`` (a seed of -1 drawn), or ValueError saying why not."""
    return _resolve(param, {param.name: value}, random.Random())


def copy_json(value: Any) -> Any:
    """A deep copy of JSON data (a workflow), several times faster than ``copy.deepcopy``."""
    try:
        return orjson.loads(orjson.dumps(value))
    except TypeError:  # something JSON cannot hold: copy it the slow way
        return copy.deepcopy(value)


# One value.


def _resolve(param: Parameter, values: Mapping[str, Any], rng: random.Random) -> Any:
    if param.type == "seed":
        return _seed(param, values, rng)
    value = values.get(param.name)
    if value is None:  # left out (or null): the default
        if param.default is None:
            raise _Invalid("required: this parameter has no default, give a value")
        return param.default
    kind = param.type
    if kind in ("string", "text"):
        if not isinstance(value, str):
            raise _Invalid(f"must be a string, not {_show(value)}")
        return value
    if kind == "int":
        return _in_range(param, _whole(value), value)
    if kind == "float":
        return _in_range(param, _float(value), value)
    if kind == "boolean":
        if not isinstance(value, bool):
            raise _Invalid(f"must be true or false, not {_show(value)}")
        return value
    if kind == "choice":
        return _choice(param, value)
    if kind == "image":
        return _image(value)
    raise _Invalid(f"has an unknown type {kind!r}")


def _seed(param: Parameter, values: Mapping[str, Any], rng: random.Random) -> int:
    flag = values.get(param.name + RANDOMIZE_SUFFIX)
    given = values.get(param.name)
    if given is not None:
        seed: int | None = _whole(given)
        if seed != -1 and flag is not True:
            return _in_range(param, seed, given)
    elif flag is False or (flag is None and not param.randomize):
        seed = param.default
        if seed is None:
            raise _Invalid("required: this parameter has no default, give a value")
        if seed != -1:
            return seed
    low = max(0, int(param.min) if param.min is not None else 0)
    high = min(RANDOM_SEED_MAX, int(param.max) if param.max is not None else RANDOM_SEED_MAX)
    return rng.randint(low, max(low, high))


def _whole(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    raise _Invalid(f"must be a whole number, not {_show(value)}")


def _float(value: Any) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            number = float(value)
        except OverflowError:
            number = math.inf
        if math.isfinite(number):
            return number
    raise _Invalid(f"must be a finite number, not {_show(value)}")


def _in_range(param: Parameter, number: Any, given: Any) -> Any:
    """``number`` (``given`` as the caller sent it, for the message) if it lies within the parameter's bounds."""
    if param.min is not None and number < param.min:
        raise _Invalid(f"{given} is below the minimum {param.min}")
    if param.max is not None and number > param.max:
        raise _Invalid(f"{given} is above the maximum {param.max}")
    return number


def _choice(param: Parameter, value: Any) -> Any:
    choices = param.choices
    if choices is None:  # the list is unknown (a folder ComfyUI does not list): any name
        if not isinstance(value, str) or not value:
            raise _Invalid(f"must be a name, not {_show(value)}")
        return value
    if not choices:
        where = f" in {param.choice_source}" if param.choice_source not in (None, "fixed") else ""
        raise _Invalid(f"there is nothing to choose{where} on this host: add a file there first")
    if any(value == choice and type(value) is type(choice) for choice in choices):
        return value
    shown = ", ".join(str(c) for c in choices[:10]) + (", …" if len(choices) > 10 else "")
    raise _Invalid(f"{_show(value)} is not one of the choices ({shown})")


def _image(value: Any) -> str:
    if not isinstance(value, str):
        raise _Invalid(f"must be an image path, not {_show(value)}")
    try:
        root, folder, name = split_image_ref(value)
    except PathRejected as error:
        raise _Invalid(error.message) from None
    if root == "output":
        return f"{OUTPUT_PREFIX}{folder}::{name}"
    return f"{folder}/{name}" if folder else name


def _for_target(param: Parameter, value: Any, class_type: Any, input_name: str) -> Any:
    """The value as the target node takes it."""
    if param.type == "image" and class_type not in COZYGEN_INPUT_NODES and isinstance(value, str):
        if value.startswith(OUTPUT_PREFIX):  # LoadImage & co read output files as "<path> [output]"
            _, folder, name = split_image_ref(value)
            return f"{folder}/{name} [output]" if folder else f"{name} [output]"
    if class_type == "CozyGenDynamicInput" and input_name == "default_value" and not isinstance(value, str):
        return ("true" if value else "false") if isinstance(value, bool) else str(value)  # a STRING input
    return value


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value[:40] + "…" if len(value) > 40 else value)
    if isinstance(value, list | dict):
        return "a list" if isinstance(value, list) else "an object"
    return repr(value)


# Aliases.


def alias_table(aliases: Any) -> tuple[dict[str, str], dict[str, str]]:
    """(name → text, name → category) from the seed's ``{"items", "categories"}`` map or a flat ``{name: text}``."""
    if not isinstance(aliases, Mapping):
        return {}, {}
    items = aliases.get("items")
    if isinstance(items, Mapping):
        categories = aliases.get("categories")
        categories = categories if isinstance(categories, Mapping) else {}
        return (
            {k: v for k, v in items.items() if isinstance(k, str) and isinstance(v, str)},
            {k: v for k, v in categories.items() if isinstance(k, str) and isinstance(v, str)},
        )
    return {k: v for k, v in aliases.items() if isinstance(k, str) and isinstance(v, str)}, {}


def expand_aliases(text: str, items: Mapping[str, str], categories: Mapping[str, str] | None = None) -> str:
    """``text`` with ``$name$`` / ``$category::name$`` replaced, up to ``MAX_ALIAS_DEPTH`` rounds deep.

    ValueError when the text would grow beyond ``MAX_EXPANDED_CHARS``.
    """
    categories = categories or {}

    def replace(match: re.Match[str]) -> str:
        token = match.group(1)
        category, sep, name = token.partition("::")
        if not sep:
            name = token
        elif categories.get(name, "").strip().casefold() != category.strip().casefold():
            return match.group(0)
        return items.get(name, match.group(0))

    for _ in range(MAX_ALIAS_DEPTH):
        expanded = _TOKEN.sub(replace, text)
        if expanded == text:
            break
        if len(expanded) > MAX_EXPANDED_CHARS:
            raise ValueError(f"is longer than {MAX_EXPANDED_CHARS} characters once its aliases are expanded")
        text = expanded
    return text
