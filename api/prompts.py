"""Prompt tools at /cozygen/api/prompts/: random prompts (the wildcards' draw, grown by the default language model
when one is set up), the wildcards and styles there are, and enrichment (the default language model, else the
style's template). The model is asked through ``state.llm`` (core/llm: one client, one policy).

The compatibility mounts (DreamLayer's fetch-prompt, CyberImage's enrich) call ``random_prompt`` and
``enrich`` here, so every route answers from the same files and settings.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from ..core.accounts.access import USER, VIEWER
from ..core.errors import BadRequest, HostNotReady
from ..core.prompts import wildcards as wc
from .responses import json_response, read_json
from .routing import Routes
from .state import CozyGenState

if TYPE_CHECKING:  # imported where used: an enrichment is rare, and importing CozyGen stays cheap
    from ..core.llm.model import Provider
    from ..core.prompts import enrich as enrichment

BASE = "/cozygen/api/prompts"
DATA = Path(__file__).resolve().parent.parent / "data"
SHIPPED_WILDCARDS, SHIPPED_STYLES = DATA / "wildcards", DATA / "styles"


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


async def default_provider(state: CozyGenState) -> Provider | None:
    """The default LLM provider, or None (none set up, or CozyGen's store did not open)."""
    try:
        return await state.providers.available()
    except HostNotReady:
        return None


async def random_prompt(
    state: CozyGenState,
    seed: Any = None,
    template: str | None = None,
    negative_template: str | None = None,
    *,
    llm: bool = True,
) -> dict[str, Any]:
    """``{"positive", "negative", "seed", "source"}``: the wildcards' draw (core.prompts.wildcards), grown by the
    default language model into one prompt when one is set up and ``llm`` (``source: "llm"``, ``idea``: the draw)."""
    from ..core.prompts import enrich as enrichment

    parsed = wc.parse_seed(seed)
    found = await wildcards(state)
    drawn = wc.random_prompt(found, parsed, template, negative_template)
    provider = await default_provider(state) if llm else None
    return await enrichment.imagine(drawn, provider, state.llm if provider else None)


async def enrich(state: CozyGenState, prompt: Any, style: Any, seed: Any = None) -> dict[str, Any]:
    """The enrichment of a prompt in a style (core.prompts.enrich) by the default provider, else the template."""
    from ..core.prompts import enrich as enrichment

    parsed = wc.parse_seed(seed)
    found, known = await asyncio.gather(wildcards(state), styles(state))
    provider = await default_provider(state)
    return await enrichment.enrich(prompt, style, known, found, provider, state.llm if provider else None, parsed)


class PromptRoutes:
    def __init__(self, state: CozyGenState) -> None:
        self.state = state

    async def random(self, request: web.Request) -> web.Response:
        query = request.query
        llm = query.get("llm", "true").lower()
        if llm not in ("true", "false", "1", "0"):
            raise BadRequest("llm: true or false", code="INVALID_LLM")
        drawn = await random_prompt(
            self.state, query.get("seed"), query.get("template"), query.get("negative_template"),
            llm=llm in ("true", "1"),
        )  # fmt: skip
        return json_response(drawn)

    async def wildcards(self, _request: web.Request) -> web.Response:
        found = await wildcards(self.state)
        return json_response({"wildcards": [w.summary() for w in found.values()], "count": len(found)})

    async def styles(self, _request: web.Request) -> web.Response:
        from ..core.prompts import enrich as enrichment

        known = await styles(self.state)
        provider = await default_provider(self.state)
        return json_response(
            {
                "styles": [s.summary() for s in known.values()],
                "default": enrichment.DEFAULT_STYLE,
                "llm": {"enabled": provider is not None, "model": provider.default_model if provider else None},
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
