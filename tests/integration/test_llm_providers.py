"""The language-model providers against a real ComfyUI 0.3.75 with CozyGen (auth on) and the scripted fake provider
on loopback (tests/llm_server.py): admins add, test, list models, make default and remove providers (keys
write-only, audited); everyone reads whether an assistant is available; enrich and random prompts ask the default
provider through the one client and fall back offline when it fails."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from llm_server import Error, LLMServer, Text
from support import AUTH_ENV, get, household, post, request

API = "/cozygen/api/llm"
KEY = "sk-llm-provider-key-93b1c7"
ENV = {**AUTH_ENV, "COZYGEN_ENRICH_URL": "", "COZYGEN_ENRICH_MODEL": "", "COZYGEN_ENRICH_API_KEY": ""}


@pytest.fixture(scope="module")
def cozygen(start_comfyui):
    return start_comfyui("ComfyUI-CozyGen-llm", env=ENV)


@pytest.fixture(scope="module")
def people(cozygen) -> dict[str, dict[str, str]]:
    return household(cozygen.url, {"una": "user", "vic": "viewer"})


@pytest.fixture(scope="module")
def llm() -> Iterator[LLMServer]:
    with LLMServer(key=KEY) as server:
        yield server


def providers(cozygen, headers: dict[str, str]) -> list[dict[str, Any]]:
    found = get(f"{cozygen.url}{API}/providers", headers=headers)
    assert found.status == 200, found.body
    assert KEY.encode() not in found.body
    return found.json()["providers"]


def test_nothing_is_set_up_at_first(cozygen, people) -> None:
    status = get(f"{cozygen.url}{API}/status", headers=people["vic"])
    assert status.status == 200 and status.json() == {"available": False, "provider": None}
    assert providers(cozygen, people["admin"]) == []
    drawn = get(f"{cozygen.url}/cozygen/api/prompts/random?seed=5", headers=people["vic"]).json()
    assert drawn["source"] == "wildcards" and drawn["seed"] == 5


def test_an_admin_adds_a_provider_and_everyone_sees_it_without_its_url_or_key(cozygen, people, llm) -> None:
    body = {"name": "home", "kind": "openai-compatible", "url": llm.v1, "api_key": KEY, "default_model": "fake-model"}
    made = post(f"{cozygen.url}{API}/providers", body, headers=people["admin"])
    assert made.status == 201, made.body
    assert KEY.encode() not in made.body
    shown = made.json()
    assert shown["has_key"] is True and shown["url"] == llm.v1 and shown["is_default"] is True
    assert shown["timeout"] == 60.0

    status = get(f"{cozygen.url}{API}/status", headers=people["vic"]).json()
    assert status == {"available": True, "provider": {"id": shown["id"], "name": "home", "kind": "openai-compatible",
                                                      "default_model": "fake-model", "is_default": True}}  # fmt: skip
    (seen,) = providers(cozygen, people["una"])
    assert "url" not in seen and "has_key" not in seen
    (seen,) = providers(cozygen, people["admin"])
    assert seen["url"] == llm.v1 and seen["has_key"] is True

    one = get(f"{cozygen.url}{API}/providers/{shown['id']}", headers=people["admin"])
    assert one.status == 200 and one.json() == shown
    assert get(f"{cozygen.url}{API}/providers/nope", headers=people["admin"]).json()["code"] == "PROVIDER_NOT_FOUND"


def provider_id(cozygen, people) -> str:
    return next(p["id"] for p in providers(cozygen, people["admin"]) if p["name"] == "home")


def test_tests_and_models_ask_the_provider_with_its_own_key_only(cozygen, people, llm) -> None:
    pid = provider_id(cozygen, people)
    llm.reset()
    tested = post(f"{cozygen.url}{API}/providers/{pid}/test", headers=people["admin"])
    assert tested.status == 200 and tested.json()["ok"] is True
    assert tested.json()["models"] == ["fake-model", "fake-small"]
    models = get(f"{cozygen.url}{API}/providers/{pid}/models", headers=people["admin"]).json()
    assert models == {"provider": pid, "models": ["fake-model", "fake-small"], "default_model": "fake-model"}
    for seen in llm.requests:
        assert seen.headers["authorization"] == f"Bearer {KEY}"
        assert "cookie" not in seen.headers and people["admin"]["Authorization"] not in seen.headers.values()

    unsaved = post(f"{cozygen.url}{API}/providers/test", {"kind": "ollama", "url": llm.url}, headers=people["admin"])
    assert unsaved.json()["ok"] is True and llm.seen("/api/tags")
    wrong = post(f"{cozygen.url}{API}/providers/test", {"kind": "openai-compatible", "url": llm.v1,
                                                        "api_key": "sk-wrong"}, headers=people["admin"])  # fmt: skip
    assert wrong.status == 200 and wrong.json()["ok"] is False
    assert "HTTP 401" in wrong.json()["error"] and "API key" in wrong.json()["error"]
    bad = post(f"{cozygen.url}{API}/providers/test", {"kind": "openai-compatible"}, headers=people["admin"])
    assert bad.status == 400 and bad.json()["code"] == "INVALID_PROVIDER" and bad.json()["field"] == "url"


def test_enrich_and_random_prompts_ask_the_default_provider(cozygen, people, llm) -> None:
    llm.reset()
    llm.script([Text(["a castle, ", "neon fog"]), Text(["A lighthouse at dusk"])])
    enriched = post(f"{cozygen.url}/cozygen/api/prompts/enrich", {"prompt": "a castle", "style": "cyberpunk"},
                    headers=people["una"])  # fmt: skip
    assert enriched.status == 200, enriched.body
    expected = {"original_prompt": "a castle", "style": "cyberpunk", "enriched_prompt": "a castle, neon fog"}
    assert enriched.json() == {**expected, "source": "llm", "model": "fake-model"}
    drawn = get(f"{cozygen.url}/cozygen/api/prompts/random?seed=5", headers=people["vic"]).json()
    assert drawn["source"] == "llm" and drawn["positive"] == "A lighthouse at dusk" and drawn["idea"]
    assert drawn["idea"] in llm.chats[1].body["messages"][1]["content"]
    offline = get(f"{cozygen.url}/cozygen/api/prompts/random?seed=5&llm=false", headers=people["vic"]).json()
    assert offline["source"] == "wildcards" and offline["positive"] == drawn["idea"] and len(llm.chats) == 2
    styles = get(f"{cozygen.url}/cozygen/api/prompts/styles", headers=people["vic"]).json()
    assert styles["llm"] == {"enabled": True, "model": "fake-model"}

    llm.script([Error(500, "model exploded")])
    failed = post(f"{cozygen.url}/cozygen/api/prompts/enrich", {"prompt": "a fox", "style": "fantasy"},
                  headers=people["una"]).json()  # fmt: skip
    assert failed["source"] == "template" and failed["enriched_prompt"].startswith("a fox, epic fantasy")
    assert "HTTP 500" in failed["warning"] and KEY not in json.dumps(failed)


def test_only_admins_change_providers(cozygen, people, llm) -> None:
    pid = provider_id(cozygen, people)
    body = {"name": "x", "kind": "ollama"}
    for who in ("una", "vic"):
        headers = people[who]
        assert post(f"{cozygen.url}{API}/providers", body, headers=headers).status == 403
        assert request("PATCH", f"{cozygen.url}{API}/providers/{pid}", {"name": "y"}, headers=headers).status == 403
        assert request("DELETE", f"{cozygen.url}{API}/providers/{pid}", headers=headers).status == 403
        assert post(f"{cozygen.url}{API}/providers/{pid}/default", headers=headers).status == 403
        assert post(f"{cozygen.url}{API}/providers/{pid}/test", headers=headers).status == 403
        assert post(f"{cozygen.url}{API}/providers/test", body, headers=headers).status == 403
        assert get(f"{cozygen.url}{API}/providers/{pid}", headers=headers).status == 403
        assert get(f"{cozygen.url}{API}/providers/{pid}/models", headers=headers).status == 403
    assert get(f"{cozygen.url}{API}/status").status == 401
    assert get(f"{cozygen.url}{API}/providers").status == 401
    assert providers(cozygen, people["admin"])[0]["name"] == "home"


def test_default_changes_removal_and_the_audit(cozygen, people, llm) -> None:
    pid = provider_id(cozygen, people)
    second = post(f"{cozygen.url}{API}/providers", {"name": "ollama", "kind": "ollama", "url": llm.url},
                  headers=people["admin"]).json()  # fmt: skip
    assert second["is_default"] is False and second["has_key"] is False
    made_default = post(f"{cozygen.url}{API}/providers/{second['id']}/default", headers=people["admin"])
    assert made_default.status == 200 and made_default.json()["is_default"] is True
    assert [(p["name"], p["is_default"]) for p in providers(cozygen, people["admin"])] == [
        ("home", False), ("ollama", True),
    ]  # fmt: skip
    changed = request("PATCH", f"{cozygen.url}{API}/providers/{pid}", {"api_key": "sk-rotated", "timeout": 20},
                      headers=people["admin"])  # fmt: skip
    assert changed.status == 200 and changed.json()["timeout"] == 20.0 and b"sk-rotated" not in changed.body
    bad = request("PATCH", f"{cozygen.url}{API}/providers/{pid}", {"timeout": 9999}, headers=people["admin"])
    assert bad.status == 400 and bad.json()["field"] == "timeout"
    gone = request("DELETE", f"{cozygen.url}{API}/providers/{second['id']}", headers=people["admin"])
    assert gone.status == 200 and gone.json() == {"deleted": second["id"]}
    assert [(p["name"], p["is_default"]) for p in providers(cozygen, people["admin"])] == [("home", True)]

    audit = get(f"{cozygen.url}/cozygen/api/audit?limit=200", headers=people["admin"])
    assert audit.status == 200
    assert KEY.encode() not in audit.body and b"sk-rotated" not in audit.body and b"sk-wrong" not in audit.body
    actions = [e["action"] for e in audit.json()["entries"]]
    for action in ("llm.create", "llm.update", "llm.default", "llm.delete", "llm.test"):
        assert action in actions, action
    updates = [e["detail"] for e in audit.json()["entries"] if e["action"] == "llm.update" and e["ok"]]
    assert "api_key, timeout" in updates
