"""A backend: a ComfyUI server that runs CozyGen's jobs. ``local`` is this ComfyUI (always there, never stored);
the others are rows of the ``profiles`` table with provider ``comfyui`` (migration 19)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

LOCAL_ID = "local"  # this ComfyUI: jobs go on its own queue through the Host seam, never over HTTP
UP, DOWN, UNKNOWN, DISABLED = "up", "down", "unknown", "disabled"


@dataclass(frozen=True)
class Backend:
    """One backend as stored. ``secret`` (a bearer token, or the password of basic auth) never leaves the server:
    :meth:`public` says only whether one is set."""

    id: str
    name: str
    url: str | None  # None for the local ComfyUI; else http(s)://host[:port][/prefix], no credentials, no query
    auth_kind: str = "none"  # none | bearer | basic
    auth_user: str | None = None
    secret: str | None = None
    enabled: bool = True
    max_jobs: int = 1  # jobs CozyGen keeps on its queue at once (running or waiting there)
    tags: tuple[str, ...] = ()
    subfolder: str = ""  # where its outputs land inside the local output folder
    created_at: float = 0.0
    updated_at: float = 0.0

    @property
    def local(self) -> bool:
        return self.id == LOCAL_ID

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "url": self.url,
            "local": self.local,
            "auth": self.auth_kind,
            "auth_user": self.auth_user,
            "has_secret": bool(self.secret),
            "enabled": self.enabled,
            "max_jobs": self.max_jobs,
            "tags": list(self.tags),
            "subfolder": self.subfolder,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


@dataclass
class Health:
    """What CozyGen last saw of a backend (kept in memory, refreshed by the monitor)."""

    state: str = UNKNOWN  # up | down | unknown | disabled
    checked_at: float | None = None
    latency_ms: float | None = None
    error: str | None = None  # why it is down, in words a person can act on
    queue_running: int = 0
    queue_pending: int = 0
    comfyui_version: str | None = None
    down_since: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "checked_at": self.checked_at,
            "latency_ms": self.latency_ms,
            "error": self.error,
            "queue": {"running": self.queue_running, "pending": self.queue_pending},
            "comfyui_version": self.comfyui_version,
            "down_since": self.down_since,
        }
