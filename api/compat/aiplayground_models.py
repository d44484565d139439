"""AI Playground's model routes (seed 001) at /cozygen/compat/aiplayground/api/: downloadModel, stopDownloadModel
and checkModelAlreadyLoaded, over CozyGen's download queue and ComfyUI's model lists.

Both request shapes are taken: the real client's ``{"data": [{"repo_id": "owner/name/path/file.ext", "type",
"backend"}]}`` (``type`` a number of its model-type enum or a name) and the seed document's ``{"data": {"repo",
"filename", "type", "destination"?}}``. The progress stream follows the real backend's framing, ``data:{json}\\0``
(its client splits the body on NUL; the seed document shows plain SSE), unless the request's ``Accept`` asks for
``text/event-stream``: then each event is a standard ``data: {json}\\n\\n`` frame. The downloads live in CozyGen's
queue: closing the stream does not stop them; ``stopDownloadModel`` cancels those this mount started.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from ...core.accounts.access import ADMIN, VIEWER
from ...core.errors import BadRequest, Conflict, CozyGenError, Forbidden
from ...core.events import Event
from ...core.models.service import human_bytes
from ...core.models.sources import Source, parse_source
from ..auth.authorization import same_origin
from ..auth.credentials import VIA_KEY
from ..gallery import actor
from ..responses import json_response, read_json
from ..routing import Routes
from ..state import CozyGenState

EVENT = "download.changed"
FINAL = frozenset({"done", "failed", "cancelled"})
MAX_MODELS = 50
# AI Playground's model types (its service's convert_model_type, and the names its newer client sends) and the
# seed's, to ComfyUI's folders; a ComfyUI folder name is taken as it is.
TYPE_FOLDERS = {
    "checkpoint": "checkpoints",
    "stablediffusion": "checkpoints",
    "defaultcheckpoint": "checkpoints",
    "inpaint": "checkpoints",
    "lora": "loras",
    "defaultlora": "loras",
    "vae": "vae",
    "esrgan": "upscale_models",
    "upscale": "upscale_models",
    "upscaler": "upscale_models",
    "embedding": "embeddings",
    "unet": "diffusion_models",
    "diffusion_model": "diffusion_models",
    "clip": "text_encoders",
    "text_encoder": "text_encoders",
    "controlnet": "controlnet",
}
TYPE_NUMBERS = {
    1: "stablediffusion",
    2: "lora",
    3: "vae",
    4: "esrgan",
    5: "embedding",
    6: "inpaint",
    100: "unet",
    101: "clip",
    102: "vae",
    103: "defaultcheckpoint",
    104: "defaultlora",
    105: "controlnet",
}
ERR_TYPES = {"NOT_ENOUGH_DISK_SPACE": "not_enough_disk_space", "MODEL_NOT_FOUND": "repositories_not_found"}


@dataclass(frozen=True)
class Wanted:
    """One model a request names: as the client calls it, where it comes from and where it goes."""

    repo_id: str
    type: Any
    backend: Any
    source: Source
    folder: str
    name: str

    @property
    def path(self) -> str:
        return f"{self.folder}/{self.name}"


def folder_of(kind: Any, folders: list[str]) -> str:
    """The ComfyUI folder of an AI Playground model type (a number, a type name or a folder name)."""
    if isinstance(kind, int) and not isinstance(kind, bool):
        kind = TYPE_NUMBERS.get(kind, str(kind))
    if isinstance(kind, str):
        if kind in folders:
            return kind
        folder = TYPE_FOLDERS.get(kind.strip().lower().replace(" ", ""))
        if folder in folders:
            return folder
    known = sorted({*TYPE_FOLDERS, *folders})
    raise BadRequest(f"unknown model type {kind!r}: use one of {', '.join(known)}", code="UNKNOWN_FOLDER")


def hf_source(repo: str, file: str) -> Source:
    return parse_source({"hf": {"repo": repo, "file": file}})


def split_repo_id(repo_id: Any) -> tuple[str, str]:
    """``owner/name/path/to/file.ext`` → (``owner/name``, ``path/to/file.ext``); 400 for a whole repository."""
    parts = repo_id.strip().strip("/").split("/") if isinstance(repo_id, str) else []
    if len(parts) < 3 or not all(parts):
        raise BadRequest(
            f"repo_id must name one file: owner/name/path/to/file.safetensors, not {str(repo_id)[:100]!r} "
            "(CozyGen downloads single model files into ComfyUI's folders)",
            code="INVALID_SOURCE",
        )
    return "/".join(parts[:2]), "/".join(parts[2:])


def wanted_models(body: Mapping[str, Any], folders: list[str]) -> tuple[list[Wanted], bool]:
    """The models a downloadModel or checkModelAlreadyLoaded body names, and whether it was the seed's shape."""
    data = body.get("data")
    if isinstance(data, dict):  # the seed document: {repo, filename, type, destination?}
        return [seed_model(data, folders)], True
    if not isinstance(data, list) or not data or len(data) > MAX_MODELS:
        raise BadRequest(
            f'send {{"data": [{{"repo_id": "owner/name/file.safetensors", "type": "checkpoint"}}]}} '
            f"(1 to {MAX_MODELS} models)",
            code="INVALID_REQUEST",
        )
    found = []
    for item in data:
        if not isinstance(item, dict):
            raise BadRequest("each item of data is {repo_id, type, backend}", code="INVALID_REQUEST")
        repo, file = split_repo_id(item.get("repo_id"))
        source = hf_source(repo, file)
        name = file.rpartition("/")[2]
        found.append(
            Wanted(
                item["repo_id"],
                item.get("type"),
                item.get("backend"),
                source,
                folder_of(item.get("type"), folders),
                name,
            )
        )
    return found, False


