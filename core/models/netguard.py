"""The download guard against request forgery (SSRF): which hosts a download may start at, which addresses it
may reach.

Default deny: a download starts only at a host of ``download_hosts`` (or the Hugging Face endpoint), and every hop
(the first URL and each redirect) must resolve to global addresses only. Loopback, private, link-local, CGNAT,
unspecified and multicast addresses (IPv4-mapped and NAT64 IPv6 unwrapped first) are refused unless the host name
or the address is in ``download_private_hosts``. ``resolve`` returns the checked addresses: the transfer connects
to those very addresses, so a second DNS answer cannot swap them (no rebinding window).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ..errors import BadGateway, BadRequest, Forbidden
from ..settings import host_entries

_NAT64 = ipaddress.ip_network("64:ff9b::/96")
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class Policy:
    allowed_hosts: tuple[str, ...]  # names (each with its subdomains) or addresses a download may start at
    private: tuple[str, ...]  # names, addresses or CIDRs that may resolve to non-global addresses
    private_origins: tuple[tuple[str, int], ...] = ()  # (host, port): that one service only (HF_ENDPOINT's)


def policy_from_settings(settings: Mapping[str, Any], hf_endpoint: str | None) -> Policy:
    """The policy of the current settings. ``hf_endpoint`` (the HF_ENDPOINT an operator set, if any) is always
    allowed, and, being the operator's own choice (a local mirror), may be a private address too: on its own port
    only, so a redirect from it cannot reach another service of that machine (ComfyUI itself)."""
    allowed = host_entries(str(settings.get("download_hosts") or ""))
    private = host_entries(str(settings.get("download_private_hosts") or ""))
    origins: list[tuple[str, int]] = []
    if hf_endpoint:
        parts = urlsplit(hf_endpoint)
        endpoint_host = (parts.hostname or "").rstrip(".").lower()
        if endpoint_host:
            allowed.append(endpoint_host)
            try:
                port = parts.port or (443 if parts.scheme == "https" else 80)
            except ValueError:
                port = 443
            origins.append((endpoint_host, port))
    return Policy(tuple(dict.fromkeys(allowed)), tuple(dict.fromkeys(private)), tuple(origins))


def _name_matches(host: str, entries: tuple[str, ...]) -> bool:
    host = host.lower().rstrip(".")
    return any(host == entry or host.endswith("." + entry) for entry in entries)


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]").split("%")[0])
    except ValueError:
        return None


def check_start(url: str, policy: Policy) -> tuple[str, str, int]:
    """``(scheme, host, port)`` of a URL a download may start at; 400 ``INVALID_SOURCE`` or 403
    ``HOST_NOT_ALLOWED`` (the message says which setting to change)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise BadRequest("not a URL", code="INVALID_SOURCE") from None
    host = (parts.hostname or "").rstrip(".")
    if parts.scheme not in ("http", "https") or not host:
        raise BadRequest("a download URL starts with http:// or https:// and names a host", code="INVALID_SOURCE")
    literal = _literal(host)
    allowed = (
        any(literal == _literal(entry) for entry in policy.allowed_hosts)
        if literal is not None
        else _name_matches(host, policy.allowed_hosts)
    )
    if not allowed:
        shown = " ".join(policy.allowed_hosts) or "none"
        raise Forbidden(
            f"downloads may start only at these hosts: {shown}; an admin can add {host} to the download_hosts "
            "setting",
            code="HOST_NOT_ALLOWED",
        )
    return parts.scheme, host, port or (443 if parts.scheme == "https" else 80)


def _effective(address: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 one stands for (mapped ``::ffff:a.b.c.d`` or NAT64 ``64:ff9b::a.b.c.d``)."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address in _NAT64:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address


def _global(address: IPAddress) -> bool:
    return address.is_global and not address.is_multicast and not address.is_unspecified


def _private_allowed(host: str, port: int | None, address: IPAddress, policy: Policy) -> bool:
    if address.is_unspecified or address.is_multicast:
        return False  # never a server: 0.0.0.0 reaches this machine itself
    if _name_matches(host, policy.private) or (host.lower().rstrip("."), port) in policy.private_origins:
        return True
    for entry in policy.private:
        try:
            if address in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue  # a host name entry
    return False


def check_address(host: str, address: str, policy: Policy, port: int | None = None) -> str:
    """``address`` (as returned), or 403 ``ADDRESS_NOT_ALLOWED`` when it is not global and not allowlisted."""
    parsed = _literal(address)
    if parsed is None:
        raise Forbidden(f"{host} resolved to {address!r}, not an IP address", code="ADDRESS_NOT_ALLOWED")
    effective = _effective(parsed)
    if not _global(effective) and not _private_allowed(host, port, effective, policy):
        entry = host if host == str(effective) else f"{host} (or {effective})"
        raise Forbidden(
            f"{host} resolves to {effective}, a loopback, private or link-local address: downloads do not reach "
            f"your network unless an admin adds {entry} to the download_private_hosts setting",
            code="ADDRESS_NOT_ALLOWED",
        )
    return str(effective if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped else parsed)


def resolve(host: str, port: int, policy: Policy) -> list[str]:
    """Every address of ``host`` (a literal IP is its own), each checked: one refused address refuses them all.
    Blocking (DNS): call it from a thread."""
    host = host.strip("[]").rstrip(".")
    if _literal(host) is not None:
        return [check_address(host, host, policy, port)]
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise BadGateway(f"cannot resolve {host}: {exc}", code="SOURCE_FAILED") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise BadGateway(f"{host} has no address", code="SOURCE_FAILED")
    return [check_address(host, address, policy, port) for address in addresses]
