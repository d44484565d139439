"""What the compatibility mounts share: their own error shapes, the host's checkpoints, and the shipped workflows
a generation request runs on (a checkpoint on ``sd15_txt2img.json``, the weights-free procedural model on
``cozygen_procedural_form.json``)."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Mapping
from typing import Any

from aiohttp import web

from ...core.errors import CozyGenError, RateLimited
from ...core.graph.fill import FieldErrors
from ...core.host import Host
from ..responses import Handler, json_response

TXT2IMG = "sd15_txt2img.json"  # every checkpoint runs on the shipped txt2img workflow
PROCEDURAL = "cozygen_procedural_form.json"  # the procedural model: square images, no weights


def in_shape(shape: Callable[[CozyGenError], dict[str, Any]]) -> Callable[[Handler], Handler]:
    """A decorator answering CozyGen's errors in another system's error body (status and Retry-After kept)."""

    def decorate(fn: Handler) -> Handler:
        @functools.wraps(fn)
        async def wrapped(request: web.Request) -> web.StreamResponse:
            try:
                return await fn(request)
            except CozyGenError as exc:
                headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, RateLimited) else None
                return json_response(shape(exc), status=exc.status, headers=headers)

        return wrapped

    return decorate


async def checkpoints(host: Host) -> list[str]:
    """The checkpoint files ComfyUI lists ([] when it has no checkpoints folder)."""
    try:
        return await asyncio.to_thread(host.model_files, "checkpoints")
    except KeyError:
        return []


def square_size(width: Any, height: Any) -> Any:
    """The procedural workflow's one ``size`` from a width and a height (None when neither is given);
    a FieldErrors on ``height`` when they differ."""
    if width is not None and height is not None and width != height:
        raise FieldErrors({"height": f"the procedural model makes square images: use height {width!r}, as width"})
    return width if width is not None else height


def renamed(errors: FieldErrors, names: Mapping[str, str]) -> FieldErrors:
    """The same field errors under a client's own parameter names (``names``: CozyGen's → theirs)."""
    return FieldErrors({names.get(k, k): v for k, v in errors.errors.items()})
