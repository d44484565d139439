"""The LLM providers (core/llm/providers.py) over a real SQLite file: one default at most, the old enrich settings
as the implicit provider, keys write-only, checked fields, Spoon Feeder's LLM profiles as the same rows, and the
test of a provider against the fake one on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from llm_server import LLMServer

from cozygen.api.llm.transport import AiohttpTransport
from cozygen.core.backends.profiles import MASK, ProfileService
from cozygen.core.errors import BadRequest, NotFound
from cozygen.core.llm.client import LLMClient
from cozygen.core.llm.model import NoProvider, Provider
from cozygen.core.llm.providers import ProviderService
from cozygen.core.store.db import Database


@pytest.fixture
def world(db: Database) -> Iterator[tuple[asyncio.AbstractEventLoop, ProviderService, dict[str, Any]]]:
    settings: dict[str, Any] = {}
    loop = asyncio.new_event_loop()
    transport = AiohttpTransport()
    yield loop, ProviderService(db, LLMClient(transport, retry_delay=0.01), lambda: settings), settings
    loop.run_until_complete(transport.close())
    loop.close()


def test_one_default_at_most_and_it_follows_changes(world) -> None:
    loop, service, _ = world
    run = loop.run_until_complete
    first = run(service.create({"name": "attic", "kind": "ollama", "url": "http://10.0.0.5:11434"}, by="admin"))
    assert first.is_default  # the first provider is the default
    second = run(service.create({"name": "lab", "kind": "openai-compatible", "url": "http://10.0.0.6:8080/v1",
                                 "is_default": True}, by="admin"))  # fmt: skip
    listed = run(service.listing())
    assert [(p.name, p.is_default) for p in listed] == [("attic", False), ("lab", True)]
    assert run(service.default()).id == second.id
    run(service.set_default(first.id, by="admin"))
    assert [(p.name, p.is_default) for p in run(service.listing())] == [("attic", True), ("lab", False)]
    run(service.update(second.id, {"is_default": True}, by="admin"))
    assert run(service.default()).id == second.id and sum(p.is_default for p in run(service.listing())) == 1
    run(service.delete(second.id, by="admin"))  # the default goes: the oldest left becomes it
    assert [(p.name, p.is_default) for p in run(service.listing())] == [("attic", True)]
    with pytest.raises(NotFound):
        run(service.get(second.id))


def test_the_old_enrich_settings_are_the_implicit_default(world) -> None:
    loop, service, settings = world
    run = loop.run_until_complete
    with pytest.raises(NoProvider) as caught:
        run(service.default())
    assert (caught.value.status, caught.value.code) == (503, "NO_LLM") and "Settings" in caught.value.message
    assert run(service.available()) is None
    settings.update(enrich_url="http://127.0.0.1:8080/v1", enrich_model="qwen", enrich_api_key="sk-old")
    implicit = run(service.default())
    assert (implicit.id, implicit.kind, implicit.default_model, implicit.key) == (
        "settings", "openai-compatible", "qwen", "sk-old",
    )  # fmt: skip
    assert run(service.get("settings")) == implicit
    with pytest.raises(BadRequest):
        run(service.update("settings", {"name": "x"}, by="admin"))
    made = run(service.create({"name": "home", "kind": "ollama"}, by="admin"))
    assert [p.id for p in run(service.listing())] == [made.id]  # a stored provider replaces it
    with pytest.raises(NotFound):
        run(service.get("settings"))


def test_keys_are_write_only(world) -> None:
    loop, service, _ = world
    run = loop.run_until_complete
    made = run(service.create({"name": "cloud", "kind": "openai", "api_key": "sk-secret", "default_model": "gpt",
                               "timeout": 30}, by="admin"))  # fmt: skip
    shown = made.as_dict(admin=True)
    assert shown == {"id": made.id, "name": "cloud", "kind": "openai", "default_model": "gpt", "is_default": True,
                     "url": None, "has_key": True, "timeout": 30.0}  # fmt: skip
    assert made.as_dict(admin=False) == {"id": made.id, "name": "cloud", "kind": "openai", "default_model": "gpt",
                                         "is_default": True}  # fmt: skip
    assert "sk-secret" not in repr(made)
    kept = run(service.update(made.id, {"api_key": MASK, "default_model": "gpt-4o"}, by="admin"))
    assert kept.key == "sk-secret" and kept.default_model == "gpt-4o" and kept.timeout == 30.0
    cleared = run(service.update(made.id, {"api_key": None}, by="admin"))
    assert cleared.key is None and not cleared.as_dict(admin=True)["has_key"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "kind": "skynet"}, "kind"),
        ({"name": "x", "kind": "openai-compatible"}, "url"),
        ({"name": "x", "kind": "ollama", "url": "file:///etc/passwd"}, "url"),
        ({"name": "x", "kind": "ollama", "url": "http://user:pw@h:1"}, "url"),
        ({"name": "", "kind": "ollama"}, "name"),
        ({"name": "x", "kind": "ollama", "timeout": 0}, "timeout"),
        ({"name": "x", "kind": "ollama", "timeout": True}, "timeout"),
        ({"name": "x", "kind": "ollama", "default_model": 5}, "default_model"),
        ({"name": "x", "kind": "ollama", "api_key": "a\nb"}, "api_key"),
        ({"name": "x", "kind": "ollama", "is_default": "yes"}, "is_default"),
        ({"name": "x", "kind": "ollama", "secret": "s"}, "secret"),
    ],
)
def test_bad_fields_are_refused_by_name(world, body: dict[str, Any], field: str) -> None:
    loop, service, _ = world
    with pytest.raises(BadRequest) as caught:
        loop.run_until_complete(service.create(body, by="admin"))
    assert caught.value.code == "INVALID_PROVIDER" and caught.value.extra["field"] == field
    assert loop.run_until_complete(service.listing()) == []


def test_spoon_feeder_llm_profiles_are_the_same_rows(world, db: Database) -> None:
    loop, service, _ = world
    profiles = ProfileService(db, None, None, providers=service)  # type: ignore[arg-type]  # LLM rows only
    made = loop.run_until_complete(profiles.create(
        {"name": "gpt", "provider": "openai", "api_key": "sk-1", "options": {"model": "gpt-4o", "temperature": 1}},
        by="admin",
    ))  # fmt: skip
    (provider,) = loop.run_until_complete(service.listing())
    assert (provider.id, provider.kind, provider.key, provider.default_model) == (
        made["id"],
        "openai",
        "sk-1",
        "gpt-4o",
    )
    assert provider.is_default
    loop.run_until_complete(service.update(made["id"], {"timeout": 20}, by="admin"))
    row = loop.run_until_complete(profiles.get(made["id"]))
    assert '"temperature": 1' in row["options_json"] and '"timeout": 20' in row["options_json"]
    other = loop.run_until_complete(profiles.create({"name": "home-ollama", "provider": "ollama"}, by="admin"))
    loop.run_until_complete(profiles.delete(made["id"]))  # the default goes: the other becomes it
    assert [(p.id, p.is_default) for p in loop.run_until_complete(service.listing())] == [(other["id"], True)]


def test_a_test_lists_the_models_or_says_why_not(world) -> None:
    loop, service, _ = world
    run = loop.run_until_complete
    with LLMServer(key="sk-test") as llm:
        good = run(service.test({"kind": "openai-compatible", "url": llm.v1, "api_key": "sk-test"}))
        assert good["ok"] and good["models"] == ["fake-model", "fake-small"] and good["error"] is None
        assert good["latency_ms"] >= 0
        bad = run(service.test({"kind": "openai-compatible", "url": llm.v1, "api_key": "sk-nope"}))
        assert not bad["ok"] and "HTTP 401" in bad["error"] and "API key" in bad["error"] and bad["models"] == []
        made = run(service.create({"name": "home", "kind": "ollama", "url": llm.url}, by="admin"))
        assert run(service.test(made.id))["models"] == ["fake-model", "fake-small"]
        assert run(service.models(made.id)) == ["fake-model", "fake-small"]
        assert llm.seen("/api/tags") and "authorization" not in llm.seen("/api/tags")[0].headers
    assert run(service.listing()) == [made]  # a test stores nothing


def test_chat_urls_and_headers_of_each_kind() -> None:
    def make(kind: str, url: str | None, key: str | None = "k") -> Provider:
        return Provider("p", "n", kind, url, key, None, True)

    assert make("openai-compatible", "http://h:8080/v1/").chat_url() == "http://h:8080/v1/chat/completions"
    assert make("ollama", None).chat_url() == "http://127.0.0.1:11434/v1/chat/completions"
    assert make("ollama", "http://h:11434/v1").chat_url() == "http://h:11434/v1/chat/completions"
    assert make("ollama", "http://h:11434").models_request() == ("http://h:11434/api/tags", {})
    assert make("openai", None).chat_url() == "https://api.openai.com/v1/chat/completions"
    assert make("claude", None).chat_url() == "https://api.anthropic.com/v1/chat/completions"
    assert make("claude", None).headers() == {"x-api-key": "k", "anthropic-version": "2023-06-01"}
    assert make("gemini", None).chat_url() == (
        "https://generativelanguage.googleapis.com/v1beta/openai/chat/completions"
    )
    assert make("gemini", None).headers() == {"Authorization": "Bearer k"}
    assert make("openai-compatible", "http://h/v1", None).headers() == {}
    assert make("openai-compatible", "http://h/v1/chat/completions").models_request()[0] == "http://h/v1/models"
