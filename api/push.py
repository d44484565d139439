"""Web Push: the server's public VAPID key, each user's subscriptions (one per browser) and push preferences.

The notifier (core/push/notifier.py) starts with the server once the database is open; a job that ends while
none of its owner's pages is open (no live event stream of theirs connected) is pushed to their devices.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from aiohttp import web

from ..core.accounts.access import USER, VIEWER
from ..core.errors import BadRequest, HostNotReady, NotFound
from ..core.push import keys, subscriptions
from ..core.push.endpoints import allow_private_from_env
from ..core.push.notifier import PushNotifier
from .jobs import owner
from .params import path_id
from .push_sender import DEFAULT_CONTACT, PushSender
from .responses import json_response, read_json
from .routing import Routes
from .state import CozyGenState

ENV_CONTACT = "COZYGEN_PUSH_CONTACT"  # the VAPID "sub" claim: how a push service may reach this server's owner
STREAM_PATHS = frozenset({"/cozygen/api/events", "/api/cozygen/api/events"})  # the app's job stream: a page open


class PushRoutes:
    def __init__(self, state: CozyGenState) -> None:
        self.state = state
        self.allow_private = allow_private_from_env()
        self.key: keys.VapidKey | None = None
        self.notifier: PushNotifier | None = None

    # -- life -------------------------------------------------------------------------------------------
    async def start(self) -> None:
        state = self.state
        self.key = await asyncio.to_thread(keys.load_or_create, state.db_ready_data_dir)
        contact = os.environ.get(ENV_CONTACT, "").strip() or DEFAULT_CONTACT
        sender = PushSender(self.key, contact=contact, allow_private=self.allow_private)
        self.notifier = PushNotifier(state.db, sender, self.page_open)
        self.notifier.start(state.job_hub)

    async def stop(self) -> None:
        notifier, self.notifier = self.notifier, None
        if notifier is not None:
            await notifier.stop(self.state.job_hub)

    def page_open(self, user_id: int | None) -> bool:
        """Whether a page of this user is open: their job stream is connected. With auth off there is one user,
        and any stream counts (the notifier's own follower is the one subscriber that is no page)."""
        if not self.state.auth_enabled:
            return self.state.job_hub.subscriber_count > 1
        return user_id is not None and self.state.live.streams_open(user_id, STREAM_PATHS)

    # -- routes -----------------------------------------------------------------------------------------
    async def public_key(self, _request: web.Request) -> web.Response:
        if self.key is None:
            raise HostNotReady(self.state.startup_error or "CozyGen is still starting; try again in a moment")
        return json_response({"public_key": self.key.public_key})

    async def list_own(self, request: web.Request) -> web.Response:
        username = owner(request)

        def read(conn: Any) -> dict[str, Any]:
            subs = subscriptions.of_user(conn, username)
            return {
                "subscriptions": [s.public() for s in subs],
                "prefs": subscriptions.prefs_of(conn, username).to_dict(),
            }

        return json_response(await self.state.db.execute_fn(read))

    async def subscribe(self, request: web.Request) -> web.Response:
        endpoint, p256dh, auth = subscriptions.parse(await read_json(request), allow_private=self.allow_private)
        username, device = owner(request), request.headers.get("User-Agent", "")
        saved = await self.state.db.execute_write_fn(
            lambda conn: subscriptions.save(conn, username, endpoint, p256dh, auth, device, time.time())
        )
        return json_response(saved.public(), status=201)

    async def unsubscribe(self, request: web.Request) -> web.Response:
        subscription_id = path_id(request, "subscription_id", what="push subscription", missing_code="NO_SUBSCRIPTION")
        username = owner(request)
        if not await self.state.db.execute_write_fn(lambda c: subscriptions.delete_own(c, username, subscription_id)):
            raise NotFound(f"no push subscription {subscription_id} of yours", code="NO_SUBSCRIPTION")
        return json_response({"deleted": subscription_id})

    async def unsubscribe_endpoint(self, request: web.Request) -> web.Response:
        """The browser knows its endpoint, not the id: {endpoint} forgets this browser's subscription."""
        endpoint = (await read_json(request)).get("endpoint")
        if not isinstance(endpoint, str) or not endpoint:
            raise BadRequest("endpoint is required", code="BAD_PUSH_ENDPOINT")
        username = owner(request)
        deleted = await self.state.db.execute_write_fn(
            lambda c: subscriptions.delete_own_endpoint(c, username, endpoint)
        )
        return json_response({"deleted": deleted})

    async def get_prefs(self, request: web.Request) -> web.Response:
        username = owner(request)
        prefs = await self.state.db.execute_fn(lambda conn: subscriptions.prefs_of(conn, username))
        return json_response(prefs.to_dict())

    async def set_prefs(self, request: web.Request) -> web.Response:
        data, username = await read_json(request), owner(request)

        def write(conn: Any) -> subscriptions.Prefs:
            wanted = subscriptions.parse_prefs(data, subscriptions.prefs_of(conn, username))
            return subscriptions.set_prefs(conn, username, wanted, time.time())

        return json_response((await self.state.db.execute_write_fn(write)).to_dict())


def add_routes(routes: Routes, state: CozyGenState) -> None:
    r = PushRoutes(state)
    state.starters.append(r.start)
    state.stoppers.append(r.stop)
    routes.get("/cozygen/api/push/key", access=VIEWER)(r.public_key)
    routes.get("/cozygen/api/push/subscriptions", access=VIEWER)(r.list_own)
    routes.post("/cozygen/api/push/subscriptions", access=USER)(r.subscribe)
    routes.delete("/cozygen/api/push/subscriptions", access=USER)(r.unsubscribe_endpoint)
    routes.delete("/cozygen/api/push/subscriptions/{subscription_id}", access=USER)(r.unsubscribe)
    routes.get("/cozygen/api/push/settings", access=VIEWER)(r.get_prefs)
    routes.put("/cozygen/api/push/settings", access=USER)(r.set_prefs)
