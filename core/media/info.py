"""What the index records about one file: kind, size, dates and, for PNGs, the generation.

PNG text chunks are read without decoding pixels (``pnginfo``); the standard
fields come from following the prompt graph (``prompt_summary``), and CozyGen's
own ``cozygen`` chunk (its parameter map and job id) wins where it speaks.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import orjson

from ..graph.summary import summarize_png_text
from .animated import animated_fields
from .kinds import extension, is_hidden, kind_of
from .metadata import CHUNK
from .pnginfo import read_png_info

INDEXED_CHUNKS = frozenset({"prompt", CHUNK, "extra_pnginfo"})  # the editor's "workflow" is skipped, unread


def describe(root: str, path: Path | str, subfolder: str, filename: str, st: os.stat_result) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "root": root,
        "subfolder": subfolder,
        "filename": filename,
        "kind": kind_of(filename),
        "hidden": int(is_hidden(subfolder, filename)),
        "size": st.st_size,
        "mtime": st.st_mtime,
        "mtime_ns": st.st_mtime_ns,
        "has_prompt": 0,
        "animated": 0,
    }
    if extension(filename) == "png":
        entry.update(png_fields(path))
    else:
        entry.update(animated_fields(path, filename))
    return entry


def png_fields(path: Path | str) -> dict[str, Any]:
    info = read_png_info(path, keys=INDEXED_CHUNKS)
    if info is None:
        return {"animated": 0}
    fields: dict[str, Any] = {"width": info.width, "height": info.height, "animated": int(info.animated)}
    graph, summary = summarize_png_text(info.text)
    if graph is None and not any(v for k, v in summary.items() if k != "loras") and not summary.get("loras"):
        return fields
    seed = summary.get("seed")
    fields.update(
        has_prompt=int(graph is not None),
        model=summary.get("model"),
        positive=summary.get("positive"),
        negative=summary.get("negative"),
        seed=seed if isinstance(seed, int) and -(2**63) <= seed < 2**63 else None,
        summary=orjson.dumps(summary).decode(),
        prompt_id=_prompt_id(info.text.get(CHUNK)),
    )
    return fields


def _prompt_id(chunk: str | None) -> str | None:
    try:
        value = json.loads(chunk).get("prompt_id") if chunk else None
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None
