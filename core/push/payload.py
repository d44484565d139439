"""What a push about a job says: the JSON the service worker turns into a notification (web/app/public/sw.js)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

DONE, FAILED = "job.completed", "job.failed"
EXCERPT = 120  # characters of the prompt in the body
ICON = "/cozygen/icon-192.png"
THUMB_WIDTH = 384
PROMPT_NAMES = ("positive", "prompt", "positive_prompt", "text")  # where a job's values keep its prompt


def excerpt(text: str, limit: int = EXCERPT) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def result_url(job_id: str) -> str:
    """Where the app shows a job's result: its history, newest first (the job is on top)."""
    return "/cozygen/history?" + urlencode({"job": job_id})


def thumb_url(image: dict[str, Any]) -> str:
    query = {
        "filename": image["filename"],
        "subfolder": image.get("subfolder", ""),
        "type": image.get("type", "output"),
    }
    return "/cozygen/thumb?" + urlencode({**query, "w": THUMB_WIDTH})


def build(kind: str, job: dict[str, Any]) -> dict[str, Any]:
    """The notification for a job that ended (``kind`` is job.completed or job.failed), from its event data."""
    job_id = str(job.get("id") or "")
    workflow = str(job.get("workflow") or "CozyGen").rsplit("/", 1)[-1].removesuffix(".json")
    name = excerpt(workflow, 60)
    params = job.get("params")
    params = params if isinstance(params, dict) else {}
    prompt = next((p for p in map(params.get, PROMPT_NAMES) if isinstance(p, str) and p.strip()), "")
    images = [i for i in job.get("images") or () if isinstance(i, dict) and i.get("filename")]
    if kind == DONE:
        count = len(images)
        title = f"{name}: done" + (f" ({count} images)" if count > 1 else "")
        body = excerpt(prompt) if prompt else "Your image is ready." if count else "Your job is done."
    else:
        title = f"{name}: failed"
        body = excerpt(str(job.get("error") or "")) or "The job did not finish."
    return {
        "title": title,
        "body": body,
        "icon": ICON,
        "image": thumb_url(images[0]) if kind == DONE and images else None,
        "url": result_url(job_id),
        "tag": f"cozygen-job-{job_id}",
        "job_id": job_id,
        "status": "completed" if kind == DONE else "failed",
    }
