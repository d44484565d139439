"""Server-wide settings an admin can change, stored in the ``settings`` table.

Each setting has a type, a default (which an environment variable may supply)
and, where it applies, the values allowed or a check; values are stored as JSON.
``update`` validates every change before it writes any, so a bad request changes
nothing; ``null`` puts a setting back to its default. A ``secret`` setting (the
LLM endpoint's API key, the download keys) is write-only: ``public`` shows only whether it is set.
"""

from __future__ import annotations

import ipaddress
import json
import math
import os
import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .errors import BadRequest


@dataclass(frozen=True)
class Setting:
    kind: type
    default: Any
    description: str
    choices: tuple[Any, ...] = ()
    env: str | None = None  # an environment variable that supplies the default
    secret: bool = False  # never shown; public() says only whether it is set
    check: Callable[[Any], str | None] | None = None  # a reason the value is refused, or None

    def default_value(self) -> Any:
        raw = os.environ.get(self.env, "").strip() if self.env else ""
        if not raw:
            return self.default
        try:
            value = self.kind(raw)
        except ValueError:
            return self.default
        return value if self.check is None or self.check(value) is None else self.default


def _url(value: str) -> str | None:
    if not value:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in value):
        return "an http:// or https:// URL, e.g. http://127.0.0.1:11434/v1 (or empty to turn the LLM off)"
    return None if len(value) <= 2000 else "at most 2000 characters"


def _short_text(limit: int) -> Callable[[str], str | None]:
    def check(value: str) -> str | None:
        if len(value) > limit:
            return f"at most {limit} characters"
        return "a single line" if any(c in value for c in "\r\n\x00") else None

    return check


def _seconds(value: float) -> str | None:
    return None if math.isfinite(value) and 0.5 <= value <= 300 else "between 0.5 and 300 seconds"


def _between(low: int, high: int) -> Callable[[int], str | None]:
    def check(value: int) -> str | None:
        return None if low <= value <= high else f"between {low} and {high}"

    return check


_HOST_NAME = re.compile(r"(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*")


def host_entries(value: str) -> list[str]:
    """The entries of a host list setting (space or comma separated), lowercased."""
    return [entry.lower().rstrip(".") for entry in re.split(r"[\s,]+", value) if entry.strip(" ,.")]


def _hosts(*, networks: bool) -> Callable[[str], str | None]:
    """Host names (each also allowing its subdomains), IP addresses and, with ``networks``, CIDRs."""

    def check(value: str) -> str | None:
        if len(value) > 4000:
            return "at most 4000 characters"
        for entry in host_entries(value):
            try:
                ipaddress.ip_network(entry, strict=False) if networks else ipaddress.ip_address(entry)
            except ValueError:
                if not _HOST_NAME.fullmatch(entry):
                    kinds = "host names, IP addresses or CIDRs" if networks else "host names"
                    return f"{kinds} separated by spaces or commas (not {entry[:80]!r})"
        return None

    return check


SETTINGS: dict[str, Setting] = {
    "guard_comfyui": Setting(
        bool,
        True,
        "while auth is on, ComfyUI's own routes (its editor, /prompt, /view, /ws...) need a login too; "
        "turn off only on a LAN you trust",
    ),
    "gallery_visibility": Setting(
        str,
        "shared",
        "shared: everyone sees every output; per_user: users see the outputs of their own jobs (admins see all)",
        ("shared", "per_user"),
    ),
    "enrich_url": Setting(
        str,
        "",
        "base URL of an OpenAI-compatible server for prompt enrichment (Ollama: http://127.0.0.1:11434/v1, "
        "llama.cpp: http://127.0.0.1:8080/v1); empty: the shipped style templates only",
        env="COZYGEN_ENRICH_URL",
        check=_url,
    ),
    "enrich_model": Setting(
        str,
        "",
        "the model that server should use (e.g. llama3.2); empty sends no model name",
        env="COZYGEN_ENRICH_MODEL",
        check=_short_text(200),
    ),
    "enrich_api_key": Setting(
        str,
        "",
        "API key sent as a Bearer token to the enrichment server; write-only (reads show enrich_api_key_set)",
        env="COZYGEN_ENRICH_API_KEY",
        secret=True,
        check=_short_text(1000),
    ),
    "enrich_timeout": Setting(
        float,
        8.0,
        "seconds to wait for the enrichment server before answering from the style template",
        env="COZYGEN_ENRICH_TIMEOUT",
        check=_seconds,
    ),
    "hf_token": Setting(
        str,
        "",
        "Hugging Face access token for gated or private models; sent only to the Hugging Face endpoint; "
        "write-only (reads show hf_token_set)",
        env="HF_TOKEN",
        secret=True,
        check=_short_text(1000),
    ),
    "civitai_api_key": Setting(
        str,
        "",
        "Civitai API key, sent as a Bearer token only to civitai.com and its subdomains; write-only "
        "(reads show civitai_api_key_set)",
        env="CIVITAI_API_KEY",
        secret=True,
        check=_short_text(1000),
    ),
    "comfy_api_key": Setting(
        str,
        "",
        "Comfy account API key for ComfyUI's partner nodes (cloud models), added server-side to the jobs that "
        "use them; write-only (reads show comfy_api_key_set)",
        env="COMFY_API_KEY",
        secret=True,
        check=_short_text(1000),
    ),
    "download_hosts": Setting(
        str,
        "huggingface.co civitai.com",
        "hosts a model download may start at, separated by spaces or commas (a name also allows its "
        "subdomains); the host of HF_ENDPOINT is always allowed",
        check=_hosts(networks=False),
    ),
    "download_private_hosts": Setting(
        str,
        "",
        "hosts, addresses or CIDRs (nas.local, 192.168.1.10, 10.0.0.0/8) a download may reach although they "
        "resolve to a loopback, private or link-local address; empty: no download reaches your network",
        check=_hosts(networks=True),
    ),
    "download_concurrency": Setting(
        int,
        2,
        "model downloads running at once (1 to 8); the others wait in the queue",
        check=_between(1, 8),
    ),
}


