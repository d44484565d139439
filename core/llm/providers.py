"""The language-model providers: the LLM rows of the ``profiles`` table (migration 19; Spoon Feeder's LLM profiles
are the same rows, core/backends/profiles.py delegates their changes here). At most one is the default; when no
LLM row exists but the old ``enrich_url`` setting is set, that is the implicit default provider (id ``settings``,
never stored), so installs from before keep working. Keys are write-only: answers say ``has_key``."""

from __future__ import annotations

import json
import math
import sqlite3
import time
from collections.abc import Callable, Mapping
from typing import Any

from ..backends import fields, records
from ..backends.profiles import MASK
from ..errors import BadRequest, CozyGenError, HostNotReady, NotFound
from ..store.db import Database
from .client import LLMClient
from .model import DEFAULT_TIMEOUT, KINDS, SETTINGS_ID, NoProvider, Provider

MAX_MODEL = 256
MIN_TIMEOUT, MAX_TIMEOUT = 1.0, 600.0
BODY_KEYS = {"name", "kind", "url", "api_key", "default_model", "timeout", "is_default"}


def _bad(field: str, why: str) -> BadRequest:
    return BadRequest(f"{field}: {why}", code="INVALID_PROVIDER", extra={"field": field})


def check_kind(value: Any) -> str:
    if value not in KINDS:
        raise _bad("kind", f"one of {', '.join(KINDS)}")
    return str(value)


def check_url(value: Any, kind: str) -> str | None:
    if value in (None, ""):
        if kind == "openai-compatible":
            raise _bad("url", "the server's OpenAI-compatible base is needed, e.g. http://192.168.1.20:8080/v1")
        return None
    try:
        return fields.url(value)
    except BadRequest as exc:
        raise _bad("url", exc.message.partition(": ")[2] or exc.message) from None


def check_model(value: Any) -> str | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str) or len(value) > MAX_MODEL or any(ord(c) < 32 for c in value):
        raise _bad("default_model", f"a model name of at most {MAX_MODEL} characters")
    return value.strip() or None


