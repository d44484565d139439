"""Which push endpoints CozyGen will send to: no request forgery into the LAN through a subscription.

A subscription names a URL that CozyGen later POSTs to. Anyone who may subscribe could otherwise name a router's
or a NAS's address and have the server post to it. So an endpoint must be https, and the addresses it resolves
to must be public ones: checked here when it is stored (an address written in the URL, or a local-only name)
and again when it is sent to, on the very addresses connected to (api/push_sender.py pins them). Setting
``COZYGEN_PUSH_ALLOW_PRIVATE=1`` lifts both rules (http and private or loopback addresses), for a push
service of one's own on the LAN and for the tests.
"""

from __future__ import annotations

import ipaddress
import os
from urllib.parse import urlsplit

from ..errors import BadRequest

ENV_ALLOW_PRIVATE = "COZYGEN_PUSH_ALLOW_PRIVATE"
MAX_ENDPOINT = 2048
LOCAL_SUFFIXES = (".local", ".localhost", ".lan", ".home", ".home.arpa", ".internal", ".localdomain", ".intranet")


def allow_private_from_env() -> bool:
    return os.environ.get(ENV_ALLOW_PRIVATE, "").strip().lower() in ("1", "true", "yes", "on")


def address_allowed(address: str, *, allow_private: bool) -> bool:
    """Whether an IP address may be connected to (a global unicast one, unless private ones are allowed)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_unspecified or ip.is_multicast:
        return False
    return allow_private or ip.is_global


def check_endpoint(url: str, *, allow_private: bool) -> str:
    """The endpoint if CozyGen may store it, else BadRequest saying why."""
    if not isinstance(url, str) or not url or len(url) > MAX_ENDPOINT:
        raise BadRequest(f"endpoint must be a URL of at most {MAX_ENDPOINT} characters", code="BAD_PUSH_ENDPOINT")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise BadRequest("endpoint is not a valid URL", code="BAD_PUSH_ENDPOINT") from None
    host = (parts.hostname or "").rstrip(".").lower()
    schemes = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in schemes or not host or parts.username is not None or parts.password is not None:
        raise BadRequest("endpoint must be an https URL of a push service", code="BAD_PUSH_ENDPOINT")
    if port == 0 or any(c.isspace() for c in url):
        raise BadRequest("endpoint is not a valid URL", code="BAD_PUSH_ENDPOINT")
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
        literal = True
    except ValueError:
        literal = False
    if literal and not address_allowed(host, allow_private=allow_private):
        raise BadRequest("endpoint must be a public push service, not a local address", code="BAD_PUSH_ENDPOINT")
    if not literal and not allow_private and (host == "localhost" or "." not in host or host.endswith(LOCAL_SUFFIXES)):
        raise BadRequest("endpoint must be a public push service, not a local name", code="BAD_PUSH_ENDPOINT")
    return url