def defaults() -> dict[str, Any]:
    return {name: setting.default_value() for name, setting in SETTINGS.items()}


def public(values: dict[str, Any]) -> dict[str, Any]:
    """The settings as a reader may see them: each secret replaced by ``<name>_set``, true when it has a value."""
    shown: dict[str, Any] = {}
    for name, value in values.items():
        if name in SETTINGS and SETTINGS[name].secret:
            shown[f"{name}_set"] = bool(value)
        else:
            shown[name] = value
    return shown


def audit_detail(changes: dict[str, Any]) -> str:
    """The changes for the audit log, secrets shown only as set, cleared or reset."""

    def shown(name: str, value: Any) -> Any:
        if value is None:
            return "<default>"
        if SETTINGS[name].secret:
            return "<set>" if value else "<cleared>"
        return value

    return ",".join(f"{k}={shown(k, v)}" for k, v in sorted(changes.items()))


def load(conn: sqlite3.Connection) -> dict[str, Any]:
    """Every setting, stored value or default."""
    values = defaults()
    for row in conn.execute("SELECT key, value FROM settings"):
        if row["key"] in SETTINGS:
            values[row["key"]] = json.loads(row["value"])
    return values


def validate(changes: Any) -> dict[str, Any]:
    if not isinstance(changes, dict) or not changes:
        raise BadRequest(f"send an object with one or more of: {', '.join(SETTINGS)}", code="INVALID_BODY")
    unknown = sorted(set(changes) - set(SETTINGS))
    if unknown:
        raise BadRequest(f"unknown setting {unknown[0]!r}; known: {', '.join(SETTINGS)}", code="UNKNOWN_SETTING")
    checked: dict[str, Any] = {}
    for name, value in changes.items():
        setting = SETTINGS[name]
        if value is None:  # back to the default
            checked[name] = None
            continue
        if setting.kind is float and type(value) is int:
            value = float(value)
        if type(value) is not setting.kind:
            raise BadRequest(f"{name} must be a {_kind_name(setting.kind)}", code="INVALID_SETTING")
        if isinstance(value, str):  # setting.kind is str (its type was checked just above)
            value = value.strip()
        if setting.choices and value not in setting.choices:
            choices = ", ".join(map(str, setting.choices))
            raise BadRequest(f"{name} must be one of {choices}", code="INVALID_SETTING")
        reason = setting.check(value) if setting.check else None
        if reason:
            raise BadRequest(f"{name} must be {reason}", code="INVALID_SETTING")
        checked[name] = value
    return checked


def _kind_name(kind: type) -> str:
    return {bool: "boolean (true or false)", str: "string", float: "number", int: "whole number"}.get(
        kind, kind.__name__
    )


def update(conn: sqlite3.Connection, changes: Any) -> dict[str, Any]:
    """Apply validated changes and return every setting."""
    for name, value in validate(changes).items():
        if value is None:
            conn.execute("DELETE FROM settings WHERE key = ?", (name,))
            continue
        conn.execute(
            "INSERT INTO settings(key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = strftime('%s','now')",
            (name, json.dumps(value)),
        )
    return load(conn)
