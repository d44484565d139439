"""Enrichment: style files, templates, the chat-completions request and answer, and the fallback."""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path
from typing import Any

import pytest
from support import PROJECT

from cozygen.core import settings as settings_core
from cozygen.core.errors import BadRequest
from cozygen.core.prompts import enrich
from cozygen.core.prompts import wildcards as wc

SHIPPED = PROJECT / "data" / "styles"
SEED_STYLES = ("cyberpunk", "anime", "realistic", "fantasy", "sci-fi", "enhance")


@pytest.fixture(scope="module")
def wildcards() -> dict[str, wc.Wildcard]:
    return wc.Library(PROJECT / "data" / "wildcards").load()


@pytest.fixture(scope="module")
def styles() -> dict[str, enrich.Style]:
    return enrich.load_styles(SHIPPED)


class FakeServer:
    """A ``post`` for ``ask_llm``: records what it was sent, answers as told."""

    def __init__(self, status: int = 200, body: Any = None, *, delay: float = 0, fail: Exception | None = None):
        self.status, self.delay, self.fail = status, delay, fail
        self.body = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.calls: list[tuple[str, dict[str, str], dict[str, Any], float]] = []

    async def __call__(self, url: str, headers: dict[str, str], payload: dict[str, Any], timeout: float):
        self.calls.append((url, headers, payload, timeout))
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.fail:
            raise self.fail
        return self.status, self.body


def chat(content: Any) -> dict[str, Any]:
    return {"choices": [{"index": 0, "message": {"role": "assistant", "content": content}}]}


def run(coro):
    return asyncio.run(coro)


def test_the_seed_styles_ship_with_templates_and_instructions(styles) -> None:
    assert set(SEED_STYLES) <= set(styles)
    for name in SEED_STYLES:
        style = styles[name]
        assert style.system and style.description and enrich.PLACEHOLDER in style.template
        assert style.source == enrich.SHIPPED


def test_a_template_keeps_the_prompt_and_adds_its_style(styles, wildcards) -> None:
    fantasy = styles["fantasy"]
    out = enrich.from_template(fantasy, "a castle on a hill.", wildcards, random.Random(1))
    assert out.startswith("a castle on a hill, epic fantasy,") and "{" not in out and "|" not in out
    assert out == enrich.from_template(fantasy, "a castle on a hill.", wildcards, random.Random(1))
    variants = {enrich.from_template(fantasy, "a castle", wildcards, random.Random(s)) for s in range(20)}
    assert len(variants) > 3
    braces = enrich.from_template(fantasy, "a {red|blue} __door__", wildcards, random.Random(1))
    assert braces.startswith("a {red|blue} __door__, ")  # the prompt itself is not expanded


def test_user_styles_add_and_replace(tmp_path: Path, wildcards) -> None:
    user = tmp_path / "styles"
    user.mkdir()
    (user / "noir.json").write_text(json.dumps({"description": "film noir", "template": "hard shadows, {prompt}"}))
    (user / "anime.json").write_text(json.dumps({"system": "Make it look like a 90s anime cel."}))
    (user / "broken.json").write_text("{not json")
    (user / "empty.json").write_text(json.dumps({"description": "nothing to do"}))
    (user / "Bad Name.json").write_text(json.dumps({"template": "{prompt}"}))
    styles = enrich.load_styles(SHIPPED, user)
    assert "broken" not in styles and "empty" not in styles and "bad name" not in styles
    noir = styles["noir"]
    assert noir.source == enrich.USER and "noir" in noir.system
    assert enrich.from_template(noir, "a detective", wildcards, random.Random(1)) == "hard shadows, a detective"
    anime = styles["anime"]
    assert anime.source == enrich.USER and anime.system == "Make it look like a 90s anime cel."
    assert anime.template == "{prompt}"
    (user / "tail.json").write_text(json.dumps({"template": "in {fog|rain}"}))  # no {prompt}: it goes first
    assert enrich.load_styles(SHIPPED, user)["tail"].template == "{prompt}, in {fog|rain}"


def test_unknown_style_lists_the_known_ones(styles) -> None:
    with pytest.raises(BadRequest) as error:
        enrich.find_style(styles, "vaporwave")
    assert error.value.code == "UNKNOWN_STYLE" and "cyberpunk" in error.value.message
    assert set(SEED_STYLES) <= set(error.value.to_dict()["styles"])
    assert enrich.find_style(styles, " Sci-Fi ").name == "sci-fi"
    assert enrich.find_style(styles, None).name == enrich.DEFAULT_STYLE
    with pytest.raises(BadRequest):
        enrich.find_style(styles, 5)


@pytest.mark.parametrize(
    ("prompt", "code"),
    [(None, "EMPTY_PROMPT"), ("  ", "EMPTY_PROMPT"), (7, "EMPTY_PROMPT"), ("x" * 4001, "PROMPT_TOO_LONG")],
)
def test_bad_prompts_are_refused(prompt: Any, code: str) -> None:
    with pytest.raises(BadRequest) as error:
        enrich.check_prompt(prompt)
    assert error.value.code == code


