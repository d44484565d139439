"""This machine's host names and addresses, as a phone on the same network may reach it (standard library only)."""

from __future__ import annotations

import ipaddress
import socket

# A documentation address (RFC 5737): connecting a UDP socket to it sends nothing but picks the default route.
PROBE = ("192.0.2.1", 9)
PROBE6 = ("2001:db8::1", 9)


def route_address(family: socket.AddressFamily = socket.AF_INET) -> str | None:
    """The address this machine would send from on its default route, or None (no packet is sent)."""
    with socket.socket(family, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(PROBE if family == socket.AF_INET else PROBE6)
            return str(probe.getsockname()[0])
        except OSError:
            return None


def usable(address: str) -> bool:
    """An address a phone on the LAN could use: not loopback, link-local, unspecified or multicast."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    return not (ip.is_loopback or ip.is_link_local or ip.is_unspecified or ip.is_multicast)


def lan_addresses() -> list[str]:
    """The default route's address first, then the other addresses the host name resolves to."""
    found: list[str] = []
    for family in (socket.AF_INET, socket.AF_INET6):
        address = route_address(family)
        if address:
            found.append(address)
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None, proto=socket.IPPROTO_TCP)
    except OSError:
        infos = []
    found += [str(info[4][0]) for info in infos]
    return [a for a in dict.fromkeys(found) if usable(a)]


def host_names() -> list[str]:
    """The host name, its ``.local`` name (mDNS, as phones resolve it) and the full name when it has one."""
    name = socket.gethostname().strip().lower().rstrip(".")
    names = [name] if name else []
    short = name.split(".", 1)[0]
    if short:
        names.append(f"{short}.local")
    try:
        full = socket.getfqdn().strip().lower().rstrip(".")
    except OSError:
        full = ""
    if "." in full and not full.endswith(".localdomain") and full != "localhost":
        names.append(full)
    return [n for n in dict.fromkeys(names) if n and n != "localhost"]


def default_names_and_addresses() -> tuple[list[str], list[str]]:
    """What the server certificate covers by default: the host names and LAN addresses, plus loopback."""
    return [*host_names(), "localhost"], [*lan_addresses(), "127.0.0.1", "::1"]
