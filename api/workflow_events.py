"""``workflows.changed`` on the jobs event stream: a workflow file was saved, replaced or removed (in ComfyUI's
editor or through CozyGen), so the phone re-reads its list, and the form it has open when that file changed.

An editor change reaches only the users who see that editor folder (:func:`editor_root`), with the
changed names; a change of CozyGen's own folder reaches everyone, without names (it holds every user's imports).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from ..core.jobs.service import Caller
from ..core.workflows.editor import editor_folder
from ..core.workflows.watch import WorkflowWatcher
from .state import CozyGenState

EVENT = "workflows.changed"


def add_watcher(state: CozyGenState) -> None:
    holder: dict[str, WorkflowWatcher] = {}

    def report(source: str, editor_user: str | None, names: list[str]) -> None:
        state.job_hub.publish(EVENT, {"source": source, "editor": editor_user, "names": names})

    async def start() -> None:
        user_dir = Path(state.host.user_directory())
        watcher = WorkflowWatcher(state.db_ready_data_dir / "workflows", user_dir, report)
        await asyncio.to_thread(watcher.start)
        holder["watcher"] = watcher

    async def stop() -> None:
        watcher = holder.pop("watcher", None)
        if watcher is not None:
            await asyncio.to_thread(watcher.stop)

    state.starters.append(start)
    state.stoppers.append(stop)


def editor_root(state: CozyGenState, username: str | None, *, admin: bool) -> Path | None:
    """The editor's workflows folder this user sees (``core.workflows.editor.editor_folder``'s rule)."""
    user_dir = Path(state.host.user_directory())
    return editor_folder(user_dir, username, admin=admin, auth=state.auth_enabled)


def editor_user_of(state: CozyGenState, caller: Caller) -> str | None:
    """The ComfyUI user folder whose editor workflows ``caller`` sees (None: none)."""
    folder = editor_root(state, caller.username, admin=caller.sees_all)
    return folder.parent.name if folder is not None else None


def accepts(data: dict[str, Any], editor_user: str | None) -> bool:
    return data.get("source") == "cozygen" or (editor_user is not None and data.get("editor") == editor_user)
