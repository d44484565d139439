"""Spoon Feeder's ``models`` routes over CozyGen's LLM providers: the list (every provider's models, read live:
Ollama's ``/api/tags`` with ``/api/ps`` for which are loaded, the others' ``/v1/models``; a provider that does not
answer lists the models stored with its profile), one model, its status, and load and unload. Only Ollama loads and
unloads (``POST /api/generate`` with ``keep_alive`` -1 or 0; its status from ``/api/ps``): another kind of provider
answers 501 saying so. ``?profileId=`` picks the provider; otherwise the Ollama one (the default first; among
several, the one listing the model). Load and unload are admins' and audited."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from ....core.errors import BadRequest, CozyGenError, NotFound
from ....core.llm.model import LLMError, LLMTimeout, NoProvider, Provider, http_failure
from ....core.llm.transport import TransportError
from ....core.models.service import human_bytes
from ...state import CozyGenState
from .. import llm_request
from .profiles import ProfileRoutes
from .shapes import done, ok

OLLAMA = "ollama"
CAP = 4 * 1024 * 1024
QUICK, LOADING = 10.0, 180.0  # seconds: a listing; loading a model into memory
MAX_LISTED = 2000


class NotSupported(CozyGenError):
    status = 501
    code = "NOT_SUPPORTED"


def capabilities(name: str) -> list[str]:
    """What a model's name says it does (the real backend's guess, with the seed's ``text``)."""
    lower, found = name.lower(), ["chat", "text"]
    if any(word in lower for word in ("code", "coder", "deepseek")):
        found.append("code")
    if any(word in lower for word in ("vision", "llava", "-vl")):
        found.append("vision")
    if "embed" in lower:
        found.append("embeddings")
    return found


def seed_model(provider: Provider, name: str, *, size: Any = None, parameters: Any = None,
               loaded: bool = False) -> dict[str, Any]:  # fmt: skip
    return {
        "name": name, "size": human_bytes(size) if isinstance(size, int | float) and size > 0 else "",
        "loaded": loaded, "capabilities": capabilities(name), "description": f"{provider.name} ({provider.kind})",
        "parameters": parameters if isinstance(parameters, str) and parameters else name,
        "provider": provider.kind, "profileId": provider.id,
    }  # fmt: skip


def entries(answer: Any) -> list[dict[str, Any]]:
    """Ollama's ``{"models": [...]}`` (untrusted: only objects with a sane name)."""
    items = answer.get("models") if isinstance(answer, dict) else None
    if not isinstance(items, list):
        return []
    found = [m for m in items[:MAX_LISTED] if isinstance(m, dict) and isinstance(m.get("name"), str)]
    return [m for m in found if 0 < len(m["name"]) <= 256]


def named(items: list[dict[str, Any]], name: str) -> dict[str, Any] | None:
    return next((m for m in items if name in (m.get("name"), m.get("model"))), None)


def model_of(request: web.Request) -> str:
    """The model named in the path (a 400 for an odd name: it goes into the provider's request)."""
    name = llm_request.model_name(request.match_info["name"])
    if name is None:
        raise BadRequest("name: a model's name", code="INVALID_MODEL")
    return name


