"""The adapters of ComfyUI's own routes that a user who is not an admin may call (core/comfyui/routes.py).

ComfyUI's API is single-user. While outputs are per user (``gallery_visibility: per_user``), each
adapter understands every parameter of its route and lets through only what is the caller's own:

- ``view``: every spelling of a file (``type``, the ``[output]`` suffix, ``subfolder``) is resolved to
  the real path; an output must be the caller's, a temp file one of their prompts wrote, nothing else;
- ``upload``: uploads go to the input folder only, and ``/upload/mask`` may copy only what ``view`` serves;
- ``prompt``: a graph may name no output, temp or input file that is not the caller's, nor any outside file,
  and runs under a client id nobody else holds (without one, under the poster's channel: all their sockets);
- ``socket``: a client id belongs to the first user who uses it;
- ``history``/``queue`` list, and ``history_change``/``queue_change``/``interrupt`` touch, own prompts only.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import os
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import orjson
from aiohttp import web

from ..core.accounts.access import ADMIN
from ..core.accounts.users import User
from ..core.comfyui.file_refs import OUTSIDE, GraphRef, Located, annotated, graph_file_refs, locate
from ..core.comfyui.routes import Rule
from ..core.errors import BadRequest, Conflict, Forbidden, NotFound
from ..core.gallery import input_owners
from ..core.jobs import records
from .state import CozyGenState
from .visibility import (
    owned_by,
    owned_prompts,
    per_user,
    record_input,
    require_own_input,
    require_visible,
    restricted_to,
)

POSTED_BY: contextvars.ContextVar[str | None] = contextvars.ContextVar("cozygen_posted_by", default=None)


def roots(state: CozyGenState) -> dict[str, str]:
    """ComfyUI's output, input and temp folders, by name."""
    host = state.host
    return {"output": host.output_directory(), "input": host.input_directory(), "temp": host.temp_directory()}


# -- which files a request names ---------------------------------------------------------------------------
def view_paths(state: CozyGenState, query: Mapping[str, str]) -> list[str]:
    """Every file ``/view`` (or ``/upload/mask``'s ``original_ref``) may serve for these parameters: the folder
    from the name's suffix and from ``type``, the name as given and its last part (ComfyUI's versions differ)."""
    name = query.get("filename")
    if not isinstance(name, str) or not name or "\0" in name:
        return []
    folders = roots(state)
    stripped, from_suffix = annotated(name)
    kinds = {from_suffix, str(query.get("type") or "output")} - {None}
    subfolder = str(query.get("subfolder") or "")
    found = []
    for kind in kinds:
        if kind in folders:
            for part in {stripped, os.path.basename(stripped), name, os.path.basename(name)}:
                if part:
                    found.append(os.path.join(folders[kind], subfolder, part))
    return found


async def visible(request: web.Request, state: CozyGenState, where: Located) -> bool:
    """Whether the restricted caller may read this real file."""
    owner = restricted_to(request, state)
    if owner is None:
        return True
    if where.root == "input":
        try:
            await require_own_input(request, state, where.subfolder, where.name)
        except NotFound:
            return False
        return True
    if where.root == "output":
        row = await state.gallery.find_or_index("output", where.subfolder, where.name)
        if row is None:
            return False
        try:
            await require_visible(request, state, row)
        except NotFound:
            return False
        return True
    if where.root == "temp":
        prompt_id = state.gate.temp_prompt(where.subfolder, where.name)
        return prompt_id is not None and owned_by(state, owner, await owned_prompts(request, state))(prompt_id)
    return False  # OUTSIDE: no folder of ComfyUI's


async def require_readable(request: web.Request, state: CozyGenState, paths: list[str], what: str) -> None:
    """404 (as for a file that does not exist) when any existing file among ``paths`` is not the caller's, or
    when none exists (ComfyUI's answer then: the same for another user's file and for none)."""
    folders = roots(state)
    located = await asyncio.to_thread(lambda: [locate(p, folders) for p in paths if os.path.lexists(p)])
    if not located:
        raise NotFound(f"{what} not found", code="SOURCE_NOT_FOUND")
    for where in located:
        if not await visible(request, state, where):
            raise NotFound(f"{what} not found", code="SOURCE_NOT_FOUND")


# -- ComfyUI's answers: its lists narrowed, a posted prompt claimed ----------------------------------------
async def only_own_prompts(request: web.Request, state: CozyGenState, response: web.StreamResponse) -> Any:
    """ComfyUI's history and queue as a restricted user may see them: the prompts of their own jobs."""
    owner = restricted_to(request, state)
    body = getattr(response, "body", None)
    if owner is None or response.status != 200 or not isinstance(body, bytes):
        return response
    try:
        listed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return response
    if not isinstance(listed, dict):
        return response
    mine = owned_by(state, owner, await owned_prompts(request, state))
    if request.path.removeprefix("/api") == "/queue":  # items are [number, prompt_id, graph, extra, outputs]
        kept = {k: [i for i in v if isinstance(i, list) and len(i) > 1 and mine(i[1])] if isinstance(v, list) else v
                for k, v in listed.items()}  # fmt: skip
    else:
        kept = {prompt_id: entry for prompt_id, entry in listed.items() if mine(prompt_id)}
    return web.json_response(kept, dumps=lambda value: orjson.dumps(value).decode())


