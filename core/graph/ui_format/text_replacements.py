"""The editor's search and replace in a save node's ``filename_prefix`` (its ``Comfy.SaveImageExtraOutput``).

On export the editor replaces each ``%Node.widget%`` by that widget's value (the node found by its
"Node name for S&R" property, else by its title; the first of several; characters a file name cannot hold
become ``_``) and each ``%date:<format>%`` by the time now (``yyyy yy MM M dd d hh h mm m ss s``). Anything
else (``%width%``, a node or widget that does not exist) stays, for ComfyUI's own replacements.

Node references are replaced when the file is converted (:func:`replace_nodes`), as the editor does with the
file's values; dates are not, because a converted form is kept: :func:`replace_dates` puts the time in when a
job is filled.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

SAVE_NODES = frozenset(
    {
        "SaveImage",
        "SaveVideo",
        "SaveAnimatedWEBP",
        "SaveWEBM",
        "SaveAudio",
        "SaveGLB",
        "SaveAnimatedPNG",
        "CLIPSave",
        "VAESave",
        "ModelSave",
        "LoraSave",
        "SaveLatent",
    }
)
PREFIX = "filename_prefix"
PATTERN = re.compile(r"%([^%]+)%")
UNSAFE = re.compile(r'[/?<>\\:*|"\x00-\x1f\x7f]')
DATE_PART = re.compile(r"dd?|MM?|hh?|mm?|ss?|yyy?y?")
SEARCH_NAME = "Node name for S&R"


@dataclass(frozen=True)
class NodeView:
    """What a replacement can name: a node's search name, its title, and its widgets' values by name."""

    search_name: str | None
    title: str
    widgets: Mapping[str, Any]


def replace_nodes(prompt: dict[str, dict[str, Any]], views: Callable[[], list[NodeView]]) -> None:
    """Replace ``%Node.widget%`` in the save nodes' prefixes of ``prompt`` (in place); ``views`` (the editor's
    nodes in its order) is asked for only when a prefix has a ``%``."""
    prefixed = list(_prefixed(prompt.values()))
    found = views() if prefixed else []
    for inputs in prefixed:
        inputs[PREFIX] = PATTERN.sub(lambda match: _node_value(match, found), inputs[PREFIX])


def replace_dates(prompt: Mapping[str, Any], now: datetime) -> None:
    """Replace ``%date:<format>%`` in the save nodes' prefixes of an API graph (in place)."""
    for inputs in _prefixed(prompt.values()):
        inputs[PREFIX] = PATTERN.sub(lambda match: _date(match, now), inputs[PREFIX])


def format_date(text: str, now: datetime) -> str:
    """The editor's date format: ``yyyy`` and ``yy``; ``MM dd hh mm ss`` padded to their length."""
    parts = {"d": now.day, "M": now.month, "h": now.hour, "m": now.minute, "s": now.second}

    def one(match: re.Match[str]) -> str:
        token = match.group(0)
        if token == "yy":
            return str(now.year)[2:]
        if token == "yyyy":
            return str(now.year)
        if token[0] in parts:
            return str(parts[token[0]]).rjust(len(token), "0")
        return token

    return DATE_PART.sub(one, text)


def js_string(value: Any) -> str:
    """``value + ""`` as JavaScript writes it (null and undefined are ``""`` there, through ``?? ''``)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        if value.is_integer() and abs(value) < 1e21:
            return str(int(value))
        mantissa, _, exponent = repr(value).partition("e")  # Python 1e-07, JavaScript 1e-7
        if not exponent:
            return mantissa
        sign = "-" if exponent.startswith("-") else "+"
        return f"{mantissa}e{sign}{exponent.lstrip('+-').lstrip('0')}"
    if isinstance(value, list):
        return ",".join("" if item is None else js_string(item) for item in value)
    if isinstance(value, dict):
        return "[object Object]"
    return str(value)


def _prefixed(nodes: Iterable[Any]) -> Iterable[dict[str, Any]]:
    for node in nodes:
        inputs = node.get("inputs") if isinstance(node, dict) else None
        if node.get("class_type") in SAVE_NODES and isinstance(inputs, dict):
            value = inputs.get(PREFIX)
            if isinstance(value, str) and "%" in value:
                yield inputs


def _node_value(match: re.Match[str], views: list[NodeView]) -> str:
    split = match.group(1).split(".")
    if len(split) != 2:
        return match.group(0)  # a date is put in later; %width% and the like are ComfyUI's
    found = [v for v in views if v.search_name == split[0]] or [v for v in views if v.title == split[0]]
    if not found or split[1] not in found[0].widgets:
        return match.group(0)
    return UNSAFE.sub("_", js_string(found[0].widgets[split[1]]))


def _date(match: re.Match[str], now: datetime) -> str:
    split = match.group(1).split(".")
    if len(split) != 2 and split[0].startswith("date:"):
        return format_date(split[0][5:], now)
    return match.group(0)