def seed_model(data: Mapping[str, Any], folders: list[str]) -> Wanted:
    repo, filename = data.get("repo"), data.get("filename")
    if not isinstance(repo, str) or not isinstance(filename, str) or not repo.strip() or not filename.strip():
        raise BadRequest(
            'send {"data": {"repo": "owner/name", "filename": "file.safetensors", "type": ...}}', code="INVALID_REQUEST"
        )
    source = hf_source(repo.strip(), filename.strip())
    name = filename.strip().rpartition("/")[2]
    destination = data.get("destination")
    folder = None
    if isinstance(destination, str) and destination.strip("/ "):  # "<folder>/<sub>" as the seed shows it
        head, _, rest = destination.strip("/ ").partition("/")
        if head in folders:
            folder, name = head, f"{rest}/{name}" if rest else name
    if folder is None:
        folder = folder_of(data.get("type", "checkpoint"), folders)
    return Wanted(f"{repo.strip()}/{filename.strip()}", data.get("type"), None, source, folder, name)


def human(size: float | None) -> str:
    """Bytes as AI Playground shows them: ``1.2GB``, ``512.0KB``, ``10B``."""
    return human_bytes(float(size or 0), base=1024, space="")


def progress_event(wanted: Wanted, view: Mapping[str, Any]) -> dict[str, Any]:
    percent = view.get("percent") or 0.0
    return {
        "type": "download_model_progress",
        "repo_id": wanted.repo_id,
        "download_size": human(view.get("done")),
        "total_size": human(view.get("total")),
        "percent": round(percent, 2),
        "speed": f"{human(view.get('speed'))}/s",
        "status": "downloading",
        "progress": round(percent, 2),
    }


def completed_event(wanted: Wanted) -> dict[str, Any]:
    return {"type": "download_model_completed", "repo_id": wanted.repo_id, "status": "complete", "path": wanted.path}


def error_event(code: str | None, message: str, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """AI Playground's error event; for a file that does not fit, the sizes as its backends name them (``need``
    and ``free``, ``requires_space`` and ``free_space``: its client's type, text such as ``"4.2GB"``)."""
    event: dict[str, Any] = {
        "type": "error",
        "err_type": ERR_TYPES.get(code or "", "download_exception"),
        "code": code,
        "message": message,
    }
    if code == "NOT_ENOUGH_DISK_SPACE" and extra:
        need, free = extra.get("need"), extra.get("free")
        event.update(
            {"need": human(need), "free": human(free), "requires_space": human(need), "free_space": human(free)}
        )
    return event


class Frames:
    """Writes events in the framing the client reads: standard SSE, or the real backend's NUL-separated one."""

    def __init__(self, request: web.Request) -> None:
        self.sse = "text/event-stream" in request.headers.get("Accept", "")
        self.response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        )

    async def send(self, event: Mapping[str, Any]) -> None:
        body = orjson.dumps(event)
        await self.response.write(b"data: " + body + b"\n\n" if self.sse else b"data:" + body + b"\0")


