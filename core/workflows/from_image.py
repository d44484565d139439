"""The workflow inside an image: ComfyUI's ``prompt`` (API format, exactly what ran) and ``workflow`` (the
editor's UI format) text chunks, and CozyGen's own ``cozygen`` chunk (the form's values that made it).

The API ``prompt`` wins when present; otherwise the UI ``workflow`` is converted with the host's definitions
(:func:`.imports.to_api_graph`). An image with neither (a video, a webp, a PNG from elsewhere) is a 404.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from ..errors import NotFound
from ..graph.ui_format import ConversionError, parse
from ..json_depth import too_deep
from ..media.metadata import CHUNK
from .imports import Imported, to_api_graph

KEYS = ("prompt", "workflow", CHUNK)


class NoWorkflow(NotFound):
    code = "NO_WORKFLOW"


def embedded(text: Mapping[str, str], object_info: Any, models: Mapping[str, Any] | None = None) -> Imported:
    """The API graph an image's text chunks carry, and its check; NoWorkflow when they carry none,
    ConversionError when what they carry cannot be read or run here."""
    errors: list[ConversionError] = []
    for key in ("prompt", "workflow"):
        raw = text.get(key)
        if not raw:
            continue
        try:
            return to_api_graph(parse(raw), object_info, models)
        except ConversionError as error:  # a broken prompt chunk: the workflow chunk may still do
            errors.append(error)
    if errors:
        raise errors[0]
    raise NoWorkflow("this image carries no workflow (only PNGs saved by ComfyUI or CozyGen do)")


def recorded_params(text: Mapping[str, str]) -> dict[str, Any]:
    """The form's values CozyGen recorded in the image (``param_name`` → value), or nothing."""
    raw = text.get(CHUNK)
    try:
        record = orjson.loads(raw) if raw and len(raw) < 1_000_000 else None
    except orjson.JSONDecodeError:
        return {}
    if raw is None or record is None or too_deep(raw, record):  # what an answer could not write back
        return {}
    params = record.get("params") if isinstance(record, dict) else None
    return params if isinstance(params, dict) else {}