def check_timeout(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _bad("timeout", f"seconds from {MIN_TIMEOUT:g} to {MAX_TIMEOUT:g}")
    if not MIN_TIMEOUT <= value <= MAX_TIMEOUT:
        raise _bad("timeout", f"seconds from {MIN_TIMEOUT:g} to {MAX_TIMEOUT:g}")
    return float(value)


def check_key(value: Any) -> str | None:
    try:
        return fields.secret(value)
    except BadRequest:
        raise _bad("api_key", "one line of at most 4096 characters") from None


def _options(row: Mapping[str, Any]) -> dict[str, Any]:
    try:
        found = json.loads(row.get("options_json") or "{}")
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def from_row(row: Mapping[str, Any]) -> Provider:
    options = _options(row)
    model = options.get("default_model") or options.get("model")
    timeout = options.get("timeout")
    return Provider(
        id=row["id"], name=row["name"], kind=row["provider"], url=row["url"], key=row["secret"],
        default_model=model if isinstance(model, str) and model else None, is_default=bool(row["is_default"]),
        timeout=float(timeout) if isinstance(timeout, int | float) and not isinstance(timeout, bool)
        and MIN_TIMEOUT <= timeout <= MAX_TIMEOUT else DEFAULT_TIMEOUT,
    )  # fmt: skip


def from_settings(values: Mapping[str, Any]) -> Provider | None:
    """The implicit provider of the old enrich settings (``enrich_url``, ``enrich_model``, ``enrich_api_key``,
    ``enrich_timeout``), or None when ``enrich_url`` is not set."""
    url = str(values.get("enrich_url") or "").strip()
    if not url:
        return None
    try:
        timeout = float(values.get("enrich_timeout") or DEFAULT_TIMEOUT)
    except (TypeError, ValueError):
        timeout = DEFAULT_TIMEOUT
    return Provider(
        id=SETTINGS_ID, name="Settings (enrich)", kind="openai-compatible", url=url,
        key=str(values.get("enrich_api_key") or "") or None,
        default_model=str(values.get("enrich_model") or "").strip() or None, is_default=True,
        timeout=min(max(timeout, MIN_TIMEOUT), MAX_TIMEOUT),
    )  # fmt: skip


# -- SQL (functions of a connection, run by the single writer or a reader) ---------------------------------------
def llm_rows(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    marks = ", ".join("?" for _ in KINDS)
    rows = conn.execute(f"SELECT * FROM profiles WHERE provider IN ({marks}) ORDER BY created_at, id", KINDS)
    return [dict(row) for row in rows]


def make_default(conn: sqlite3.Connection, profile_id: str) -> None:
    """This LLM row becomes the default, every other LLM row not (one transaction: the writer's)."""
    marks = ", ".join("?" for _ in KINDS)
    conn.execute(f"UPDATE profiles SET is_default = 0 WHERE provider IN ({marks}) AND id != ?", (*KINDS, profile_id))
    conn.execute("UPDATE profiles SET is_default = 1, updated_at = ? WHERE id = ?", (time.time(), profile_id))


def keep_one_default(conn: sqlite3.Connection) -> None:
    """When LLM rows exist and none is the default, the oldest becomes it."""
    rows = llm_rows(conn)
    if rows and not any(row["is_default"] for row in rows):
        make_default(conn, rows[0]["id"])


class ProviderService:
    def __init__(self, db: Database, llm: LLMClient | None, settings: Callable[[], Mapping[str, Any]]) -> None:
        """``llm`` None: the providers are changed but never asked (Spoon Feeder's profiles in a unit test)."""
        self.db, self._llm, self.settings = db, llm, settings

    @property
    def llm(self) -> LLMClient:
        if self._llm is None:
            raise HostNotReady("no LLM client was started")
        return self._llm

    # -- reading -------------------------------------------------------------------------------------------------
    async def listing(self) -> list[Provider]:
        rows = await self.db.execute_fn(llm_rows)
        if rows:
            return [from_row(row) for row in rows]
        implicit = from_settings(self.settings())
        return [implicit] if implicit is not None else []

    async def get(self, provider_id: str) -> Provider:
        found = await self._row(provider_id)
        if found is not None:
            return from_row(found)
        if provider_id == SETTINGS_ID:
            for provider in await self.listing():
                if provider.id == SETTINGS_ID:
                    return provider
        raise NotFound(f"provider {provider_id} not found", code="PROVIDER_NOT_FOUND")

    async def default(self) -> Provider:
        """The default provider (NoProvider when none: no LLM row and no enrich_url setting)."""
        found = await self.listing()
        chosen = next((p for p in found if p.is_default), found[0] if found else None)
        if chosen is None:
            raise NoProvider()
        return chosen

    async def available(self) -> Provider | None:
        try:
            return await self.default()
        except NoProvider:
            return None

    async def _row(self, provider_id: str) -> dict[str, Any] | None:
        if not isinstance(provider_id, str) or len(provider_id) > 64:
            return None
        row = await self.db.execute_fn(lambda conn: records.profile(conn, provider_id))
        return row if row is not None and row["provider"] in KINDS else None

    async def _stored(self, provider_id: str) -> dict[str, Any]:
        row = await self._row(provider_id)
        if row is None:
            if provider_id == SETTINGS_ID:
                raise BadRequest(
                    "the settings provider comes from the enrich settings: change those, or add a provider",
                    code="SETTINGS_PROVIDER",
                )
            raise NotFound(f"provider {provider_id} not found", code="PROVIDER_NOT_FOUND")
        return row

    # -- changing ------------------------------------------------------------------------------------------------
    @staticmethod
    def columns(body: Mapping[str, Any], *, kind: str, options: dict[str, Any], creating: bool) -> dict[str, Any]:
        """Checked column values of what a body sends (``name``, ``url``, ``api_key``, ``default_model``,
        ``timeout``; Spoon Feeder's ``options`` are merged by the caller)."""
        values: dict[str, Any] = {}
        if "name" in body or creating:
            try:
                values["name"] = fields.name(body.get("name"))
            except BadRequest as exc:
                raise _bad("name", exc.message.partition(": ")[2] or exc.message) from None
        if "url" in body or creating:
            values["url"] = check_url(body.get("url"), kind)
        if "api_key" in body and body["api_key"] != MASK:
            values["secret"] = check_key(body["api_key"])
        changed = dict(options)
        if "default_model" in body:
            changed["default_model"] = check_model(body["default_model"])
        if "timeout" in body:
            changed["timeout"] = check_timeout(body["timeout"]) if body["timeout"] is not None else None
        if changed != options or creating:
            values["options_json"] = json.dumps({k: v for k, v in changed.items() if v is not None})
        return values

    async def create(self, body: Mapping[str, Any], *, by: str | None, extra: Mapping[str, Any] | None = None,
                     check_keys: bool = True) -> Provider:  # fmt: skip
        """A new provider. ``extra``: more column values (Spoon Feeder's description, options...)."""
        if check_keys:
            unknown = sorted(set(body) - BODY_KEYS)
            if unknown:
                raise _bad(unknown[0], f"unknown field; send {', '.join(sorted(BODY_KEYS))}")
        kind = check_kind(body.get("kind"))
        if "is_default" in body and not isinstance(body["is_default"], bool):
            raise _bad("is_default", "true or false")
        given = dict(extra or {})
        options = _options(given)
        values = {
            **given, **self.columns(body, kind=kind, options=options, creating=True),
            "provider": kind, "type": "text", "output_modalities_json": '["text"]',
        }  # fmt: skip

        def insert(conn: sqlite3.Connection) -> str:
            new_id = records.insert(conn, values, by=by)
            if body.get("is_default"):
                make_default(conn, new_id)
            keep_one_default(conn)
            return new_id

        return await self.get(await self.db.execute_write_fn(insert))

    async def update(self, provider_id: str, body: Mapping[str, Any], *, by: str | None,
                     extra: Mapping[str, Any] | None = None, check_keys: bool = True) -> Provider:  # fmt: skip
        row = await self._stored(provider_id)
        if check_keys:
            unknown = sorted(set(body) - BODY_KEYS)
            if unknown:
                raise _bad(unknown[0], f"unknown field; send {', '.join(sorted(BODY_KEYS))}")
        kind = check_kind(body["kind"]) if "kind" in body else row["provider"]
        if "is_default" in body and not isinstance(body["is_default"], bool):
            raise _bad("is_default", "true or false")
        given = dict(extra or {})
        options = _options(given) if "options_json" in given else _options(row)
        values = {**given, **self.columns(body, kind=kind, options=options, creating=False)}
        if "kind" in body:
            values["provider"] = kind
            if "url" not in body:
                values["url"] = check_url(row["url"], kind)

        def write(conn: sqlite3.Connection) -> None:
            if values:
                records.update(conn, provider_id, values)
            if body.get("is_default") is True:
                make_default(conn, provider_id)
            elif body.get("is_default") is False:
                conn.execute("UPDATE profiles SET is_default = 0 WHERE id = ?", (provider_id,))
            keep_one_default(conn)

        await self.db.execute_write_fn(write)
        return await self.get(provider_id)

    async def delete(self, provider_id: str, *, by: str | None) -> None:
        await self._stored(provider_id)

        def remove(conn: sqlite3.Connection) -> bool:
            gone = records.delete(conn, provider_id)
            keep_one_default(conn)
            return gone

        if not await self.db.execute_write_fn(remove):
            raise NotFound(f"provider {provider_id} not found", code="PROVIDER_NOT_FOUND")

    async def set_default(self, provider_id: str, *, by: str | None) -> Provider:
        await self._stored(provider_id)
        await self.db.execute_write_fn(lambda conn: make_default(conn, provider_id))
        return await self.get(provider_id)

    # -- the provider's own answers ------------------------------------------------------------------------------
    async def models(self, provider_id: str) -> list[str]:
        return await self.llm.models(await self.get(provider_id))

    def unsaved(self, body: Mapping[str, Any]) -> Provider:
        """A provider from a body, not stored (the test of an admin's form)."""
        unknown = sorted(set(body) - BODY_KEYS)
        if unknown:
            raise _bad(unknown[0], f"unknown field; send {', '.join(sorted(BODY_KEYS))}")
        kind = check_kind(body.get("kind"))
        return Provider(
            id="unsaved", name=str(body.get("name") or "unsaved")[:120], kind=kind,
            url=check_url(body.get("url"), kind), key=check_key(body.get("api_key")),
            default_model=check_model(body.get("default_model")), is_default=False,
            timeout=check_timeout(body["timeout"]) if body.get("timeout") is not None else DEFAULT_TIMEOUT,
        )  # fmt: skip

    async def test(self, body_or_id: Mapping[str, Any] | str) -> dict[str, Any]:
        """``{"ok", "latency_ms", "models", "error"}``: whether the provider lists its models, and how fast."""
        provider = await self.get(body_or_id) if isinstance(body_or_id, str) else self.unsaved(body_or_id)
        started = time.perf_counter()
        try:
            names = await self.llm.models(provider)
        except CozyGenError as exc:
            return {"ok": False, "latency_ms": _ms(started), "models": [], "error": exc.message}
        return {"ok": True, "latency_ms": _ms(started), "models": names, "error": None}


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
