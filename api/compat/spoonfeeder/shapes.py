"""Spoon Feeder's shapes: its envelope and error body, and CozyGen's jobs as its generations and task rows.

Statuses follow the real Spoon Feeder, not its API document: a generation ends ``completed`` (the client polls
for that word), while a task row of the history export ends ``complete`` (the real tasks table's word).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from aiohttp import web

from ....core.errors import BadRequest, CozyGenError
from ....core.graph.fill import FieldErrors
from ....core.jobs import groups, records
from ....core.jobs.model import COMPLETED, MAX_IMAGES, PENDING, RUNNING, Job
from ...responses import json_response
from ..common import in_shape
from .prompts import prompt_names

BASE = "/cozygen/compat/spoonfeeder/api"
PROFILE_ID = "local"
PROFILE_NAME = "This ComfyUI"
PROFILE = {"profile_id": PROFILE_ID, "profile_name": PROFILE_NAME}
GENERATION_STATUSES = {PENDING: "pending", RUNNING: "running", COMPLETED: "completed"}  # the rest: failed
TASK_STATUSES = {PENDING: "pending", RUNNING: "running", COMPLETED: "complete"}
# Spoon Feeder's generation parameters -> the workflows' parameter names
PARAMETERS = {
    "width": "width",
    "height": "height",
    "steps": "steps",
    "cfg_scale": "cfg",
    "seed": "seed",
    "sampler_name": "sampler",
    "scheduler": "scheduler",
    "checkpoint_name": "checkpoint",
}


def seed_error(error: CozyGenError) -> dict[str, Any]:
    """Spoon Feeder's error shape, with CozyGen's code and fields kept."""
    return {"success": False, **error.to_dict(), "statusCode": error.status}


in_seed_shape = in_shape(seed_error)


def ok(data: Any, status: int = 200) -> web.Response:
    return json_response({"success": True, "data": data}, status=status)


def done(message: str) -> web.Response:
    return json_response({"success": True, "message": message})


def iso(when: float | None) -> str | None:
    if when is None:
        return None
    return dt.datetime.fromtimestamp(when, dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def origin(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


def generation_status(job: Job) -> str:
    return GENERATION_STATUSES.get(job.status, "failed")


def failure(job: Job) -> str | None:
    """Why a job failed (cancelled and interrupted jobs count as failed, with the reason); None otherwise."""
    if job.status in GENERATION_STATUSES:
        return None
    return job.error or f"the generation was {job.status}"


def prompts_of(params: dict[str, Any]) -> tuple[str | None, str | None]:
    """The positive and negative prompt texts a job ran with (None where its workflow has none)."""
    texts = [name for name, value in params.items() if isinstance(value, str)]
    positive, negative = prompt_names(texts)
    return (params[positive] if positive else None), (params[negative] if negative else None)


def seed_parameters(job: Job) -> dict[str, Any]:
    """The parameters a generation ran with, by Spoon Feeder's names (None where the workflow has none)."""
    params = job.params
    size = params.get("size")
    return {
        "width": params.get("width", size),
        "height": params.get("height", size),
        "steps": params.get("steps"),
        "cfg_scale": params.get("cfg"),
        "seed": params.get("seed"),
        "sampler_name": params.get("sampler"),
        "scheduler": params.get("scheduler"),
    }


def checkpoint_of(job: Job) -> str | None:
    """The checkpoint a generation ran with: its ``checkpoint`` parameter, else the model its graph loads."""
    chosen = job.params.get("checkpoint")
    return chosen if isinstance(chosen, str) and chosen else job.model


def generation(job: Job) -> dict[str, Any]:
    """A CozyGen job as a Spoon Feeder generation (every field the real client reads)."""
    parameters = seed_parameters(job)
    took = job.finished_at - (job.started_at or job.created_at) if job.finished_at is not None else None
    prompt, negative = prompts_of(job.params)
    return {
        "id": job.id,
        "session_id": job.session_id,
        "workflow_id": job.workflow,
        "prompt_id": job.prompt_id,
        "prompt_text": prompt,
        "negative_prompt": negative,
        "parameters": parameters,
        **parameters,
        "batch_size": len(job.all_prompts),
        "batch_index": 0,
        "checkpoint_name": checkpoint_of(job),
        "loras_used": [],
        "status": generation_status(job),
        "error": failure(job),
        "generation_time_seconds": round(took, 2) if took is not None else None,
        "outputs": [
            {"filename": i["filename"], "subfolder": i.get("subfolder", ""), "type": i.get("type", "output")}
            for i in job.images
        ],
        "created_at": iso(job.created_at),
        "completed_at": iso(job.finished_at),
    }


def task_row(job: Job) -> dict[str, Any]:
    """A CozyGen job as a row of Spoon Feeder's task history export."""
    row = records.export_row(job)
    return {
        "id": row["id"],
        "name": row["workflow"],
        "type": "image",
        "provider": "comfyui",
        "prompt": prompts_of(job.params)[0] or row["prompt"],
        "model": row["model"],
        "seed": row["seed"],
        "status": TASK_STATUSES.get(job.status, "failed"),
        "error": failure(job),
        "created_at": iso(row["created_at"]),
        "completed_at": iso(row["finished_at"]),
        "images": row["images"],
    }


def check_batch(value: Any) -> int:
    if value is None:
        return 1
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_IMAGES:
        return value
    raise FieldErrors({"batch_size": f"a whole number from 1 to {MAX_IMAGES}, not {value!r}"})


def check_title(value: Any) -> str:
    try:
        return groups.check_name(value)
    except BadRequest:
        raise FieldErrors({"title": f"a non-empty text of at most {groups.MAX_NAME} characters"}) from None