def test_offline_enrich_answers_from_the_template(styles, wildcards) -> None:
    server = FakeServer()
    reply = run(enrich.enrich("a fox", "anime", styles, wildcards, enrich.LLMConfig(), server, seed=3))
    assert server.calls == []
    assert reply["source"] == "template" and "warning" not in reply
    assert reply["original_prompt"] == "a fox" and reply["style"] == "anime"
    assert reply["enriched_prompt"].startswith("a fox, anime style")


def test_the_model_is_asked_with_the_style_instructions(styles, wildcards) -> None:
    server = FakeServer(body=chat('<think>hmm</think>\n"Enhanced prompt: a fox in neon rain, chrome whiskers"'))
    config = enrich.LLMConfig(url="http://127.0.0.1:9/v1/", model="tiny", api_key="sk-test", timeout=3)
    reply = run(enrich.enrich("a fox", "cyberpunk", styles, wildcards, config, server))
    assert reply == {
        "original_prompt": "a fox",
        "style": "cyberpunk",
        "enriched_prompt": "a fox in neon rain, chrome whiskers",
        "source": "llm",
        "model": "tiny",
    }
    ((url, headers, payload, timeout),) = server.calls
    assert url == "http://127.0.0.1:9/v1/chat/completions" and timeout == 3
    assert headers["Authorization"] == "Bearer sk-test"
    assert payload["model"] == "tiny" and payload["stream"] is False
    system, user = payload["messages"]
    assert system["role"] == "system" and styles["cyberpunk"].system in system["content"]
    assert user == {"role": "user", "content": "a fox"}


def test_no_key_no_model_sends_neither(styles) -> None:
    url, headers, payload = enrich.chat_request(
        enrich.LLMConfig(url="http://h/v1/chat/completions"), styles["anime"], "x"
    )
    assert url == "http://h/v1/chat/completions" and "Authorization" not in headers and "model" not in payload


@pytest.mark.parametrize(
    ("server", "reason"),
    [
        (FakeServer(500, b"boom"), "HTTP 500"),
        (FakeServer(body=b"not json"), "not a chat completion"),
        (FakeServer(body={"choices": []}), "not a chat completion"),
        (FakeServer(body=chat("   ")), "empty"),
        (FakeServer(body=chat(None)), "no text"),
        (FakeServer(fail=ConnectionRefusedError("refused")), "could not be reached"),
        (FakeServer(delay=5), "did not answer within 0.2 s"),
    ],
)
def test_a_failing_model_falls_back_to_the_template(styles, wildcards, server, reason) -> None:
    config = enrich.LLMConfig(url="http://user:pw@127.0.0.1:9/v1", api_key="sk-secret", timeout=0.2)
    reply = run(enrich.enrich("a fox", "fantasy", styles, wildcards, config, server, seed=2))
    assert reply["source"] == "template" and reply["enriched_prompt"].startswith("a fox, epic fantasy")
    assert reason in reply["warning"] and "fantasy template" in reply["warning"]
    assert "sk-secret" not in json.dumps(reply) and "pw" not in reply["warning"]
    assert "http://127.0.0.1:9/v1" in reply["warning"]


def test_config_comes_from_settings_and_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("COZYGEN_ENRICH_URL", "http://127.0.0.1:11434/v1")
    monkeypatch.setenv("COZYGEN_ENRICH_MODEL", "llama3.2")
    monkeypatch.setenv("COZYGEN_ENRICH_API_KEY", "sk-env")
    monkeypatch.setenv("COZYGEN_ENRICH_TIMEOUT", "not a number")
    values = settings_core.defaults()
    config = enrich.LLMConfig.from_settings(values)
    assert config == enrich.LLMConfig("http://127.0.0.1:11434/v1", "llama3.2", "sk-env", 8.0) and config.enabled
    shown = settings_core.public(values)
    assert "enrich_api_key" not in shown and shown["enrich_api_key_set"] is True
    assert "sk-env" not in json.dumps(shown)
    assert not enrich.LLMConfig.from_settings({}).enabled


@pytest.mark.parametrize(
    "change",
    [
        {"enrich_url": "ftp://x"},
        {"enrich_url": "not a url"},
        {"enrich_timeout": 0},
        {"enrich_timeout": 1000},
        {"enrich_timeout": "5"},
        {"enrich_api_key": "a\nb"},
        {"enrich_model": 3},
    ],
)
def test_bad_enrich_settings_are_refused(change) -> None:
    with pytest.raises(BadRequest) as error:
        settings_core.validate(change)
    assert error.value.code == "INVALID_SETTING"


def test_enrich_settings_validate_and_audit_without_the_key() -> None:
    changes = settings_core.validate(
        {
            "enrich_url": " http://127.0.0.1:8080/v1 ",
            "enrich_timeout": 5,
            "enrich_api_key": "sk-1",
            "enrich_model": None,
        }
    )
    assert changes == {
        "enrich_url": "http://127.0.0.1:8080/v1",
        "enrich_timeout": 5.0,
        "enrich_api_key": "sk-1",
        "enrich_model": None,
    }
    detail = settings_core.audit_detail(changes)
    assert "sk-1" not in detail and "enrich_api_key=<set>" in detail and "enrich_model=<default>" in detail
