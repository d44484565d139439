"""The fields an admin sends for a backend, checked (pure): a bad one is 400 with the field named. A backend URL is
http(s), names a host, and carries no credentials, query or fragment (those go in the auth fields)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from ..errors import BadRequest
from ..paths import PathRejected, clean_relative
from .model import LOCAL_ID

AUTH_KINDS = ("none", "bearer", "basic")
MAX_NAME, MAX_URL, MAX_SECRET, MAX_USER, MAX_TAGS, MAX_TAG = 64, 2000, 4096, 256, 16, 32
MAX_JOBS = 64
_TAG = re.compile(r"[a-z0-9][a-z0-9._-]*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
EDITABLE = ("name", "url", "auth", "auth_user", "secret", "enabled", "max_jobs", "tags", "subfolder")


def _bad(field: str, why: str, code: str = "INVALID_BACKEND") -> BadRequest:
    return BadRequest(f"{field}: {why}", code=code, extra={"field": field})


def name(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _bad("name", "a name is needed, e.g. attic-pc")
    text = value.strip()
    if len(text) > MAX_NAME or _CONTROL.search(text):
        raise _bad("name", f"one line of at most {MAX_NAME} characters")
    if text.lower() == LOCAL_ID:
        raise _bad("name", f"{LOCAL_ID!r} is this ComfyUI's name; pick another")
    return text


def url(value: Any) -> str:
    """``http(s)://host[:port][/prefix]`` without a trailing slash; 400 ``INVALID_BACKEND_URL`` otherwise."""
    if not isinstance(value, str) or not value.strip():
        raise _bad("url", "the backend's address is needed, e.g. http://192.168.1.20:8188", "INVALID_BACKEND_URL")
    text = value.strip()
    if len(text) > MAX_URL or any(c.isspace() for c in text) or _CONTROL.search(text) or "\\" in text:
        raise _bad("url", f"one address of at most {MAX_URL} characters, no spaces", "INVALID_BACKEND_URL")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise _bad("url", "not a valid address (its port?)", "INVALID_BACKEND_URL") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise _bad("url", "an http:// or https:// address, e.g. http://192.168.1.20:8188", "INVALID_BACKEND_URL")
    if not parts.hostname:
        raise _bad("url", "the address names no host", "INVALID_BACKEND_URL")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise _bad("url", "no user or password in the address: use the auth fields", "INVALID_BACKEND_URL")
    if parts.query or parts.fragment or "?" in text or "#" in text:
        raise _bad("url", "no query (?…) or fragment (#…) in the address", "INVALID_BACKEND_URL")
    if ".." in parts.path.split("/"):
        raise _bad("url", "no '..' in the address's path", "INVALID_BACKEND_URL")
    if port == 0:
        raise _bad("url", "port 0 is no port", "INVALID_BACKEND_URL")
    return text.rstrip("/")


def auth(value: Any) -> str:
    if value is None:
        return "none"
    if value not in AUTH_KINDS:
        raise _bad("auth", "none, bearer or basic")
    return str(value)


def secret(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > MAX_SECRET or _CONTROL.search(value):
        raise _bad("secret", f"one line of at most {MAX_SECRET} characters")
    return value


def auth_user(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > MAX_USER or _CONTROL.search(value) or ":" in value:
        raise _bad("auth_user", f"one line of at most {MAX_USER} characters, no ':'")
    return value


def enabled(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _bad("enabled", "true or false")
    return value


def max_jobs(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_JOBS:
        raise _bad("max_jobs", f"a whole number from 1 to {MAX_JOBS}")
    return value


def tags(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) > MAX_TAGS:
        raise _bad("tags", f"a list of at most {MAX_TAGS} tags")
    found: list[str] = []
    for tag in value:
        text = tag.strip().lower() if isinstance(tag, str) else ""
        if not _TAG.fullmatch(text) or len(text) > MAX_TAG:
            raise _bad("tags", f"each tag is a word of at most {MAX_TAG} letters, digits, '.', '_' or '-': {tag!r}")
        if text not in found:
            found.append(text)
    return tuple(found)


def subfolder(value: Any) -> str:
    """A folder inside the output folder ('' for none given: the default is chosen from the name)."""
    if value is None or value == "":
        return ""
    try:
        cleaned = clean_relative(value, what="subfolder")
    except PathRejected as exc:
        raise _bad("subfolder", str(exc)) from None
    if any(part.startswith(".") for part in cleaned.split("/")) or _CONTROL.search(cleaned):
        raise _bad("subfolder", "no hidden ('.') folders or control characters")
    return cleaned


def default_subfolder(backend_name: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", backend_name).strip("-.") or "backend"
    return f"backends/{slug[:MAX_NAME]}"


CHECKS = {
    "name": name,
    "url": url,
    "auth": auth,
    "auth_user": auth_user,
    "secret": secret,
    "enabled": enabled,
    "max_jobs": max_jobs,
    "tags": tags,
    "subfolder": subfolder,
}


def parse(body: Any, *, partial: bool) -> dict[str, Any]:
    """The checked fields of a create (``partial`` False: name and url required) or an update; unknown fields are
    refused, so a typo is not silently ignored."""
    if not isinstance(body, dict):
        raise BadRequest("send a JSON object", code="INVALID_BACKEND")
    unknown = sorted(set(body) - set(EDITABLE))
    if unknown:
        raise BadRequest(f"unknown field(s): {', '.join(unknown)}", code="INVALID_BACKEND", extra={"fields": unknown})
    if not partial:
        for required in ("name", "url"):
            if required not in body:
                raise _bad(required, "required")
    return {key: CHECKS[key](value) for key, value in body.items()}
