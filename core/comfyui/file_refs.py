"""Which files on disk a request or a graph names, and in which of ComfyUI's folders they really lie.

ComfyUI names a file in many ways: ``type=output`` on ``/view``, a ``[output]`` / ``[input]`` /
``[temp]`` suffix on the name (which wins over ``type``), a path relative to the input folder that
climbs out of it (``../output/x.png``: ComfyUI's loaders join before they check), an absolute path
(custom loaders), and CozyGen's ``output::<subfolder>::<file>``. Rather than trust any spelling, the
gate resolves the real path (symlinks too) and asks which folder holds it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ..graph.node_values import OUTPUT_PREFIX, split_image_ref
from ..paths import PathRejected

SUFFIXES = {"[output]": "output", "[input]": "input", "[temp]": "temp"}
OUTSIDE = "outside"


@dataclass(frozen=True)
class Located:
    root: str  # "output", "input", "temp", or OUTSIDE (none of them)
    subfolder: str  # relative to the root, with "/" ("" for its top)
    name: str
    path: str  # the real path


def locate(path: str | os.PathLike[str], roots: Mapping[str, str | os.PathLike[str]]) -> Located:
    """Where ``path`` really lies: the innermost of ``roots`` that holds it after symlinks are resolved."""
    real = os.path.realpath(path)
    best: tuple[int, str, str] | None = None
    for name, root in roots.items():
        top = os.path.realpath(root)
        try:
            inside = os.path.commonpath((real, top)) == top
        except ValueError:
            inside = False
        if inside and (best is None or len(top) > best[0]):
            best = (len(top), name, top)
    if best is None:
        return Located(OUTSIDE, "", os.path.basename(real), real)
    relative = os.path.relpath(real, best[2]).replace(os.sep, "/")
    folder, _, name = relative.rpartition("/") if relative != "." else ("", "", "")
    return Located(best[1], folder, name, real)


def annotated(name: str) -> tuple[str, str | None]:
    """ComfyUI's ``annotated_filepath``: the name without a ``[output]``-style suffix, and the folder it names."""
    for suffix, root in SUFFIXES.items():
        if name.endswith(suffix):
            return name[: -len(suffix) - 1], root  # ComfyUI cuts " [output]" (with the space before it)
    return name, None


def value_paths(value: str, roots: Mapping[str, str | os.PathLike[str]]) -> Iterator[str]:
    """Every path a string input of a node may mean to a loader, existing or not."""
    if value.startswith(OUTPUT_PREFIX):
        try:
            _, folder, name = split_image_ref(value)
        except PathRejected:
            return
        yield os.path.join(roots["output"], folder, name)
        return
    name, root = annotated(value)
    if root is not None and root in roots:
        yield os.path.join(roots[root], name)
    if "input" in roots:
        yield os.path.join(roots["input"], value)
    if os.path.isabs(value):
        yield value


@dataclass(frozen=True)
class GraphRef:
    node: str
    input: str
    value: str
    where: Located


def graph_file_refs(graph: Any, roots: Mapping[str, str | os.PathLike[str]]) -> list[GraphRef]:
    """Every file or folder that a string in a node's inputs (nested lists and objects too) may name to a
    loader, with where it lies: those in the output or temp folders whether or not they exist (so a refusal
    tells nothing of what exists), others only when they exist. Strings that name nothing (prompts, model
    names, which live in other folders) are not listed."""
    found: list[GraphRef] = []
    if not isinstance(graph, dict):
        return found
    for node_id, node in graph.items():
        inputs = node.get("inputs") if isinstance(node, dict) else None
        if not isinstance(inputs, dict):
            continue
        for input_name, value in inputs.items():
            seen: set[str] = set()
            for text in _strings(value):
                for candidate in value_paths(text, roots):
                    where = _where(candidate, roots)
                    if where is not None and where.path not in seen:
                        seen.add(where.path)
                        found.append(GraphRef(str(node_id), str(input_name), text, where))
    return found


def _strings(value: Any, depth: int = 0) -> Iterator[str]:
    if isinstance(value, str):
        if value and len(value) <= 4096 and "\0" not in value:
            yield value
    elif isinstance(value, list | dict) and depth < 32:
        for item in value.values() if isinstance(value, dict) else value:
            yield from _strings(item, depth + 1)


def _where(candidate: str, roots: Mapping[str, str | os.PathLike[str]]) -> Located | None:
    try:
        where = locate(candidate, roots)
        exists = os.path.lexists(candidate)
    except (OSError, ValueError):
        return None
    if where.root in ("output", "temp") or exists:
        return where
    return None