class ModelRoutes:
    def __init__(self, state: CozyGenState, audits: ProfileRoutes) -> None:
        self.state, self.audits = state, audits

    # -- talking to Ollama -----------------------------------------------------------------------------------
    async def ollama(self, provider: Provider, path: str, body: dict[str, Any] | None = None,
                     timeout: float = QUICK) -> Any:  # fmt: skip
        url, transport = provider.base() + path, self.state.llm.transport
        try:
            if body is None:
                status, answer = await transport.get_json(url, provider.headers(), timeout=timeout, cap=CAP)
            else:
                status, answer = await transport.post_json(url, provider.headers(), body, timeout=timeout, cap=CAP)
        except TransportError as exc:
            if exc.status is not None:
                raise http_failure(provider, exc.status, exc.text) from None
            if exc.timeout:
                raise LLMTimeout(f"the Ollama at {provider.shown()} did not answer in time") from None
            raise LLMError(f"the Ollama at {provider.shown()} is not reachable: is it running?") from None
        if status == 404 and body is not None:
            raise NotFound(f"Model {body.get('model')} not found on {provider.name}", code="MODEL_NOT_FOUND")
        if status != 200:
            raise http_failure(provider, status, answer if isinstance(answer, str) else "")
        return answer

    async def listed(self, provider: Provider) -> list[dict[str, Any]]:
        """A provider's models in the seed's shape; the ones stored with its profile when it does not answer."""
        try:
            if provider.kind != OLLAMA:
                return [seed_model(provider, name) for name in await self.state.llm.models(provider)]
            tags, ps = await asyncio.gather(self.listing(provider, "/api/tags"), self.listing(provider, "/api/ps"))
            loaded = {m["name"] for m in ps} | {m.get("model") for m in ps}
            return [
                seed_model(provider, m["name"], size=m.get("size"), loaded=m["name"] in loaded,
                           parameters=details.get("parameter_size") if isinstance(details, dict) else None)
                for m in tags for details in [m.get("details")]
            ]  # fmt: skip
        except CozyGenError:
            try:
                rows = await self.state.profiles.models(provider.id)
            except CozyGenError:
                return []
            return [seed_model(provider, row["model_id"], parameters=row.get("name")) for row in rows]

    async def every_model(self) -> list[dict[str, Any]]:
        providers = sorted(await self.state.providers.listing(), key=lambda p: not p.is_default)
        lists = await asyncio.gather(*(self.listed(p) for p in providers))
        return [model for found in lists for model in found]

    async def listing(self, provider: Provider, path: str) -> list[dict[str, Any]]:
        """Ollama's model list at ``path`` (``/api/tags``, ``/api/ps``); LLMError for an answer not shaped so."""
        answer = await self.ollama(provider, path)
        if not isinstance(answer, dict) or not isinstance(answer.get("models"), list):
            raise LLMError(f"the Ollama at {provider.shown()} answered {path} with something that is not Ollama's")
        return entries(answer)

    # -- which provider --------------------------------------------------------------------------------------
    async def ollama_for(self, request: web.Request, name: str) -> Provider:
        """The provider a load, unload or status goes to: ``?profileId=``, else the Ollama one (501 for another
        kind, 503 when there is no provider)."""
        profile_id = request.query.get("profileId", "").strip()
        if profile_id:
            provider = await self.state.providers.get(profile_id)
            candidates = [provider]
        else:
            listing = sorted(await self.state.providers.listing(), key=lambda p: not p.is_default)
            if not listing:
                raise NoProvider()
            candidates = [p for p in listing if p.kind == OLLAMA] or listing[:1]
            provider = candidates[0]
        if provider.kind != OLLAMA:
            raise NotSupported(
                f"{provider.name} ({provider.kind}) cannot load or unload models, nor say which are loaded: only an "
                "Ollama provider can; its server loads a model when it is asked"
            )
        if len(candidates) > 1:
            for candidate in candidates:
                if named(await self.listing(candidate, "/api/tags"), name) is not None:
                    return candidate
        return provider

    # -- the routes ------------------------------------------------------------------------------------------
    async def list_models(self, request: web.Request) -> web.Response:
        return ok(await self.every_model())

    async def one(self, request: web.Request) -> web.Response:
        name = model_of(request)
        profile_id = request.query.get("profileId", "").strip()
        if profile_id:
            found = await self.listed(await self.state.providers.get(profile_id))
        else:
            found = await self.every_model()
        model = next((m for m in found if m["name"] == name), None)
        if model is None:
            raise NotFound(f"Model {name} not found", code="MODEL_NOT_FOUND")
        return ok(model)

    async def status(self, request: web.Request) -> web.Response:
        name = model_of(request)
        provider = await self.ollama_for(request, name)
        running = named(await self.listing(provider, "/api/ps"), name)
        vram = running.get("size_vram") if running else None
        return ok({
            "name": name, "loaded": running is not None, "lastUsed": None, "profileId": provider.id,
            "sizeVram": human_bytes(vram) if isinstance(vram, int | float) and vram > 0 else None,
            "expiresAt": running.get("expires_at") if running else None,
        })  # fmt: skip

    async def load(self, request: web.Request) -> web.Response:
        return await self.keep(request, -1, "loaded")

    async def unload(self, request: web.Request) -> web.Response:
        return await self.keep(request, 0, "unloaded")

    async def keep(self, request: web.Request, keep_alive: int, done_word: str) -> web.Response:
        name = model_of(request)
        provider = await self.ollama_for(request, name)
        work = self.generate(provider, {"model": name, "keep_alive": keep_alive})
        await self.audits.audited(request, f"llm.model.{done_word.removesuffix('ed')}", f"{provider.id}:{name}", work)
        return done(f"Model {name} {done_word} successfully")

    async def generate(self, provider: Provider, body: dict[str, Any]) -> None:
        answer = await self.ollama(provider, "/api/generate", body, LOADING)
        if not isinstance(answer, dict) or answer.get("done") is not True:
            raise LLMError(f"the Ollama at {provider.shown()} did not say it loaded or unloaded {body['model']}")
