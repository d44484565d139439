"""Sending one Web Push message: VAPID-signed (RFC 8292), aes128gcm-encrypted (RFC 8291), posted (RFC 8030).

pywebpush and py_vapid sign and encrypt (in a worker thread: they are blocking and imported on first use);
aiohttp posts, with a deadline, no proxy from the environment, no redirects, and a resolver that drops every
address core/push/endpoints.py refuses, so the address checked is the address connected to (a name that
resolves to the LAN, or is made to between the check and the send, reaches nothing).
"""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver

from ..core.push.endpoints import address_allowed, check_endpoint
from ..core.push.keys import VapidKey

TIMEOUT = 10.0
TTL = 24 * 3600  # how long the push service keeps a message for a phone that is offline
CLAIM_LIFETIME = 12 * 3600
DEFAULT_CONTACT = "mailto:cozygen@example.com"


class GuardedResolver(AbstractResolver):
    """The system's resolver, less the addresses a push may not go to."""

    def __init__(self, *, allow_private: bool) -> None:
        self.allow_private = allow_private
        self.inner = ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self.inner.resolve(host, port, family)
        allowed = [r for r in found if address_allowed(r["host"], allow_private=self.allow_private)]
        if not allowed:
            raise OSError(f"{host} resolves to no public address; a push is not sent there")
        return allowed

    async def close(self) -> None:
        await self.inner.close()


class PushSender:
    def __init__(self, key: VapidKey, *, contact: str = DEFAULT_CONTACT, allow_private: bool = False) -> None:
        self.key, self.contact, self.allow_private = key, contact, allow_private
        self._vapid: Any = None

    def encode(self, info: dict[str, Any], payload: bytes) -> tuple[dict[str, str], bytes]:
        """The headers and the encrypted body (blocking: run it in a thread)."""
        from py_vapid import Vapid  # type: ignore[import-untyped]
        from pywebpush import WebPusher  # type: ignore[import-untyped]

        if self._vapid is None:
            self._vapid = Vapid.from_pem(self.key.private_pem)
        parts = urlsplit(info["endpoint"])
        claims = {
            "sub": self.contact,
            "aud": f"{parts.scheme}://{parts.netloc}",
            "exp": int(time.time()) + CLAIM_LIFETIME,
        }
        headers = dict(self._vapid.sign(claims))  # Authorization: vapid t=<JWT>,k=<public key>
        body = WebPusher(info).encode(payload, "aes128gcm")["body"]
        headers.update({"Content-Encoding": "aes128gcm", "Content-Type": "application/octet-stream", "TTL": str(TTL)})
        return headers, body

    async def __call__(self, info: dict[str, Any], payload: bytes) -> int:
        """Post one message; the push service's status (201 accepted, 404/410 gone). Raises on network errors."""
        endpoint = check_endpoint(info["endpoint"], allow_private=self.allow_private)  # again: the rules may change
        headers, body = await asyncio.to_thread(self.encode, info, payload)
        connector = aiohttp.TCPConnector(resolver=GuardedResolver(allow_private=self.allow_private), limit=2)
        timeout = aiohttp.ClientTimeout(total=TIMEOUT)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout, trust_env=False) as session:
            async with session.post(endpoint, data=body, headers=headers, allow_redirects=False) as response:
                await response.content.read(4096)
                return response.status
