"""A push service on loopback that speaks the protocol, for the tests (RFC 8030, 8291, 8292).

It accepts what a real one accepts: a POST to a subscription's endpoint with ``Authorization: vapid t=<JWT>,
k=<key>`` (ES256 by that key, aud = this service's origin, exp in the next 24 hours, a sub), ``TTL`` and
``Content-Encoding: aes128gcm``, and decrypts the body with the subscription's own private key and auth secret
(http_ece), made here as a browser makes them. It answers 201, or what a test set for an endpoint (410: gone).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Device:
    """One browser's subscription: its key pair and auth secret, and what reached it."""

    name: str
    private: Any
    auth: bytes
    received: list[Any] = field(default_factory=list)
    answer: int = 201

    @classmethod
    def make(cls, name: str) -> Device:
        from cryptography.hazmat.primitives.asymmetric import ec

        return cls(name, ec.generate_private_key(ec.SECP256R1()), os.urandom(16))

    @property
    def p256dh(self) -> str:
        from cryptography.hazmat.primitives import serialization

        point = self.private.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return b64(point)


def check_vapid(authorization: str, origin: str, server_key: str | None) -> dict[str, Any]:
    """The claims of a valid VAPID Authorization header (RFC 8292), else AssertionError."""
    import jwt
    from cryptography.hazmat.primitives.asymmetric import ec

    scheme, _, params = authorization.partition(" ")
    assert scheme == "vapid", authorization
    found = dict(part.strip().split("=", 1) for part in params.split(","))
    token, key = found["t"], found["k"]
    assert server_key is None or key == server_key, (key, server_key)
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64(key))
    claims = jwt.decode(token, public, algorithms=["ES256"], audience=origin, options={"require": ["exp", "aud"]})
    assert time.time() < claims["exp"] <= time.time() + 24 * 3600, claims
    assert str(claims.get("sub", "")).startswith(("mailto:", "https:")), claims
    return claims


def decrypt(device: Device, body: bytes) -> bytes:
    import http_ece

    return http_ece.decrypt(body, private_key=device.private, auth_secret=device.auth, version="aes128gcm")


class PushService:
    def __init__(self, server_key: str | None = None) -> None:
        self.server_key = server_key  # the VAPID public key every push must be signed with
        self.devices: dict[str, Device] = {}
        self.refused: list[str] = []  # why a request was refused
        self.origin = ""
        self._runner: web.AppRunner | None = None

    def device(self, name: str) -> Device:
        self.devices[name] = Device.make(name)
        return self.devices[name]

    def subscription(self, device: Device) -> dict[str, Any]:
        """What the browser's PushSubscription.toJSON() gives."""
        endpoint = f"{self.origin}/push/{device.name}"
        keys = {"p256dh": device.p256dh, "auth": b64(device.auth)}
        return {"endpoint": endpoint, "expirationTime": None, "keys": keys}

    @property
    def received(self) -> list[Any]:
        return [payload for d in self.devices.values() for payload in d.received]

    async def handle(self, request: web.Request) -> web.Response:
        device = self.devices.get(request.match_info["name"])
        if device is None:
            return web.Response(status=404)
        try:
            check_vapid(request.headers.get("Authorization", ""), self.origin, self.server_key)
            assert request.headers.get("Content-Encoding") == "aes128gcm", dict(request.headers)
            assert int(request.headers["TTL"]) >= 0, dict(request.headers)
            plain = decrypt(device, await request.read())
        except Exception as error:  # a request a push service would refuse
            self.refused.append(repr(error))
            return web.Response(status=400, text=repr(error))
        if device.answer >= 300:
            return web.Response(status=device.answer)
        device.received.append(json.loads(plain))
        return web.Response(status=201, headers={"Location": f"{self.origin}/message/1"})

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/push/{name}", self.handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.origin = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


class PushServiceThread:
    """The push service on a loop of its own, for tests that are not async."""

    def __init__(self, server_key: str | None = None) -> None:
        self.service = PushService(server_key)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> PushService:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.service.start(), self.loop).result(10)
        return self.service

    def __exit__(self, *_: Any) -> None:
        asyncio.run_coroutine_threadsafe(self.service.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()
