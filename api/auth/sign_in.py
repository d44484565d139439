"""What a caller without a valid sign-in gets on a guarded route: a browser opening a page (the editor, say)
is sent to the CozyGen sign-in page, which brings it back afterwards; anything else a 401."""

from __future__ import annotations

from urllib.parse import quote

from aiohttp import web

from ...core.accounts.access import is_cozygen_path, strip_api_prefix
from ...core.errors import Unauthorized

SIGN_IN_PAGE = "/cozygen/"
UNAUTHORIZED = (
    "sign in first: send a valid token (the session cookie or Authorization: Bearer; "
    "a ?token= query token only opens the event streams and /ws, with GET)"
)


def wants_page(request: web.Request) -> bool:
    """A browser navigating to a page (not a script or a fetch for data)."""
    return (
        request.method == "GET"
        and not is_cozygen_path(strip_api_prefix(request.path))
        and request.headers.get("Sec-Fetch-Mode", "navigate") == "navigate"
        and "text/html" in request.headers.get("Accept", "")
    )


def sign_in_redirect(request: web.Request) -> web.Response:
    target = f"{SIGN_IN_PAGE}?next={quote(request.path_qs, safe='')}"
    return web.Response(status=303, headers={"Location": target, "Cache-Control": "no-store"})


def challenge(request: web.Request) -> web.Response:
    """The answer to a caller who is not signed in: the redirect for a page, else Unauthorized is raised."""
    if wants_page(request):
        return sign_in_redirect(request)
    raise Unauthorized("unauthorized", extra={"detail": UNAUTHORIZED})  # seed 004's body, with the why
