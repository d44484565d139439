"""Spoon Feeder's profiles (connections to providers) over the ``profiles`` table: ``comfyui`` profiles are the
backends (changed through BackendService, so the registry in memory stays true; the local ComfyUI is one, never
stored), the LLM providers' (ollama, openai, gemini, claude) are stored and listed for the prompt assistant. Each
profile's models are kept (``profile_models``) and synced from the provider: an LLM's model list, a ComfyUI's
checkpoints. Secrets are write-only. LLM profiles are the assistant's providers: their changes go through
core/llm/providers.py (one code path; its URLs and model lists are core/llm's)."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from ..errors import BadGateway, BadRequest, NotFound
from ..store.db import Database
from . import fields, records
from .model import LOCAL_ID
from .remote import RemoteError

if TYPE_CHECKING:  # built with it when the server starts
    from ..llm.model import Provider
    from ..llm.providers import ProviderService
    from .service import BackendService

PROVIDERS = ("comfyui", "ollama", "openai", "gemini", "claude", "openai-compatible")
TYPES = ("text", "image", "video", "audio")
MODALITIES = ("text", "image", "video", "audio")
MAX_TEXT, MAX_TEMPLATE, MAX_OPTIONS, MAX_MODELS = 2000, 20000, 64 * 1024, 2000
FetchJson = Callable[[str, dict[str, str]], Awaitable[Any]]  # GET a URL with headers: its JSON (RemoteError)


def _provider(provider: str, url: str | None, key: str | None) -> Provider:
    from ..llm.model import Provider

    return Provider("profile", provider, provider, url, key, None, False)


def model_request(provider: str, url: str | None, key: str | None) -> tuple[str, dict[str, str]]:
    """Where an LLM provider lists its models, and the headers that carry its key (core/llm/model.py's)."""
    return _provider(provider, url, key).models_request()


def model_names(provider: str, answer: Any) -> list[str]:
    """The model ids of a provider's answer (untrusted: only strings of a sane length, at most MAX_MODELS)."""
    from ..llm.client import model_names as names
    from ..llm.model import LLMError

    try:
        return names(_provider(provider, None, None), answer)[:MAX_MODELS]
    except LLMError as exc:
        raise RemoteError(exc.message) from None


def checkpoints(object_info: dict[str, Any] | None) -> list[str]:
    """A ComfyUI's checkpoints, as its CheckpointLoaderSimple lists them."""
    node = object_info.get("CheckpointLoaderSimple") if isinstance(object_info, dict) else None
    spec = node.get("input", {}).get("required", {}).get("ckpt_name") if isinstance(node, dict) else None
    choices = spec[0] if isinstance(spec, list) and spec and isinstance(spec[0], list) else []
    return [c for c in choices if isinstance(c, str)][:MAX_MODELS]


def _text(body: dict[str, Any], key: str, limit: int) -> str | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise BadRequest(f"{key}: text of at most {limit} characters", code="INVALID_PROFILE", extra={"field": key})
    return value


def _choice(body: dict[str, Any], key: str, allowed: tuple[str, ...]) -> str:
    value = body.get(key)
    if value not in allowed:
        raise BadRequest(f"{key}: one of {', '.join(allowed)}", code="INVALID_PROFILE", extra={"field": key})
    return str(value)


def _modalities(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not value or any(m not in MODALITIES for m in value):
        raise BadRequest(
            f"{key}: a list of {', '.join(MODALITIES)}", code="INVALID_PROFILE", extra={"field": key}
        )  # fmt: skip
    return json.dumps(list(dict.fromkeys(value)))


def _options(body: dict[str, Any]) -> str | None:
    value = body.get("options")
    if value is None:
        return None
    text = json.dumps(value) if isinstance(value, dict) else ""
    if not text or len(text) > MAX_OPTIONS:
        raise BadRequest("options: a JSON object of at most 64 KB", code="INVALID_PROFILE", extra={"field": "options"})
    return text


def extra_columns(body: dict[str, Any]) -> dict[str, Any]:
    """The columns every profile has beside its connection: description, type, options, template, modalities."""
    values: dict[str, Any] = {}
    if "description" in body:
        values["description"] = _text(body, "description", MAX_TEXT) or ""
    if "type" in body:
        values["type"] = _choice(body, "type", TYPES)
    if "options" in body:
        values["options_json"] = _options(body) or "{}"
    if "prompt_template" in body:
        values["prompt_template"] = _text(body, "prompt_template", MAX_TEMPLATE)
    for key in ("input_modalities", "output_modalities"):
        if key in body:
            values[f"{key}_json"] = _modalities(body, key) or '["text"]'
    return values


class ProfileService:
    def __init__(
        self, db: Database, backends: BackendService, fetch_json: FetchJson, *, providers: ProviderService | None = None
    ) -> None:
        if providers is None:  # the LLM profiles' changes need no client
            from ..llm.providers import ProviderService

            providers = ProviderService(db, None, dict)
        self.db, self.backends, self.fetch_json, self.providers = db, backends, fetch_json, providers
        self.started_at = time.time()  # the local ComfyUI's profile dates from this run

    # -- reading --------------------------------------------------------------------------------------------
    async def listing(self, provider: str | None = None) -> list[dict[str, Any]]:
        """Profile rows (dicts of the table's columns), the local ComfyUI first among ``comfyui``'s."""
        rows = await self.db.execute_fn(lambda conn: records.profiles(conn, provider))
        local = [self.local_row()] if provider in (None, records.COMFYUI) else []
        return [*local, *rows]

    def local_row(self) -> dict[str, Any]:
        backend = self.backends.get(LOCAL_ID)
        return {
            "id": LOCAL_ID, "name": "This ComfyUI", "provider": records.COMFYUI, "type": "image",
            "description": "The ComfyUI this CozyGen runs in", "url": None, "auth_kind": "none", "auth_user": None,
            "secret": None, "enabled": int(backend.enabled), "max_jobs": backend.max_jobs, "tags_json": "[]",
            "subfolder": "", "is_default": 1, "options_json": "{}", "prompt_template": None,
            "input_modalities_json": '["text"]', "output_modalities_json": '["image"]', "created_by": None,
            "created_at": self.started_at, "updated_at": self.started_at,
        }  # fmt: skip

    async def get(self, profile_id: str) -> dict[str, Any]:
        if profile_id == LOCAL_ID:
            return self.local_row()
        found = await self.db.execute_fn(lambda conn: records.profile(conn, profile_id))
        if found is None:
            raise NotFound(f"Profile {profile_id} not found", code="PROFILE_NOT_FOUND")
        return found

    # -- changing --------------------------------------------------------------------------------------------
    async def create(self, body: dict[str, Any], *, by: str | None) -> dict[str, Any]:
        provider = _choice(body, "provider", PROVIDERS)
        if provider == records.COMFYUI:
            backend = await self.backends.create(_backend_fields(body, creating=True), by=by)
            extra = extra_columns(body)
            if extra:
                await self.db.execute_write_fn(lambda conn: records.update(conn, backend.id, extra))
            return await self.get(backend.id)
        if not body.get("name"):
            raise BadRequest("name: required", code="INVALID_PROFILE", extra={"field": "name"})
        made = await self.providers.create(
            _provider_body(body, provider), by=by, extra=extra_columns(body), check_keys=False
        )  # fmt: skip
        return await self.get(made.id)

    async def update(self, profile_id: str, body: dict[str, Any]) -> dict[str, Any]:
        found = await self.get(profile_id)
        if found["provider"] == records.COMFYUI:
            if profile_id == LOCAL_ID:
                local = {k: body[k] for k in ("enabled",) if k in body}
                if local:
                    await self.backends.update(LOCAL_ID, local)
                return self.local_row()
            connection = _backend_fields(body, creating=False)
            if connection:
                await self.backends.update(profile_id, connection)
            values = extra_columns(body)
        else:
            await self.providers.update(
                profile_id, _provider_body(body, None), by=None, extra=extra_columns(body), check_keys=False
            )  # fmt: skip
            return await self.get(profile_id)
        if values:
            await self.db.execute_write_fn(lambda conn: records.update(conn, profile_id, values))
        return await self.get(profile_id)

    async def delete(self, profile_id: str) -> dict[str, Any]:
        found = await self.get(profile_id)
        if found["provider"] == records.COMFYUI:
            await self.backends.delete(profile_id)  # 409 for the local ComfyUI, or while it has jobs
        else:
            try:
                await self.providers.delete(profile_id, by=None)  # the default moves on if it was this one
            except NotFound:
                raise NotFound(f"Profile {profile_id} not found", code="PROFILE_NOT_FOUND") from None
        return found

    # -- models ----------------------------------------------------------------------------------------------
    async def models(self, profile_id: str) -> list[dict[str, Any]]:
        await self.get(profile_id)
        return await self.db.execute_fn(lambda conn: records.models(conn, profile_id))

    async def add_model(self, profile_id: str, model_id: Any, name: Any) -> dict[str, Any]:
        await self._stored(profile_id)
        if not isinstance(model_id, str) or not 0 < len(model_id) <= 256:
            raise BadRequest("modelId: required, at most 256 characters", code="INVALID_MODEL")
        label = name if isinstance(name, str) and 0 < len(name) <= 256 else model_id
        return await self.db.execute_write_fn(lambda conn: records.add_model(conn, profile_id, model_id, label))

    async def delete_model(self, profile_id: str, model_id: str) -> None:
        await self._stored(profile_id)
        if not await self.db.execute_write_fn(lambda conn: records.delete_model(conn, profile_id, model_id)):
            raise NotFound(f"Model {model_id} not found in profile {profile_id}", code="MODEL_NOT_FOUND")

    async def sync_models(self, profile_id: str) -> dict[str, Any]:
        found = await self._stored(profile_id)
        names = await self._discover(found)
        added, removed = await self.db.execute_write_fn(lambda conn: records.sync_models(conn, profile_id, names))
        return {"added": added, "removed": removed, "models": names}

    async def _stored(self, profile_id: str) -> dict[str, Any]:
        if profile_id == LOCAL_ID:
            raise BadRequest(
                "the local ComfyUI's models are its model folders; nothing is stored", code="LOCAL_BACKEND"
            )
        return await self.get(profile_id)

    async def _discover(self, row: dict[str, Any]) -> list[str]:
        if row["provider"] == records.COMFYUI:
            info = await self.backends.refresh_object_info(row["id"], stale=False)
            if info is None:
                raise BadGateway(f"backend {row['name']} did not list its nodes", code="BACKEND_UNREACHABLE")
            return checkpoints(info)
        url, headers = model_request(row["provider"], row["url"], row["secret"])
        try:
            return model_names(row["provider"], await self.fetch_json(url, headers))
        except RemoteError as exc:
            raise BadGateway(f"{row['provider']}: {exc}", code="PROVIDER_UNREACHABLE") from None

    async def test_connection(self, body: dict[str, Any]) -> dict[str, Any]:
        """Spoon Feeder's test-connection (nothing stored): connected, latency (ms) and the models it lists."""
        provider = _choice(body, "provider", PROVIDERS)
        started = time.perf_counter()
        if provider == records.COMFYUI:
            result = await self.backends.test_unsaved(_backend_fields(body, creating=False, test=True))
            return {"connected": result["ok"], "latency": round(result["latency_ms"]), "error": result["error"]}
        url = fields.url(body["url"]) if body.get("url") not in (None, "") else None
        key = fields.secret(body.get("api_key"))
        request_url, headers = model_request(provider, url, key)
        try:
            names = model_names(provider, await self.fetch_json(request_url, headers))
        except RemoteError as exc:
            latency = round((time.perf_counter() - started) * 1000)
            return {"connected": False, "latency": latency, "models": [], "error": str(exc)}
        return {"connected": True, "latency": round((time.perf_counter() - started) * 1000), "models": names}


MASK = "********"  # what an answer shows for a set key; sent back unchanged, it keeps the key


def _provider_body(body: dict[str, Any], kind: str | None) -> dict[str, Any]:
    """A Spoon Feeder profile's LLM fields as core/llm/providers.py's body (its options stay Spoon Feeder's)."""
    found: dict[str, Any] = {key: body[key] for key in ("name", "url", "api_key") if key in body}
    if kind is not None:
        found["kind"] = kind
    if isinstance(body.get("is_default"), bool):
        found["is_default"] = body["is_default"]
    return found


def _backend_fields(body: dict[str, Any], *, creating: bool, test: bool = False) -> dict[str, Any]:
    """A comfyui profile's connection as BackendService fields: ``api_key`` is a bearer token (or basic auth's
    password with ``options.auth_user``)."""
    found: dict[str, Any] = {}
    for key in ("name", "url") if not test else ("url",):
        if key in body:
            found[key] = body[key]
    if "enabled" in body and not test:
        found["enabled"] = body["enabled"]
    given = body.get("options")
    options: dict[str, Any] = given if isinstance(given, dict) else {}
    if isinstance(options.get("max_jobs"), int) and not test:
        found["max_jobs"] = options["max_jobs"]
    if "api_key" in body and body["api_key"] != MASK:
        key = body["api_key"]
        user = options.get("auth_user")
        if key in (None, ""):
            found["auth"] = "none"
        elif isinstance(user, str) and user:
            found.update(auth="basic", auth_user=user, secret=key)
        else:
            found.update(auth="bearer", secret=key)
    if creating:
        found.setdefault("name", body.get("name"))
    return found
