"""Prompt tools at /cozygen/api/prompts/: random prompts from wildcards, the wildcards and styles there are,
and enrichment (a language model when one is configured in the settings, else the style's template).

The compatibility mounts (DreamLayer's fetch-prompt, CyberImage's enrich) call ``random_prompt`` and
``enrich`` here, so every route answers from the same files and settings.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
import orjson
from aiohttp import web

from ..core.accounts.access import USER, VIEWER
from ..core.errors import BadRequest
from ..core.prompts import wildcards as wc
from .responses import json_response, read_json
from .routing import Routes
from .state import CozyGenState

if TYPE_CHECKING:  # imported where used: an enrichment is rare, and importing CozyGen stays cheap
    from ..core.prompts import enrich as enrichment

BASE = "/cozygen/api/prompts"
DATA = Path(__file__).resolve().parent.parent / "data"
SHIPPED_WILDCARDS, SHIPPED_STYLES = DATA / "wildcards", DATA / "styles"
MAX_LLM_BODY = 1024 * 1024


def library(state: CozyGenState) -> wc.Library:
    """The wildcard library of the state's data folder (made once, kept on the state, so its file cache lasts)."""
    if state.wildcards is None:
        state.wildcards = wc.Library(SHIPPED_WILDCARDS, state.db_ready_data_dir / "wildcards")
    return state.wildcards


async def wildcards(state: CozyGenState) -> dict[str, wc.Wildcard]:
    return await asyncio.to_thread(library(state).load)


async def styles(state: CozyGenState) -> dict[str, enrichment.Style]:
    from ..core.prompts import enrich as enrichment

    return await asyncio.to_thread(enrichment.load_styles, SHIPPED_STYLES, state.db_ready_data_dir / "styles")


async def random_prompt(
    state: CozyGenState, seed: Any = None, template: str | None = None, negative_template: str | None = None
) -> dict[str, Any]:
    """``{"positive", "negative", "seed"}`` from the wildcards (see core.prompts.wildcards)."""
    parsed = wc.parse_seed(seed)
    found = await wildcards(state)
    return wc.random_prompt(found, parsed, template, negative_template)


async def http_post(url: str, headers: dict[str, str], payload: dict[str, Any], timeout: float) -> tuple[int, bytes]:
    """The transport ``core.prompts.enrich`` asks a model through: one POST with aiohttp, its body capped."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session:
        async with session.post(url, headers=headers, data=orjson.dumps(payload), allow_redirects=False) as reply:
            body = bytearray()
            async for chunk in reply.content.iter_chunked(64 * 1024):
                body += chunk
                if len(body) > MAX_LLM_BODY:
                    raise ValueError(f"the answer is larger than {MAX_LLM_BODY} bytes")
            return reply.status, bytes(body)


async def enrich(state: CozyGenState, prompt: Any, style: Any, seed: Any = None) -> dict[str, Any]:
    """The enrichment of a prompt in a style (core.prompts.enrich); the LLM settings come from ``state.settings``."""
    from ..core.prompts import enrich as enrichment

    parsed = wc.parse_seed(seed)
    config = enrichment.LLMConfig.from_settings(state.settings)
    found, known = await asyncio.gather(wildcards(state), styles(state))
    return await enrichment.enrich(prompt, style, known, found, config, http_post, parsed)


class PromptRoutes:
    def __init__(self, state: CozyGenState) -> None:
        self.state = state

    async def random(self, request: web.Request) -> web.Response:
        query = request.query
        return json_response(
            await random_prompt(self.state, query.get("seed"), query.get("template"), query.get("negative_template"))
        )

    async def wildcards(self, _request: web.Request) -> web.Response:
        found = await wildcards(self.state)
        return json_response({"wildcards": [w.summary() for w in found.values()], "count": len(found)})

    async def styles(self, _request: web.Request) -> web.Response:
        from ..core.prompts import enrich as enrichment

        known = await styles(self.state)
        config = enrichment.LLMConfig.from_settings(self.state.settings)
        return json_response(
            {
                "styles": [s.summary() for s in known.values()],
                "default": enrichment.DEFAULT_STYLE,
                "llm": {"enabled": config.enabled, "model": config.model or None},
            }
        )

    async def enrich(self, request: web.Request) -> web.Response:
        body = await read_json(request)
        unknown = sorted(set(body) - {"prompt", "style", "seed"})
        if unknown:
            raise BadRequest(f"unknown field {unknown[0]!r}; send prompt, style and seed", code="UNKNOWN_FIELD")
        return json_response(await enrich(self.state, body.get("prompt"), body.get("style"), body.get("seed")))


def add_routes(routes: Routes, state: CozyGenState) -> None:
    prompts = PromptRoutes(state)
    routes.get(f"{BASE}/random", access=VIEWER)(prompts.random)
    routes.get(f"{BASE}/wildcards", access=VIEWER)(prompts.wildcards)
    routes.get(f"{BASE}/styles", access=VIEWER)(prompts.styles)
    routes.post(f"{BASE}/enrich", access=USER)(prompts.enrich)
