"""The one middleware that guards every route of the server while auth is on: a thin composition.

It runs after routing (so routes are matched by their templates) and, for a route that is not public:
authenticates the caller (api/auth/credentials.py; without a sign-in, api/auth/sign_in.py answers),
authorizes them (api/auth/authorization.py: route levels, the ComfyUI allowlist, the origin of cookie
state changes), hands ComfyUI's own routes to their adapters (api/comfyui_gate.py), and holds the
connection while it runs so a revoked sign-in closes it (api/live.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from ..core.accounts.access import PUBLIC
from ..core.errors import CozyGenError
from . import comfyui_gate
from .auth.authorization import Declared, authorize, requirement
from .auth.credentials import USER_KEY, VIA_KEY, identify
from .auth.sign_in import challenge
from .responses import error_response
from .state import CozyGenState
from .visibility import per_user

Next = Callable[[web.Request], Awaitable[web.StreamResponse]]


def make_guard(state: CozyGenState, declared: Declared) -> Callable[..., Awaitable[web.StreamResponse]]:
    @web.middleware
    async def guard(request: web.Request, handler: Next) -> web.StreamResponse:
        if not state.auth_enabled:
            return await handler(request)
        guard_comfyui = state.settings["guard_comfyui"]
        level, rule = requirement(request, declared, guard_comfyui=guard_comfyui, per_user=per_user(state))
        if level == PUBLIC:
            return await handler(request)
        try:
            credential = await identify(request, state)
            if credential is None:
                return challenge(request)
            user = credential.user
            authorize(request, user, credential.via, level, rule)
            request[USER_KEY], request[VIA_KEY] = user, credential.via
            # ComfyUI's own route: its adapter lets through only what is this user's own
            answer = await comfyui_gate.admit(request, state, user, rule) if rule is not None else None
        except CozyGenError as error:
            return error_response(error)
        if answer is not None:
            return answer
        with (
            state.live.hold(request, credential, level),  # closed if the sign-in is revoked while it runs
            comfyui_gate.open_socket(request, state, user, rule) as request,
        ):
            response = await handler(request)
        if rule is not None:
            response = await comfyui_gate.after(request, state, user, rule, response)
        return response

    return guard
