"""Enrichment: style files, templates, the chat-completions request and answer, and the fallback."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from llm_server import Error, Garbage, Hang, LLMServer, Text, Tool
from support import PROJECT

from cozygen.api.llm.transport import AiohttpTransport
from cozygen.core import settings as settings_core
from cozygen.core.errors import BadRequest
from cozygen.core.llm import providers
from cozygen.core.llm.client import LLMClient
from cozygen.core.llm.model import Provider
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


@pytest.fixture(scope="module")
def server() -> Iterator[LLMServer]:
    with LLMServer(key="sk-test") as llm:
        yield llm


@pytest.fixture
def llm(server: LLMServer) -> LLMServer:
    server.reset()
    return server


def provider(llm: LLMServer, **changes: Any) -> Provider:
    values: dict[str, Any] = dict(id="p", name="home", kind="openai-compatible", url=llm.v1, key="sk-test",
                                  default_model="tiny", is_default=True, timeout=3.0)  # fmt: skip
    return Provider(**{**values, **changes})


def asked(work: Callable[[LLMClient], Awaitable[Any]]) -> Any:
    """``work`` with a client over the real transport (closed after)."""

    async def main() -> Any:
        transport = AiohttpTransport()
        try:
            return await work(LLMClient(transport, retry_delay=0.01))
        finally:
            await transport.close()

    return asyncio.run(main())


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
    reply = run(enrich.enrich("a fox", "anime", styles, wildcards, None, None, seed=3))
    assert reply["source"] == "template" and "warning" not in reply
    assert reply["original_prompt"] == "a fox" and reply["style"] == "anime"
    assert reply["enriched_prompt"].startswith("a fox, anime style")


def test_the_model_is_asked_with_the_style_instructions(styles, wildcards, llm: LLMServer) -> None:
    llm.script([Text(["<think>hmm</think>\n", '"Enhanced prompt: a fox in neon rain, chrome whiskers"'])])
    reply = asked(lambda c: enrich.enrich("a fox", "cyberpunk", styles, wildcards, provider(llm), c))
    assert reply == {
        "original_prompt": "a fox",
        "style": "cyberpunk",
        "enriched_prompt": "a fox in neon rain, chrome whiskers",
        "source": "llm",
        "model": "tiny",
    }
    (sent,) = llm.chats
    assert sent.headers["authorization"] == "Bearer sk-test"
    assert sent.body["model"] == "tiny" and sent.body["stream"] is False
    system, user = sent.body["messages"]
    assert system["role"] == "system" and styles["cyberpunk"].system in system["content"]
    assert user == {"role": "user", "content": "a fox"}


def test_no_key_no_model_sends_neither(styles, wildcards) -> None:
    with LLMServer() as open_llm:
        bare = Provider("p", "bare", "openai-compatible", open_llm.v1, None, None, True)
        reply = asked(lambda c: enrich.enrich("x", "anime", styles, wildcards, bare, c))
        (sent,) = open_llm.chats
    assert reply["source"] == "llm"
    assert "authorization" not in sent.headers and "model" not in sent.body


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (Error(500, "boom"), "HTTP 500"),
        (Garbage(b"not json"), "not a chat-completions stream"),
        (Error(200, {"choices": []}), "not a chat completion"),
        (Text(["   "]), "empty"),
        (Tool("set_field", "{}"), "empty"),
        (Hang(), "did not answer within 0.3 s"),
    ],
)
def test_a_failing_model_falls_back_to_the_template(styles, wildcards, llm: LLMServer, answer, reason) -> None:
    llm.script([answer])
    reply = asked(lambda c: enrich.enrich("a fox", "fantasy", styles, wildcards, provider(llm, timeout=0.3), c, seed=2))
    assert reply["source"] == "template" and reply["enriched_prompt"].startswith("a fox, epic fantasy")
    assert reason in reply["warning"] and "fantasy template" in reply["warning"]
    assert "sk-test" not in json.dumps(reply)
    assert f"127.0.0.1:{llm.port}" in reply["warning"]


def test_an_unreachable_model_falls_back_to_the_template(styles, wildcards) -> None:
    gone = Provider("p", "gone", "ollama", "http://127.0.0.1:9", "sk-secret", "m", True)
    reply = asked(lambda c: enrich.enrich("a fox", "fantasy", styles, wildcards, gone, c))
    assert reply["source"] == "template" and "127.0.0.1:9 could not be reached" in reply["warning"]
    assert "sk-secret" not in json.dumps(reply)


def test_random_prompts_grow_the_draw_with_the_model(wildcards, llm: LLMServer) -> None:
    drawn = wc.random_prompt(wildcards, 7, None, None)
    llm.script([Text(["A lighthouse ", "at dusk, oil painting"])])
    grown = asked(lambda c: enrich.imagine(drawn, provider(llm), c))
    assert grown["source"] == "llm" and grown["positive"] == "A lighthouse at dusk, oil painting"
    assert grown["idea"] == drawn["positive"] and grown["negative"] == drawn["negative"] and grown["model"] == "tiny"
    assert drawn["positive"] in llm.chats[0].body["messages"][1]["content"]
    llm.script([Error(401)])
    failed = asked(lambda c: enrich.imagine(drawn, provider(llm), c))
    assert failed == {**drawn, "source": "wildcards", "warning": failed["warning"]}
    assert "HTTP 401" in failed["warning"] and "API key" in failed["warning"]
    assert run(enrich.imagine(drawn, None, None)) == {**drawn, "source": "wildcards"}


def test_the_old_settings_are_the_implicit_provider(monkeypatch) -> None:
    monkeypatch.setenv("COZYGEN_ENRICH_URL", "http://127.0.0.1:11434/v1")
    monkeypatch.setenv("COZYGEN_ENRICH_MODEL", "llama3.2")
    monkeypatch.setenv("COZYGEN_ENRICH_API_KEY", "sk-env")
    monkeypatch.setenv("COZYGEN_ENRICH_TIMEOUT", "not a number")
    values = settings_core.defaults()
    found = providers.from_settings(values)
    assert found is not None and (found.id, found.kind, found.default_model, found.key) == (
        "settings", "openai-compatible", "llama3.2", "sk-env",
    )  # fmt: skip
    assert found.chat_url() == "http://127.0.0.1:11434/v1/chat/completions" and found.timeout == 8.0
    shown = settings_core.public(values)
    assert "enrich_api_key" not in shown and shown["enrich_api_key_set"] is True
    assert "sk-env" not in json.dumps(shown)
    assert providers.from_settings({}) is None


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
