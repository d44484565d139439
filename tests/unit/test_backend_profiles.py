"""Spoon Feeder's profiles over the backends and LLM providers: comfyui profiles are backends (the registry in
memory follows), LLM profiles are stored with their key write-only, models sync from each provider's list."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from unit.test_backend_service import FakeRemote

from cozygen.core.backends import profiles as profiles_module
from cozygen.core.backends.model import LOCAL_ID
from cozygen.core.backends.profiles import MASK, ProfileService, model_names, model_request
from cozygen.core.backends.remote import RemoteError
from cozygen.core.backends.service import BackendService
from cozygen.core.errors import BadGateway, BadRequest, Conflict
from cozygen.core.events import EventHub
from cozygen.core.store.db import Database


@pytest.fixture
def world(db: Database):
    state: dict[str, Any] = {"up": True, "requests": [], "clients": [], "fetched": [], "answer": None}

    async def fetch_json(url: str, headers: dict[str, str]) -> Any:
        state["fetched"].append((url, headers))
        if isinstance(state["answer"], Exception):
            raise state["answer"]
        return state["answer"]

    loop = asyncio.new_event_loop()
    backends = BackendService(db, EventHub(), lambda b: FakeRemote(b, state), local_queue=lambda: (0, 0))
    loop.run_until_complete(backends.start())
    loop.run_until_complete(backends.monitor.stop())
    yield loop, ProfileService(db, backends, fetch_json), backends, state
    loop.run_until_complete(backends.stop())
    loop.close()


def test_comfyui_profiles_are_the_backends(world) -> None:
    loop, service, backends, _ = world
    body = {"name": "attic", "provider": "comfyui", "url": "http://127.0.0.1:9", "api_key": "tok",
            "description": "the old PC", "options": {"max_jobs": 2}, "type": "image"}  # fmt: skip
    made = loop.run_until_complete(service.create(body, by="admin"))
    backend = backends.get("attic")
    assert made["id"] == backend.id and backend.auth_kind == "bearer" and backend.secret == "tok"
    assert backend.max_jobs == 2 and made["description"] == "the old PC"
    listed = loop.run_until_complete(service.listing("comfyui"))
    assert [row["id"] for row in listed] == [LOCAL_ID, backend.id]
    loop.run_until_complete(service.update(backend.id, {"api_key": MASK, "name": "attic2"}))
    assert backends.get(backend.id).secret == "tok" and backends.get(backend.id).name == "attic2"
    loop.run_until_complete(service.update(LOCAL_ID, {"enabled": False}))
    assert backends.get(LOCAL_ID).enabled is False
    with pytest.raises(Conflict):
        loop.run_until_complete(service.delete(LOCAL_ID))
    loop.run_until_complete(service.delete(backend.id))
    assert [b.id for b in backends.backends()] == [LOCAL_ID]


def test_a_comfyui_profiles_models_are_its_checkpoints(world) -> None:
    loop, service, _, state = world
    made = loop.run_until_complete(
        service.create({"name": "a", "provider": "comfyui", "url": "http://127.0.0.1:9"}, by=None)
    )
    assert loop.run_until_complete(service.sync_models(made["id"])) == {
        "added": 1, "removed": 0, "models": ["a.safetensors"],
    }  # fmt: skip
    state["up"] = False
    with pytest.raises(BadGateway):
        loop.run_until_complete(service.sync_models(made["id"]))
    with pytest.raises(BadRequest):
        loop.run_until_complete(service.sync_models(LOCAL_ID))


def test_llm_profiles_are_stored_and_their_models_synced(world) -> None:
    loop, service, backends, state = world
    body = {"name": "gpt", "provider": "openai", "api_key": "sk-secret", "prompt_template": "Be brief.",
            "input_modalities": ["text", "image"]}  # fmt: skip
    made = loop.run_until_complete(service.create(body, by="admin"))
    assert made["provider"] == "openai" and made["type"] == "text" and made["secret"] == "sk-secret"
    assert [b.id for b in backends.backends()] == [LOCAL_ID]  # not a backend
    state["answer"] = {"data": [{"id": "gpt-4o"}, {"id": "gpt-4o-mini"}, {"id": 5}, "junk"]}
    assert loop.run_until_complete(service.sync_models(made["id"]))["models"] == ["gpt-4o", "gpt-4o-mini"]
    assert state["fetched"][-1] == ("https://api.openai.com/v1/models", {"Authorization": "Bearer sk-secret"})
    state["answer"] = {"data": [{"id": "gpt-4o"}]}
    assert loop.run_until_complete(service.sync_models(made["id"])) == {"added": 0, "removed": 1, "models": ["gpt-4o"]}
    loop.run_until_complete(service.add_model(made["id"], "custom", "Custom"))
    assert [m["model_id"] for m in loop.run_until_complete(service.models(made["id"]))] == ["gpt-4o", "custom"]
    state["answer"] = RemoteError("refused")
    with pytest.raises(BadGateway):
        loop.run_until_complete(service.sync_models(made["id"]))
    loop.run_until_complete(service.update(made["id"], {"api_key": MASK}))
    assert loop.run_until_complete(service.get(made["id"]))["secret"] == "sk-secret"
    for bad in ({"provider": "evil", "name": "x"}, {"provider": "openai", "name": "x", "url": "file:///etc"},
                {"provider": "openai", "name": "x", "type": "smell"}, {"provider": "ollama"}):  # fmt: skip
        with pytest.raises(BadRequest):
            loop.run_until_complete(service.create(bad, by=None))


def test_test_connection_stores_nothing(world) -> None:
    loop, service, _, state = world
    state["answer"] = {"models": [{"name": "llama3:latest"}]}
    found = loop.run_until_complete(service.test_connection({"provider": "ollama", "url": "http://127.0.0.1:11434"}))
    assert found["connected"] and found["models"] == ["llama3:latest"]
    assert state["fetched"][-1][0] == "http://127.0.0.1:11434/api/tags"
    comfy = loop.run_until_complete(service.test_connection({"provider": "comfyui", "url": "http://127.0.0.1:9"}))
    assert comfy["connected"] is True
    assert loop.run_until_complete(service.listing()) == [service.local_row()]


def test_provider_requests_and_lists() -> None:
    assert model_request("claude", None, "k") == (
        "https://api.anthropic.com/v1/models", {"x-api-key": "k", "anthropic-version": "2023-06-01"},
    )  # fmt: skip
    assert model_request("gemini", None, "k")[1] == {"x-goog-api-key": "k"}
    assert model_names("gemini", {"models": [{"name": "models/gemini-pro"}]}) == ["gemini-pro"]
    with pytest.raises(RemoteError):
        model_names("openai", ["not", "an", "object"])
    assert len(model_names("openai", {"data": [{"id": str(i)} for i in range(5000)]})) == profiles_module.MAX_MODELS
