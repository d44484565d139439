"""What the MCP tools show of workflows, jobs and gallery files (compact: an assistant reads them), and waiting
for a job to end."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from ..events import EventHub
from ..jobs.model import Job

PARAMETER_FIELDS = ("name", "label", "type", "default", "min", "max", "step", "choices", "required", "description")


def parameter(shown: Mapping[str, Any]) -> dict[str, Any]:
    """A form parameter (``Parameter.to_dict``) without what only the filler needs; empty fields left out."""
    return {k: shown[k] for k in PARAMETER_FIELDS if shown.get(k) not in (None, "", [])}


def image(row: Any) -> dict[str, Any]:
    """A gallery file: its id (for fetch_image) and what an assistant may want to say of it."""
    found = {
        "id": row["id"],
        "filename": row["filename"],
        "subfolder": row["subfolder"],
        "kind": row["kind"],
        "width": row["width"],
        "height": row["height"],
        "created_at": row["mtime"],
        "model": row["model"],
        "prompt": row["positive"],
        "seed": row["seed"],
    }
    return {k: v for k, v in found.items() if v is not None}


def job(shown: Mapping[str, Any], rows: list[Any]) -> dict[str, Any]:
    """A job as the API views it (``JobService.view``), with its images as gallery files."""
    found = {
        "job_id": shown["id"],
        "status": shown["status"],
        "workflow": shown["workflow"],
        "queue_position": shown["queue_position"],
        "progress": {"step": shown["step"], "total_steps": shown["total_steps"], "percent": shown["percent"]},
        "images": [image(row) for row in rows],
        "error": shown["error"],
        "created_at": shown["created_at"],
        "started_at": shown["started_at"],
        "finished_at": shown["finished_at"],
        "params": shown["params"],
    }
    return {k: v for k, v in found.items() if v is not None}


async def wait_for_end(hub: EventHub, load: Callable[[], Awaitable[Job]], timeout: float) -> Job:
    """The job once it has ended, or as it stands when ``timeout`` seconds have passed.

    Woken by the job hub's events (any: a missed one costs at most the one-second re-check).
    """
    deadline = time.monotonic() + timeout
    subscription = hub.subscribe()
    try:
        while True:
            current = await load()
            left = deadline - time.monotonic()
            if current.finished or left <= 0:
                return current
            try:
                await asyncio.wait_for(subscription.queue.get(), timeout=min(left, 1.0))
            except asyncio.TimeoutError:
                pass
    finally:
        hub.unsubscribe(subscription)
