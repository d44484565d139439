"""Who may call what: the access levels of routes, and when auth is on.

CozyGen routes declare their level when registered; anything undeclared under
``/cozygen`` is admin-only. ComfyUI's own routes get theirs from the allowlist in
``core/comfyui/routes.py``.
"""

from __future__ import annotations

import ipaddress
import os

PUBLIC, VIEWER, USER, ADMIN = "public", "viewer", "user", "admin"
LEVELS = (PUBLIC, VIEWER, USER, ADMIN)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
ENV_AUTH = "COZYGEN_AUTH"


def strip_api_prefix(path: str) -> str:
    """ComfyUI serves every route also under ``/api``: map that copy back to the route."""
    if path == "/api":
        return "/"
    return path[4:] if path.startswith("/api/") else path


def is_cozygen_path(path: str) -> bool:
    return path == "/cozygen" or path.startswith("/cozygen/")


def is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.strip().strip("[]")).is_loopback
    except ValueError:
        return address.strip().lower() == "localhost"


def auth_mode(listen: list[str]) -> tuple[bool, str]:
    """Whether auth is on, and why (for the log)."""
    setting = os.environ.get(ENV_AUTH, "").strip().lower()
    if setting in ("on", "1", "true", "yes"):
        return True, f"{ENV_AUTH}=on"
    if setting in ("off", "0", "false", "no"):
        return False, f"{ENV_AUTH}=off: anyone who can reach this ComfyUI can use it"
    if listen and all(is_loopback(a) for a in listen):
        return False, "ComfyUI listens on loopback only"
    return True, f"ComfyUI listens on {', '.join(listen) or 'all addresses'}"


# How much each role may do, compared with the level a route needs.
ROLE_LEVELS = {VIEWER: 1, USER: 2, ADMIN: 3, PUBLIC: 0}
