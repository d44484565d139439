"""CyberImage (seed 002) at /cozygen/compat/cyberimage/api/: models, generate, status, queue and reset_queue
over the job service, and the gallery and image routes.

Checkpoints are models on the shipped txt2img workflow; ``procedural`` is the weights-free procedural form.
"""

from __future__ import annotations

import datetime as dt
import secrets
import time
from collections.abc import Mapping
from typing import Any

import orjson
from aiohttp import web

from ...core.accounts.access import ADMIN, USER, VIEWER
from ...core.errors import BadRequest, CozyGenError
from ...core.gallery import index
from ...core.graph.fill import FieldErrors
from ...core.graph.models import PROCEDURAL_MODEL
from ...core.jobs import records
from ...core.jobs.model import COMPLETED, PENDING, RUNNING, Job
from .. import prompts
from ..gallery import image_id
from ..jobs import caller
from ..params import flag, paging
from ..responses import json_response, read_json
from ..routing import Routes
from ..state import CozyGenState
from ..visibility import require_visible, restricted_to
from .common import PROCEDURAL, TXT2IMG, checkpoints, in_shape, renamed, square_size

BASE = "/cozygen/compat/cyberimage/api"
# CyberImage's settings -> the txt2img workflow's parameters
SETTINGS = {"num_inference_steps": "steps", "guidance_scale": "cfg", "width": "width", "height": "height"}
# the workflows' parameters -> CyberImage's names, for field errors
FIELD_NAMES = {"steps": "num_inference_steps", "cfg": "guidance_scale", "size": "width", "checkpoint": "model_id"}
STATUSES = {PENDING: "pending", RUNNING: "processing", COMPLETED: "completed"}  # the rest: failed
SEED_STATUSES = ("pending", "processing", "completed", "failed")
ENRICH_FIELDS = ("original_prompt", "enriched_prompt", "style", "source", "warning")  # seed's three + ours


def seed_error(error: CozyGenError) -> dict[str, Any]:
    """CyberImage's error shape ({"status": "error", "message"}), with CozyGen's code and fields kept."""
    return {"status": "error", "message": error.message, **error.to_dict()}


in_seed_shape = in_shape(seed_error)


