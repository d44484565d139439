"""HTTPS on the home network: the local CA's certificate for phones to install, and the page that says how.

Both are public: a phone must fetch them before it can trust the server, let alone sign in. The CA's key never
leaves the data folder; only its certificate is served.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from aiohttp import web

from ..core.accounts.access import PUBLIC
from .routing import Routes
from .state import CozyGenState

if TYPE_CHECKING:  # the TLS modules load on the first request for them: importing CozyGen stays cheap
    from ..core.tls.authority import TlsFiles

CA_CONTENT_TYPE = "application/x-x509-ca-cert"  # DER: Android and iOS both install it from a .crt download
# The page runs no script and loads nothing: its CSS and QR code are inline.
PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"


class TrustRoutes:
    def __init__(self, state: CozyGenState) -> None:
        self.state = state

    def files(self) -> TlsFiles:
        from ..core.tls.authority import TlsFiles

        return TlsFiles.of(self.state.db_ready_data_dir)

    async def ca_certificate(self, _request: web.Request) -> web.Response:
        from ..core.tls import trust_page

        der = await asyncio.to_thread(trust_page.certificate, self.files())
        headers = {
            "Content-Disposition": 'attachment; filename="cozygen-ca.crt"',
            "Cache-Control": "no-cache",
            "X-Content-Type-Options": "nosniff",
        }
        return web.Response(body=der, content_type=CA_CONTENT_TYPE, headers=headers)

    async def page(self, request: web.Request) -> web.Response:
        from ..core.tls import trust_page

        url = request.url
        port = url.port or (443 if request.secure else 80)
        text = await asyncio.to_thread(trust_page.page, self.files(), url.host, port, request.secure)
        headers = {"Cache-Control": "no-cache", "Content-Security-Policy": PAGE_CSP}
        headers["X-Content-Type-Options"] = "nosniff"
        return web.Response(text=text, content_type="text/html", charset="utf-8", headers=headers)


def add_routes(routes: Routes, state: CozyGenState) -> None:
    trust = TrustRoutes(state)
    routes.get("/cozygen/ca.crt", access=PUBLIC)(trust.ca_certificate)
    routes.get("/cozygen/trust", access=PUBLIC)(trust.page)