def claim_prompt(state: CozyGenState, username: str, response: web.StreamResponse) -> None:
    """A prompt a signed-in user posted to ComfyUI's /prompt (its editor does) is recorded as that user's job."""
    body = getattr(response, "body", None)
    if response.status != 200 or not isinstance(body, bytes):
        return
    try:
        prompt_id = orjson.loads(body).get("prompt_id")
    except (orjson.JSONDecodeError, AttributeError):
        return
    if isinstance(prompt_id, str):
        state.jobs.claim(prompt_id, username)


# -- the adapters -------------------------------------------------------------------------------------------
async def admit(request: web.Request, state: CozyGenState, user: User, rule: Rule) -> web.StreamResponse | None:
    """Before ComfyUI's handler: raise to refuse, return a response to answer instead, None to pass on."""
    if not per_user(state):
        return None
    adapter = rule.adapter
    if adapter == "socket":
        client_id = request.query.get("clientId", "")
        if client_id and not state.gate.claim_client(client_id, user.username):
            raise Forbidden("this clientId is another user's; open the socket without one", code="CLIENT_ID_TAKEN")
        return None
    if adapter == "prompt":
        await check_prompt(request, state, user)
        return None
    if restricted_to(request, state) is None:
        return None
    if adapter == "view":
        await require_readable(request, state, view_paths(state, request.query), "file")
    elif adapter == "upload":
        await check_upload(request, state, user)
    elif adapter in ("queue_change", "history_change", "interrupt"):
        return await own_change(request, state, adapter)
    return None


async def after(request: web.Request, state: CozyGenState, user: User, rule: Rule, response: Any) -> Any:
    """After ComfyUI's handler: lists narrowed to own prompts; a prompt posted is the poster's job."""
    if rule.adapter in ("history", "queue"):
        return await only_own_prompts(request, state, response)
    if rule.adapter == "prompt":
        claim_prompt(state, user.username, response)
    if rule.adapter == "upload" and per_user(state):
        await record_upload(request, state, response)
    return response


async def record_upload(request: web.Request, state: CozyGenState, response: Any) -> None:
    """ComfyUI stored an upload in the input folder: it is the uploader's (unless it was someone's already)."""
    body = getattr(response, "body", None)
    if response.status != 200 or not isinstance(body, bytes):
        return
    try:
        stored = json.loads(body)
    except ValueError:
        return
    if isinstance(stored, dict) and stored.get("type") == "input" and isinstance(stored.get("name"), str):
        path = os.path.join(roots(state)["input"], os.path.normpath(str(stored.get("subfolder") or "")), stored["name"])
        where = await asyncio.to_thread(locate, path, roots(state))
        if where.root == "input":
            await record_input(state, request, where.subfolder, where.name)


async def json_body(request: web.Request) -> Any:
    """The body as ComfyUI's handler will read it (the standard library's json: it takes NaN and big numbers)."""
    try:
        return json.loads(await request.read())
    except (ValueError, RecursionError):
        raise BadRequest("the body must be JSON (at most a few hundred levels deep)", code="INVALID_JSON") from None


async def check_prompt(request: web.Request, state: CozyGenState, user: User) -> None:
    body = await json_body(request)
    if not isinstance(body, dict):
        return  # ComfyUI answers what it answers to a body that is no object
    client_id = body.get("client_id")
    if isinstance(client_id, str) and client_id and not state.gate.claim_client(client_id, user.username):
        raise Forbidden("this client_id is another user's; send your own", code="CLIENT_ID_TAKEN")
    POSTED_BY.set(user.username)  # read by prompt_hook, which ComfyUI's handler calls in this same task
    chosen = body.get("prompt_id")
    if chosen is not None and user.role != ADMIN and await prompt_id_taken(state, str(chosen)):
        raise Conflict("this prompt_id is taken; send a new one (or none)", code="PROMPT_ID_TAKEN")
    if restricted_to(request, state) is not None:
        await require_graph_files(request, state, body.get("prompt"))


async def prompt_id_taken(state: CozyGenState, prompt_id: str) -> bool:
    """Whether a prompt by this id exists (queued, in ComfyUI's history, or any CozyGen job's): reusing it
    would overwrite that prompt's history and outputs."""
    running, pending = state.host.queue_snapshot()
    if prompt_id in running or prompt_id in pending or state.host.in_history(prompt_id):
        return True
    return await state.db.execute_fn(lambda conn: records.prompt_exists(conn, prompt_id))


async def require_graph_files(request: web.Request, state: CozyGenState, graph: Any) -> None:
    """403 when a graph of a restricted caller names a file that is not theirs to read (another user's output
    or preview, or anything outside ComfyUI's input, output and temp folders), naming the node and input."""
    if restricted_to(request, state) is None:
        return
    folders = roots(state)
    refs: list[GraphRef] = await asyncio.to_thread(graph_file_refs, graph, folders)
    for ref in refs:
        if ref.where.root == OUTSIDE or not await visible(request, state, ref.where):
            raise Forbidden(
                f"node {ref.node} input {ref.input!r} names a file that does not exist or is not yours to read: "
                f"{ref.value!r}",
                code="FILE_NOT_YOURS",
                extra={"node_errors": {ref.node: {"errors": [{"type": "file_not_yours", "input": ref.input}]}}},
            )


