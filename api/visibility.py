"""Who may see which outputs: with the ``gallery_visibility`` setting at ``per_user``, a user who is not an
admin sees only the outputs of their own jobs (an output belongs to the job whose prompt saved it)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from ..core.accounts.access import ADMIN
from ..core.errors import NotFound
from ..core.gallery import input_owners
from ..core.jobs import records
from ..core.paths import PathRejected, clean_name, clean_relative
from .auth.credentials import current_user
from .state import CozyGenState


def per_user(state: CozyGenState) -> bool:
    """Whether outputs are per user now (auth on, ``gallery_visibility: per_user``)."""
    return state.auth_enabled and state.settings.get("gallery_visibility") == "per_user"


def restricted_to(request: web.Request, state: CozyGenState) -> str | None:
    """The user whose outputs alone this request may see; None when it may see every output."""
    if not per_user(state):
        return None
    user = current_user(request)
    return None if user is None or user.role == ADMIN else user.username


async def require_visible(request: web.Request, state: CozyGenState, row: Any) -> None:
    """404 (as for a file that does not exist) when the request may not see this indexed file."""
    owner = restricted_to(request, state)
    if owner is None or row["root"] not in ("output", "input"):
        return
    if row["root"] == "input":
        await require_own_input(request, state, row["subfolder"], row["filename"])
        return
    prompt_id = row["prompt_id"]
    if not await state.db.execute_fn(lambda conn: records.owns_prompt(conn, owner, prompt_id)):
        raise NotFound(f"no image with id {row['id']}", code="IMAGE_NOT_FOUND")


async def require_own_input(request: web.Request, state: CozyGenState, subfolder: str, name: str) -> None:
    """404 when an input file is another user's (files nobody put there through CozyGen or ComfyUI's uploads
    are everyone's)."""
    owner = restricted_to(request, state)
    if owner is None:
        return
    holder = await state.db.execute_fn(lambda conn: input_owners.owner_of(conn, subfolder, name))
    if holder is not None and holder != owner:
        raise NotFound("Source not found", code="SOURCE_NOT_FOUND")


async def require_visible_path(request: web.Request, state: CozyGenState, root: str, subfolder: Any, name: Any) -> None:
    """The same for a file named by its folder and name (unindexed outputs count as nobody's)."""
    if root not in ("output", "input") or restricted_to(request, state) is None:
        return
    try:
        subfolder, name = clean_relative(subfolder or ""), clean_name(name)
    except PathRejected:  # a name the paths module refuses is no file of this user's either
        raise NotFound("Source not found", code="SOURCE_NOT_FOUND") from None
    if root == "input":
        await require_own_input(request, state, subfolder, name)
        return
    row = await state.gallery.find("output", subfolder, name)
    if row is None:
        raise NotFound("Source not found", code="SOURCE_NOT_FOUND")
    await require_visible(request, state, row)


async def record_input(state: CozyGenState, request: web.Request, subfolder: str, name: str) -> None:
    """The signed-in user put this file into the input folder (recorded before the answer says so)."""
    user = current_user(request)
    if user is not None:
        state.gate.input_recorded(subfolder, name, user.username)  # for open streams, at once
        await state.db.execute_write_fn(lambda conn: input_owners.record(conn, subfolder, name, user.username))


async def hidden_inputs(request: web.Request, state: CozyGenState, subfolder: str) -> set[str]:
    """Names in one input subfolder that the request may not see (other users' files)."""
    owner = restricted_to(request, state)
    if owner is None:
        return set()
    return await state.db.execute_fn(lambda conn: input_owners.others_in(conn, subfolder, owner))


def owned_by(state: CozyGenState, owner: str, owned: set[str]) -> Callable[[Any], bool]:
    """Whether a prompt id is ``owner``'s: in ``owned`` (their prompt ids, read once), or a job the tracker
    follows now or followed lately (newer than ``owned``; such ids are added to it)."""

    def mine(prompt_id: Any) -> bool:
        prompt_id = str(prompt_id)
        if prompt_id in owned:
            return True
        if state.jobs.owner_of(prompt_id) == owner:
            owned.add(prompt_id)
            return True
        return False

    return mine


def stream_filter(request: web.Request, state: CozyGenState, owned: set[str], own_inputs: set[tuple[str, str]]) -> Any:
    """For a gallery stream: whether a file event's file belongs to the restricted user (``owned`` holds their
    prompt ids, ``own_inputs`` their input files, when the stream opened). Of the input folder, a restricted
    stream shows live only the files recorded as the user's (others' uploads never, even for a moment)."""
    owner = restricted_to(request, state)
    mine = owned_by(state, owner, owned) if owner is not None else None

    def visible(data: dict[str, Any]) -> bool:
        if mine is None or data.get("type") not in ("output", "input"):
            return True
        if data.get("type") == "input":
            item = data.get("item") or {}
            key = (str(item.get("subfolder", "")), str(item.get("filename", "")))
            return key in own_inputs or state.gate.input_owner(*key) == owner
        prompt_id = data.get("prompt_id")
        return bool(prompt_id) and mine(prompt_id)

    return visible


async def own_inputs(request: web.Request, state: CozyGenState) -> set[tuple[str, str]]:
    owner = restricted_to(request, state)
    if owner is None:
        return set()
    return await state.db.execute_fn(lambda conn: input_owners.files_of(conn, owner))


async def owned_prompts(request: web.Request, state: CozyGenState) -> set[str]:
    owner = restricted_to(request, state)
    if owner is None:
        return set()
    return await state.db.execute_fn(lambda conn: records.prompts_of(conn, owner))
