"""The workflow checks' ``model_sources``: for each missing model, where it can be downloaded from
(``core/models/catalogue.py``) and its newest unfinished or failed download.

Admins get the sources and downloads; others learn only whether a source is ``known`` (a recorded URL may carry
what an admin pasted into it, and only admins may download).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from ..core.models import catalogue, records
from ..core.models.catalogue import Key, Known
from .jobs import sees_everyones
from .state import CozyGenState

DOWNLOAD_STATES = ("queued", "running", "failed")  # what a missing model's line shows
ALL_STATES = (*records.ACTIVE, *records.FINAL)


async def known_sources(
    state: CozyGenState, missing: Mapping[str, list[str]], workflow: Any = None
) -> list[tuple[str, str, Known | None]]:
    """Each missing model with its suggested source: recorded, the workflow's own list, the shipped catalogue."""
    if not missing:
        return []
    keys = [(folder, name) for folder, names in missing.items() for name in names]
    recorded = await state.db.execute_fn(lambda conn: catalogue.recorded(conn, keys))
    shipped = await asyncio.to_thread(catalogue.shipped)
    return catalogue.suggest(missing, recorded, catalogue.workflow_models(workflow), shipped)


async def latest_downloads(state: CozyGenState, keys: list[Key]) -> dict[Key, dict[str, Any]]:
    """The newest download of each target when it is queued, running or failed (a newer done or cancelled one
    hides older failures), as the service shows it (live progress)."""

    def newest(conn: Any) -> dict[Key, str]:
        rows = {key: records.newest_download(conn, *key, states=ALL_STATES) for key in set(keys)}
        return {key: row["id"] for key, row in rows.items() if row is not None and row["state"] in DOWNLOAD_STATES}

    found = await state.db.execute_fn(newest)
    return {key: await state.downloads.get(download_id) for key, download_id in found.items()}


def entry(folder: str, name: str, known: Known | None) -> dict[str, Any]:
    return {
        "folder": folder,
        "name": name,
        "known": known is not None,
        "source": known.source.as_dict() if known else None,
        "label": known.source.label if known else None,
        "origin": known.origin if known else None,
        "sha256": known.sha256 if known else None,
    }


async def model_sources(
    request: web.Request, state: CozyGenState, report: Mapping[str, Any], workflow: Any = None
) -> list[dict[str, Any]]:
    """The ``model_sources`` list of a check ``report`` (``workflow``: the file as stored, for its ``models``)."""
    missing = report.get("missing_models") or {}
    suggestions = await known_sources(state, missing, workflow)
    if not suggestions:
        return []
    if not sees_everyones(request, state):
        return [
            {"folder": f, "name": n, "known": k is not None, "source": None, "sha256": None, "download": None}
            for f, n, k in suggestions
        ]
    keys = [(f, n) for f, n, _ in suggestions]
    downloads = await latest_downloads(state, keys) if state.downloads_started else {}
    return [{**entry(f, n, k), "download": downloads.get((f, n))} for f, n, k in suggestions]


async def with_sources(
    request: web.Request, state: CozyGenState, report: dict[str, Any], workflow: Any = None
) -> dict[str, Any]:
    """A check ``report`` with its ``model_sources``."""
    return {**report, "model_sources": await model_sources(request, state, report, workflow)}
