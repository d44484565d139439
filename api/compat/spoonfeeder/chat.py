"""Spoon Feeder's ``POST chat``: one answer from an LLM provider, through CozyGen's one client (``state.llm``).

The real client (``pages/Conversations.tsx``) sends ``{provider, model, messages, profileId}`` and reads
``data.role`` and ``data.content``; the seed's API document describes ``data.response``, ``provider``, ``model``
and ``usage``: both are answered. ``profileId`` picks the provider; otherwise ``provider`` names its kind (the
default provider when it is of that kind, else the first of it), and without either the default provider answers.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ....core.errors import BadRequest
from ....core.llm.model import KINDS, NoProvider, Provider
from ...responses import read_json
from ...state import CozyGenState
from .. import llm_request
from .settings import provider_of_kind
from .shapes import ok


async def chosen_provider(state: CozyGenState, body: dict[str, Any]) -> Provider:
    profile_id, kind = body.get("profileId"), body.get("provider")
    if profile_id not in (None, ""):
        if not isinstance(profile_id, str):
            raise BadRequest("profileId: a profile's id", code="INVALID_PROFILE")
        return await state.providers.get(profile_id)
    if kind in (None, ""):
        return await state.providers.default()
    if kind not in KINDS:
        raise BadRequest(f"Unknown provider: {kind}. One of: {', '.join(KINDS)}", code="INVALID_PROVIDER")
    found = await provider_of_kind(state, kind)
    if found is None:
        raise NoProvider(f"no {kind} provider is set up: an admin adds one in Settings → Assistant")
    return found


class ChatRoutes:
    def __init__(self, state: CozyGenState) -> None:
        self.state, self.limit = state, llm_request.CallLimit(state)

    async def chat(self, request: web.Request) -> web.Response:
        body = await read_json(request)
        messages = llm_request.messages(body.get("messages"))
        model = llm_request.model_name(body.get("model"))
        self.limit.take(request)
        provider = await chosen_provider(self.state, body)
        completion = await self.state.llm.complete(provider, messages, model=model)
        text = completion.text
        return ok({
            "role": "assistant", "content": text, "response": text, "provider": provider.kind,
            "model": completion.model or model or provider.default_model, "usage": completion.usage,
        })  # fmt: skip