def iso(when: float | None) -> str | None:
    return None if when is None else dt.datetime.fromtimestamp(when, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def job_values(model_id: str, prompt: str, negative: Any, settings: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The workflow and its values for a CyberImage request (CyberImage's settings by parameter name)."""
    given = {k: v for k, v in settings.items() if v is not None}
    if model_id == PROCEDURAL_MODEL:  # square images, no negative prompt or guidance (ignored, as Flux does)
        size = square_size(given.get("width"), given.get("height"))
        values: dict[str, Any] = {"prompt": prompt, "seed": secrets.randbelow(2**31)}
        if "num_inference_steps" in given:
            values["steps"] = given["num_inference_steps"]
        if size is not None:
            values["size"] = size
        return PROCEDURAL, values
    values = {"prompt": prompt, "checkpoint": model_id}
    if negative:
        values["negative_prompt"] = negative
    values.update({name: given[key] for key, name in SETTINGS.items() if key in given})
    return TXT2IMG, values


def seed_settings(params: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "num_inference_steps": params.get("steps"),
        "guidance_scale": params.get("cfg"),
        "height": params.get("height", params.get("size")),
        "width": params.get("width", params.get("size")),
    }


def tally(by_status: Mapping[str, int]) -> dict[str, int]:
    """CozyGen's statuses counted as CyberImage's four (cancelled and interrupted jobs count as failed)."""
    counts = dict.fromkeys(SEED_STATUSES, 0)
    for status, n in by_status.items():
        counts[STATUSES.get(status, "failed")] += n
    return {**counts, "total": sum(counts.values())}


def merged(by_model: Mapping[str, Mapping[str, int]]) -> dict[str, int]:
    total: dict[str, int] = {}
    for counts in by_model.values():
        for status, n in counts.items():
            total[status] = total.get(status, 0) + n
    return total


def fields_of(row: Any) -> dict[str, Any]:
    return orjson.loads(row["summary"]) if row["summary"] else {}


def gallery_image(row: Any) -> dict[str, Any]:
    fields = fields_of(row)
    return {
        "id": str(row["id"]),
        "model_id": row["model"],
        "prompt": row["positive"],
        "created_at": dt.datetime.fromtimestamp(row["mtime"], dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "settings": {"num_inference_steps": fields.get("steps"), "guidance_scale": fields.get("cfg")},
    }


def progress_of(job: Job, seed_status: str) -> dict[str, Any]:
    """CyberImage's progress flags of a job, with ComfyUI's real step counts."""
    processing = seed_status == "processing"
    return {
        "preparing": processing and not job.total_steps,
        "loading_model": False,
        "generating": processing and bool(job.total_steps),
        "saving": False,
        "completed": seed_status == "completed",
        "failed": seed_status == "failed",
        "step": job.step,
        "total_steps": job.total_steps,
    }


def image_metadata(job: Job, number: int, total: int) -> dict[str, Any]:
    """CyberImage's metadata of a job's ``number``-th image (of ``total``)."""
    return {
        "model_id": job.model,
        "prompt": job.params.get("prompt"),
        "negative_prompt": job.params.get("negative_prompt"),
        "settings": seed_settings(job.params),
        "image_number": number,
        "total_images": total,
    }


def message(job: Job, status: str, shown: dict[str, Any], images: int) -> str:
    """CyberImage's status message for a job."""
    count = len(job.all_prompts)
    if status == "pending":
        place = shown.get("queue_position")
        return f"Waiting in the queue (position {place})" if place else "Waiting in the queue"
    if status == "processing":
        current = min(count, job.prompts_done + 1)
        if job.total_steps:
            return f"Generating image {current} of {count}... Step {job.step}/{job.total_steps}"
        return f"Preparing image {current} of {count}..."
    if status == "completed":
        return f"Generated {images} image(s)"
    return job.error or f"Job {job.status}"


class CyberImageRoutes:
    """CyberImage's handlers, over the job service and the gallery."""

    def __init__(self, state: CozyGenState) -> None:
        self.state = state

    async def available(self) -> dict[str, dict[str, Any]]:
        models = {
            name: {"id": name, "description": f"Checkpoint {name} on the {TXT2IMG} workflow", "workflow": TXT2IMG}
            for name in await checkpoints(self.state.host)
        }
        models[PROCEDURAL_MODEL] = {
            "id": PROCEDURAL_MODEL,
            "description": "CozyGen's weights-free procedural images (no model files needed)",
            "workflow": PROCEDURAL,
        }
        return models

    async def catalogue(self) -> dict[str, Any]:
        """The models and the default one (the first checkpoint, else the procedural model)."""
        found = await self.available()
        checkpoints = [name for name in found if name != PROCEDURAL_MODEL]
        return {"models": found, "default": checkpoints[0] if checkpoints else PROCEDURAL_MODEL}

    async def models(self, _request: web.Request) -> web.Response:
        return json_response(await self.catalogue())

    async def generate(self, request: web.Request) -> web.Response:
        body = await read_json(request)
        model_id, prompt, negative = body.get("model_id"), body.get("prompt"), body.get("negative_prompt")
        settings = body.get("settings") or {}
        errors: dict[str, str] = {}
        if not isinstance(settings, dict):
            errors["settings"] = "an object of settings: num_images, num_inference_steps, guidance_scale, height, width"
            settings = {}
        found = await self.available()
        if not isinstance(model_id, str) or model_id not in found:
            errors["model_id"] = f"required, one of: {', '.join(found)}"
        if not isinstance(prompt, str) or not prompt.strip():
            errors["prompt"] = "required: a description of the image"
        if negative is not None and not isinstance(negative, str):
            errors["negative_prompt"] = "text, or leave it out"
        if errors:
            raise FieldErrors(errors)
        workflow, values = job_values(model_id, prompt, negative, settings)
        num_images = settings.get("num_images")
        num_images = 1 if num_images is None else num_images
        try:
            job, _ = await self.state.job_service.submit(
                caller(request, self.state), workflow, values, num_images=num_images
            )
        except FieldErrors as exc:
            raise renamed(exc, FIELD_NAMES) from None
        count = len(job.all_prompts)
        return json_response(
            {
                "job_id": job.id,
                "status": "pending",
                "num_images": count,
                "message": f"Image generation job submitted successfully for {count} image(s)",
            }
        )

    async def status(self, request: web.Request) -> web.Response:
        job = await self.state.job_service.visible(caller(request, self.state), request.match_info["job_id"])
        shown = self.state.job_service.view(job)
        seed_status = STATUSES.get(job.status, "failed")
        params, settings = job.params, seed_settings(job.params)
        rows = await self.state.gallery.rows_of(job.images)
        reply = {
            "id": job.id,
            "status": seed_status,
            "model_id": job.model,
            "prompt": params.get("prompt"),
            "negative_prompt": params.get("negative_prompt"),
            "settings": settings,
            "created_at": iso(job.created_at),
            "started_at": iso(job.started_at),
            "completed_at": iso(job.finished_at),
            "message": message(job, seed_status, shown, len(rows)),
            "progress": progress_of(job, seed_status),
            "images": [
                {
                    "id": str(row["id"]),
                    "file_path": "/".join(p for p in (row["subfolder"], row["filename"]) if p),
                    "created_at": iso(row["mtime"]),
                    "metadata": image_metadata(job, n, len(rows)),
                }
                for n, row in enumerate(rows, start=1)
            ],
        }
        if seed_status == "failed":
            reply["error_message"] = job.error or f"the job was {job.status}"
        return json_response(reply)

    async def queue(self, request: web.Request) -> web.Response:
        numbers = await self.state.job_service.queue_stats()
        every = await self.state.db.execute_settled(records.status_counts)
        reply: dict[str, Any] = {**tally(merged(every)), "queue_size": numbers["pending"]}
        if flag(request, "detailed"):
            since = time.time() - records.RECENT_SECONDS
            recent = await self.state.db.execute_settled(lambda conn: records.status_counts(conn, since=since))
            reply["recent_24h"] = tally(merged(recent))
            reply["avg_processing_time_seconds"] = numbers["average_seconds"]
            reply["models"] = {model or "unknown": tally(counts) for model, counts in recent.items()}
            reply["failure_rate"] = round(100 * numbers["failure_rate"], 2)
        return json_response(reply)

    async def reset_queue(self, _request: web.Request) -> web.Response:
        done = await self.state.job_service.reset()
        count = len(done["requeued"])
        return json_response(
            {
                "status": "success",
                "reset_count": count,
                "failed_count": len(done["failed"]),
                "message": f"Reset {count} stalled jobs to pending status",
            }
        )

    async def enrich(self, request: web.Request) -> web.Response:
        body = await read_json(request)
        style = body.get("style") or "cyberpunk"  # CyberImage's default style
        done = await prompts.enrich(self.state, body.get("prompt"), style)
        return json_response({k: done[k] for k in ENRICH_FIELDS if k in done})

    async def gallery(self, request: web.Request) -> web.Response:
        page, limit = paging(request, "limit", 20, size_floor=1, size_ceiling=50)
        query = index.FileQuery(
            root="output",
            recursive=True,
            kind="image",
            search=request.query.get("search", "").strip() or None,
            model=request.query.get("model", "").strip() or None,
            owner=restricted_to(request, self.state),
        )
        rows = await self.state.db.execute_fn(
            lambda conn: index.list_files(conn, query, offset=(page - 1) * limit, limit=limit)
        )
        total = await self.state.gallery.count(query)
        return json_response(
            {
                "images": [gallery_image(r) for r in rows],
                "page": page,
                "limit": limit,
                "has_more": page * limit < total,
                "total": total,
            }
        )

    async def get_image(self, request: web.Request) -> web.StreamResponse:
        row = await self.state.gallery.get(image_id(request, prefix="img_"))
        await require_visible(request, self.state, row)
        return web.FileResponse(self.state.gallery.path_of(row))

    async def metadata(self, request: web.Request) -> web.Response:
        row = await self.state.gallery.get(image_id(request, prefix="img_"))
        await require_visible(request, self.state, row)
        fields = fields_of(row)
        return json_response(
            {
                "model_id": row["model"],
                "prompt": row["positive"],
                "negative_prompt": row["negative"],
                "settings": {
                    "num_inference_steps": fields.get("steps"),
                    "guidance_scale": fields.get("cfg"),
                    "height": row["height"],
                    "width": row["width"],
                },
                "generation_time": row["mtime"],
                "image_number": 1,
                "total_images": 1,
            }
        )

    async def delete(self, request: web.Request) -> web.Response:
        row = await self.state.gallery.get(image_id(request, prefix="img_"))
        await require_visible(request, self.state, row)
        user = request.get("cozygen_user")
        _, _, errors = await self.state.gallery.trash([row], by=user.username if user else None)
        if errors:
            raise BadRequest(f"unable to delete the image: {errors[0]}", code="DELETE_FAILED")
        return json_response({"status": "success", "message": "Image deleted successfully"})


def add_routes(routes: Routes, state: CozyGenState) -> None:
    r = CyberImageRoutes(state)
    routes.get(f"{BASE}/models", access=VIEWER)(in_seed_shape(r.models))
    routes.post(f"{BASE}/generate", access=USER)(in_seed_shape(r.generate))
    routes.get(f"{BASE}/status/{{job_id}}", access=VIEWER)(in_seed_shape(r.status))
    routes.get(f"{BASE}/queue", access=VIEWER)(in_seed_shape(r.queue))
    routes.post(f"{BASE}/reset_queue", access=ADMIN)(in_seed_shape(r.reset_queue))
    routes.post(f"{BASE}/enrich", access=USER)(in_seed_shape(r.enrich))
    routes.get(f"{BASE}/gallery", access=VIEWER)(r.gallery)
    routes.get(f"{BASE}/get_image/{{image_id}}", access=VIEWER)(r.get_image)
    routes.get(f"{BASE}/image/{{image_id}}/metadata", access=VIEWER)(r.metadata)
    routes.delete(f"{BASE}/image/{{image_id}}", access=USER)(r.delete)