async def check_upload(request: web.Request, state: CozyGenState, user: User) -> None:
    try:
        form = await request.post()  # ComfyUI's handler reads the same form, kept by aiohttp
    except (ValueError, AssertionError, LookupError) as error:
        raise BadRequest(f"the upload is no readable multipart form: {error}", code="INVALID_MULTIPART") from None
    kind = form.get("type")
    if kind not in (None, "", "input"):
        raise Forbidden("uploads go to the input folder (type=input)", code="UPLOAD_TYPE_REFUSED")
    image = form.get("image")
    if form.get("overwrite") in ("true", "1") and isinstance(image, web.FileField) and image.filename:
        target = os.path.join(roots(state)["input"], os.path.normpath(str(form.get("subfolder") or "")), image.filename)
        where = await asyncio.to_thread(lambda: locate(target, roots(state)) if os.path.lexists(target) else None)
        holder = (
            await state.db.execute_fn(lambda conn: input_owners.owner_of(conn, where.subfolder, where.name))
            if where is not None and where.root == "input"
            else None
        )
        if where is not None and holder != user.username:
            raise Forbidden(
                "overwrite replaces only your own uploads; upload under another name", code="INPUT_NOT_YOURS"
            )
    raw = form.get("original_ref")
    if raw is None:
        return
    try:
        ref = json.loads(raw if isinstance(raw, str) else "")
    except (ValueError, RecursionError):
        raise BadRequest("original_ref must be JSON: {filename, subfolder, type}", code="BAD_ORIGINAL_REF") from None
    if not isinstance(ref, dict):
        raise BadRequest("original_ref must be a JSON object", code="BAD_ORIGINAL_REF")
    query = {k: str(ref[k]) for k in ("filename", "subfolder", "type") if ref.get(k) is not None}
    await require_readable(request, state, view_paths(state, query), "original_ref")


async def own_change(request: web.Request, state: CozyGenState, adapter: str) -> web.StreamResponse:
    """ComfyUI's queue and history changes and its interrupt, applied to the caller's own prompts only."""
    try:
        body = json.loads(await request.read() or b"{}")
    except (ValueError, RecursionError):
        body = {}  # ComfyUI's interrupt takes a body that is no JSON as "interrupt what runs"
    body = body if isinstance(body, dict) else {}
    mine = owned_by(state, restricted_to(request, state) or "", await owned_prompts(request, state))
    if adapter == "interrupt":
        running, _ = state.host.queue_snapshot()
        asked = body.get("prompt_id")
        targets = [p for p in running if mine(p) and (not asked or p == asked)]
        for prompt_id in targets:
            state.host.interrupt(prompt_id)
        return web.Response(status=200)
    deleted = body.get("delete")
    asked = [str(p) for p in deleted] if isinstance(deleted, list) else []
    if adapter == "queue_change":
        _, pending = state.host.queue_snapshot()
        chosen = [p for p in pending if mine(p)] if body.get("clear") else []
        for prompt_id in {*chosen, *(p for p in asked if mine(p))}:
            state.host.remove_pending(prompt_id)
    else:
        chosen = [p for p in state.host.history_ids() if mine(p)] if body.get("clear") else []
        for prompt_id in {*chosen, *(p for p in asked if mine(p))}:
            state.host.delete_history(prompt_id)
    return web.Response(status=200)


def prompt_hook(state: CozyGenState) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """ComfyUI's on_prompt hook: while outputs are per user, a prompt posted without a client id (which
    ComfyUI would send to every socket) is sent to every socket of the user who posted it instead."""

    def user_channel(payload: dict[str, Any]) -> dict[str, Any]:
        poster = POSTED_BY.get()
        if per_user(state) and isinstance(payload, dict) and not payload.get("client_id"):
            payload["client_id"] = state.gate.channel(poster) if poster else "cozygen-nobody-" + uuid.uuid4().hex
        return payload

    return user_channel


@contextlib.contextmanager
def open_socket(request: web.Request, state: CozyGenState, user: User, rule: Rule | None) -> Iterator[web.Request]:
    """While ComfyUI's socket handler runs, count the socket among its user's (their prompts' channel). A
    socket opened without a client id gets one here (ComfyUI would pick one nobody knows): the request to
    hand on is yielded."""
    if rule is None or rule.adapter != "socket" or not per_user(state):
        yield request
        return
    client_id = request.query.get("clientId", "")
    if not client_id:
        client_id = "cozygen-socket-" + uuid.uuid4().hex
        state.gate.claim_client(client_id, user.username)
        request = request.clone(rel_url=request.rel_url.update_query(clientId=client_id))
    state.gate.socket_opened(client_id, user.username)
    try:
        yield request
    finally:
        state.gate.socket_closed(client_id, user.username)