class AIPlaygroundModelRoutes:
    def __init__(self, state: CozyGenState) -> None:
        self.state = state
        self.started: set[str] = set()  # the downloads this mount queued (stopDownloadModel cancels them)

    async def download(self, request: web.Request) -> web.StreamResponse:
        wanted, _seed = wanted_models(await read_json(request), self.state.host.model_folders())
        service, hub = self.state.downloads, self.state.job_hub
        frames = Frames(request)
        await frames.response.prepare(request)
        subscription = hub.subscribe()
        try:
            following: dict[str, Wanted] = {}
            for model in wanted:
                try:
                    view = await service.enqueue(model.source, model.folder, model.name, by=actor(request))
                except Conflict as exc:
                    if exc.code == "MODEL_EXISTS":
                        await frames.send(completed_event(model))
                        continue
                    if exc.code != "DOWNLOAD_EXISTS" or not isinstance(exc.extra.get("download"), dict):
                        raise
                    view = exc.extra["download"]
                self.started.add(view["id"])
                following[view["id"]] = model
            failed = await self.follow(frames, subscription, following)
            if not failed:
                await frames.send({"type": "allComplete"})
        except CozyGenError as exc:
            await frames.send(error_event(exc.code, exc.message, exc.extra))
        except (ConnectionResetError, asyncio.CancelledError):
            pass  # the client went away: the downloads go on in CozyGen's queue
        finally:
            hub.unsubscribe(subscription)
        return frames.response

    async def follow(self, frames: Frames, subscription: Any, following: dict[str, Wanted]) -> bool:
        """Send each download's progress until all are done; True once one failed (its error sent)."""
        waiting = dict(following)
        for download_id in list(waiting):  # those that ended before the subscription
            view = await self.state.downloads.get(download_id)
            if await self.report(frames, waiting, view):
                return True
        while waiting and not subscription.overflowed:
            try:
                event: Event = await asyncio.wait_for(subscription.queue.get(), timeout=15.0)
            except asyncio.TimeoutError:
                continue
            if event.kind == EVENT and event.data.get("id") in waiting:
                if await self.report(frames, waiting, event.data):
                    return True
        return False

    async def report(self, frames: Frames, waiting: dict[str, Wanted], view: Mapping[str, Any]) -> bool:
        model = waiting.get(view["id"])
        if model is None:
            return False
        if view["state"] == "done":
            del waiting[view["id"]]
            await frames.send(completed_event(model))
        elif view["state"] in FINAL:
            message = view.get("error") or f"the download of {model.repo_id} was {view['state']}"
            await frames.send(error_event(view.get("code") or "CANCELLED", message, view))
            return True
        elif view["state"] == "running" and view.get("done"):
            await frames.send(progress_event(model, view))
        return False

    async def stop(self, request: web.Request) -> web.Response:
        """Cancel what this mount started and has not finished (as AI Playground's stop does). A GET that changes
        state, so a cookie sign-in must come from this origin (a link on another site cannot cancel)."""
        if request.get(VIA_KEY) == "cookie" and not same_origin(request):
            raise Forbidden("cross-origin request refused; send it from the CozyGen page", code="CROSS_ORIGIN")
        for download_id in list(self.started):
            try:
                await self.state.downloads.cancel(download_id)
            except CozyGenError:
                pass  # finished, or gone
            self.started.discard(download_id)
        return json_response({"code": 0, "message": "success"})

    async def already_loaded(self, request: web.Request) -> web.Response:
        """Whether each model is on disk (ComfyUI 0.3.75 cannot say which models are in memory)."""
        body = await read_json(request)
        _, models = await self.state.definitions.get(refresh=True)
        wanted, seed = wanted_models(body, list(models))
        if seed:
            found = present(models, wanted[0].name, None)
            return json_response(
                {
                    "code": 0,
                    "message": "success",
                    "data": {"loaded": found is not None, "path": found, "in_memory": None},
                }
            )
        data = [
            {
                "repo_id": w.repo_id,
                "type": w.type,
                "backend": w.backend,
                "already_loaded": present(models, w.name, w.folder) is not None,
            }
            for w in wanted
        ]
        return json_response({"code": 0, "message": "success", "data": data})


def present(models: Mapping[str, list[str]], name: str, folder: str | None) -> str | None:
    """``<folder>/<file>`` of a listed model whose name (or base name) is ``name``, in ``folder`` or any."""
    base = os.path.basename(name)
    for where, files in models.items():
        if folder is not None and where != folder:
            continue
        for file in files:
            if file == name or file.replace("\\", "/").rpartition("/")[2] == base:
                return f"{where}/{file}"
    return None


def add_routes(routes: Routes, state: CozyGenState, base: str) -> None:
    r = AIPlaygroundModelRoutes(state)
    routes.post(f"{base}/api/downloadModel", access=ADMIN)(r.download)
    routes.get(f"{base}/api/stopDownloadModel", access=ADMIN)(r.stop)
    routes.post(f"{base}/api/checkModelAlreadyLoaded", access=VIEWER)(r.already_loaded)
