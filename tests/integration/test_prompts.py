"""Prompt tools against a real ComfyUI: random prompts from wildcards, enrichment by template and by an
OpenAI-compatible server (a real one on 127.0.0.1 speaking chat completions), and the compat mounts."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import quote

import pytest
from support import PROJECT, get, post, request

API = "/cozygen/api/prompts"
KEY = "sk-cozygen-test-4f1d9a"
ENV = {"COZYGEN_ENRICH_URL": "", "COZYGEN_ENRICH_MODEL": "", "COZYGEN_ENRICH_API_KEY": ""}


@pytest.fixture(scope="module")
def server(start_comfyui):
    return start_comfyui("ComfyUI-CozyGen-prompts", env=ENV)


def style_file(name: str) -> dict[str, str]:
    return json.loads((PROJECT / "data" / "styles" / f"{name}.json").read_text())


class ChatServer:
    """An OpenAI-compatible chat-completions server: records each request, answers as ``mode`` says."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.mode = "ok"  # ok | error | hold
        self.answer = "a castle on a hill wrapped in neon fog, rain-slick battlements, holographic banners"
        self.received = threading.Event()
        self.release = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: Any) -> None:
                pass

            def do_POST(self) -> None:  # http.server's name for it
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.requests.append({"path": self.path, "headers": dict(self.headers), "json": json.loads(body)})
                outer.received.set()
                if outer.mode == "hold":
                    outer.release.wait(30)
                if outer.mode == "error":
                    self.reply(500, {"error": {"message": "model exploded"}})
                    return
                completion = {
                    "id": "chatcmpl-1",
                    "object": "chat.completion",
                    "model": outer.requests[-1]["json"].get("model"),
                    "choices": [
                        {"index": 0, "message": {"role": "assistant", "content": outer.answer}, "finish_reason": "stop"}
                    ],
                }
                self.reply(200, completion)

            def reply(self, status: int, data: Any) -> None:
                raw = json.dumps(data).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(raw)))
                    self.end_headers()
                    self.wfile.write(raw)
                except OSError:
                    pass  # the client gave up waiting (the timeout case)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def chat_server() -> Iterator[ChatServer]:
    fake = ChatServer()
    yield fake
    fake.close()


def settings(server, changes: dict[str, Any]):
    return request("PATCH", f"{server.url}/cozygen/api/settings", changes)


def test_random_prompts_are_reproducible_and_follow_templates(server) -> None:
    first = get(f"{server.url}{API}/random?seed=7")
    assert first.status == 200 and set(first.json()) == {"positive", "negative", "seed", "source"}
    assert first.json()["source"] == "wildcards"  # no language model set up: the draw itself
    assert first.json()["seed"] == 7 and first.json()["positive"] and first.json()["negative"]
    assert get(f"{server.url}{API}/random?seed=7").json() == first.json()
    assert get(f"{server.url}/api{API}/random?seed=7").json() == first.json()  # ComfyUI's /api copy
    drawn = {get(f"{server.url}{API}/random?seed={s}").json()["positive"] for s in range(8)}
    assert len(drawn) > 4
    unseeded = get(f"{server.url}{API}/random").json()
    assert get(f"{server.url}{API}/random?seed={unseeded['seed']}").json() == unseeded
    template = quote("a {red|blue} ball under __lighting__")
    shaped = get(f"{server.url}{API}/random?seed=3&template={template}&negative_template=").json()
    assert re.fullmatch(r"a (red|blue) ball under .+", shaped["positive"]) and shaped["negative"] == ""
    assert "__" not in shaped["positive"]


def test_wildcards_list_and_user_files_override_shipped_ones(server) -> None:
    listed = get(f"{server.url}{API}/wildcards").json()
    by_name = {w["name"]: w for w in listed["wildcards"]}
    assert listed["count"] == len(by_name)
    for name in ("subject", "style", "lighting", "color", "place", "mood", "negative"):
        assert by_name[name]["source"] == "shipped" and by_name[name]["lines"] >= 20
        assert len(by_name[name]["samples"]) == 3
    user = server.user_dir / "cozygen" / "wildcards"
    (user / "animals").mkdir(parents=True, exist_ok=True)
    (user / "color.txt").write_text("# mine\nultraviolet\n")
    (user / "animals" / "cats.txt").write_text("a tabby\n")
    mine = {w["name"]: w for w in get(f"{server.url}{API}/wildcards").json()["wildcards"]}
    assert mine["color"] == {
        "name": "color",
        "lines": 1,
        "source": "user",
        "overrides_shipped": True,
        "samples": ["ultraviolet"],
    }
    assert mine["animals/cats"]["source"] == "user"
    template = quote("__animals/cats__ in __color__ light")
    assert get(f"{server.url}{API}/random?template={template}").json()["positive"] == "a tabby in ultraviolet light"
    (user / "color.txt").unlink()
    shipped = get(f"{server.url}{API}/random?seed=1&template=__color__").json()["positive"]
    assert (
        shipped != "ultraviolet"
        and {w["name"]: w for w in get(f"{server.url}{API}/wildcards").json()["wildcards"]}["color"]["source"]
        == "shipped"
    )


def test_bad_random_requests_are_clear_400s(server) -> None:
    user = server.user_dir / "cozygen" / "wildcards"
    user.mkdir(parents=True, exist_ok=True)
    (user / "loop_a.txt").write_text("round __loop_b__\n")
    (user / "loop_b.txt").write_text("and __loop_a__\n")
    cases = [
        ("seed=abc", "INVALID_SEED"),
        ("seed=-5", "INVALID_SEED"),
        (f"template={quote('a __no_such_card__')}", "UNKNOWN_WILDCARD"),
        ("template=__loop_a__", "WILDCARD_RECURSION"),
        (f"template={'x' * 4001}", "TEMPLATE_TOO_LONG"),
    ]
    for query, code in cases:
        reply = get(f"{server.url}{API}/random?{query}")
        assert reply.status == 400 and reply.json()["code"] == code, (query, reply.body)
        assert reply.json()["error"]
    recursion = get(f"{server.url}{API}/random?template=__loop_a__").json()["error"]
    assert "__loop_a__ > __loop_b__" in recursion or "__loop_b__ > __loop_a__" in recursion


def test_dreamlayer_fetch_prompt(server) -> None:
    reply = get(f"{server.url}/cozygen/compat/dreamlayer/api/fetch-prompt")
    assert reply.status == 200 and set(reply.json()) == {"positive", "negative"}
    assert all(isinstance(v, str) and v for v in reply.json().values())


def test_enrich_offline_uses_the_style_templates(server) -> None:
    styles = get(f"{server.url}{API}/styles").json()
    names = [s["name"] for s in styles["styles"]]
    assert {"cyberpunk", "anime", "realistic", "fantasy", "sci-fi", "enhance"} <= set(names)
    assert styles["llm"] == {"enabled": False, "model": None} and styles["default"] == "enhance"
    reply = post(f"{server.url}{API}/enrich", {"prompt": "a castle on a hill", "style": "fantasy", "seed": 4})
    assert reply.status == 200
    body = reply.json()
    assert body["original_prompt"] == "a castle on a hill" and body["style"] == "fantasy"
    assert body["source"] == "template" and "warning" not in body
    assert body["enriched_prompt"].startswith("a castle on a hill, epic fantasy, ")
    again = post(f"{server.url}{API}/enrich", {"prompt": "a castle on a hill", "style": "fantasy", "seed": 4})
    assert again.json() == body
    assert post(f"{server.url}{API}/enrich", {"prompt": "a boat"}).json()["style"] == "enhance"

    compat = post(f"{server.url}/cozygen/compat/cyberimage/api/enrich", {"prompt": "a castle on a hill"})
    assert compat.status == 200
    assert set(compat.json()) == {"original_prompt", "enriched_prompt", "style", "source"}
    assert compat.json()["style"] == "cyberpunk" and "cyberpunk" in compat.json()["enriched_prompt"]


def test_user_styles_are_loaded_from_the_data_folder(server) -> None:
    folder = server.user_dir / "cozygen" / "styles"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "noir.json").write_text(json.dumps({"description": "film noir", "template": "{prompt}, hard shadows"}))
    listed = {s["name"]: s for s in get(f"{server.url}{API}/styles").json()["styles"]}
    assert listed["noir"] == {"name": "noir", "description": "film noir", "source": "user"}
    reply = post(f"{server.url}{API}/enrich", {"prompt": "a detective", "style": "noir"}).json()
    assert reply["enriched_prompt"] == "a detective, hard shadows"


def test_bad_enrich_requests_are_clear_400s(server) -> None:
    url = f"{server.url}{API}/enrich"
    cases = [
        ({"prompt": "a fox", "style": "vaporwave"}, "UNKNOWN_STYLE"),
        ({"prompt": ""}, "EMPTY_PROMPT"),
        ({"style": "anime"}, "EMPTY_PROMPT"),
        ({"prompt": "x" * 4001}, "PROMPT_TOO_LONG"),
        ({"prompt": "a fox", "seed": "abc"}, "INVALID_SEED"),
        ({"prompt": "a fox", "temperature": 2}, "UNKNOWN_FIELD"),
    ]
    for body, code in cases:
        reply = post(url, body)
        assert reply.status == 400 and reply.json()["code"] == code, (body, reply.body)
    unknown = post(url, {"prompt": "a fox", "style": "vaporwave"}).json()
    assert "cyberpunk" in unknown["error"] and "sci-fi" in unknown["styles"]
    assert post(url, [1]).status == 400

    compat = post(f"{server.url}/cozygen/compat/cyberimage/api/enrich", {"prompt": "  "})
    assert compat.status == 400
    assert compat.json()["status"] == "error" and compat.json()["message"] and compat.json()["code"] == "EMPTY_PROMPT"
    style = post(f"{server.url}/cozygen/compat/cyberimage/api/enrich", {"prompt": "a", "style": "vaporwave"})
    assert style.status == 400 and style.json()["status"] == "error" and "cyberpunk" in style.json()["message"]


def test_enrich_asks_a_configured_model_and_never_shows_its_key(server, chat_server) -> None:
    changed = settings(
        server,
        {"enrich_url": chat_server.url, "enrich_model": "tiny-test", "enrich_api_key": KEY, "enrich_timeout": 5},
    )
    try:
        assert changed.status == 200, changed.body
        shown = get(f"{server.url}/cozygen/api/settings")
        assert KEY not in shown.body.decode() and KEY not in changed.body.decode()
        values = shown.json()["settings"]
        assert values["enrich_api_key_set"] is True and "enrich_api_key" not in values
        assert values["enrich_url"] == chat_server.url and values["enrich_model"] == "tiny-test"
        assert get(f"{server.url}{API}/styles").json()["llm"] == {"enabled": True, "model": "tiny-test"}

        reply = post(f"{server.url}{API}/enrich", {"prompt": "a castle on a hill", "style": "cyberpunk"})
        assert reply.status == 200
        assert reply.json() == {
            "original_prompt": "a castle on a hill",
            "style": "cyberpunk",
            "enriched_prompt": chat_server.answer,
            "source": "llm",
            "model": "tiny-test",
        }
        (sent,) = chat_server.requests
        assert sent["path"] == "/v1/chat/completions"
        assert sent["headers"]["Authorization"] == f"Bearer {KEY}"
        assert sent["json"]["model"] == "tiny-test"
        system, user = sent["json"]["messages"]
        assert system["role"] == "system" and style_file("cyberpunk")["system"] in system["content"]
        assert user == {"role": "user", "content": "a castle on a hill"}

        compat = post(f"{server.url}/cozygen/compat/cyberimage/api/enrich", {"prompt": "a fox", "style": "anime"})
        assert compat.json()["enriched_prompt"] == chat_server.answer and compat.json()["source"] == "llm"
        assert style_file("anime")["system"] in chat_server.requests[-1]["json"]["messages"][0]["content"]

        audit = get(f"{server.url}/cozygen/api/audit").json()["entries"]
        details = [e["detail"] for e in audit if e["action"] == "settings.update"]
        assert any("enrich_api_key=<set>" in d for d in details) and all(KEY not in d for d in details)
        assert KEY not in server.log()
    finally:
        settings(server, {"enrich_url": None, "enrich_model": None, "enrich_api_key": None, "enrich_timeout": None})
    assert get(f"{server.url}{API}/styles").json()["llm"]["enabled"] is False
    assert get(f"{server.url}/cozygen/api/settings").json()["settings"]["enrich_api_key_set"] is False


def test_enrich_falls_back_to_the_template_when_the_model_fails(server, chat_server) -> None:
    settings(server, {"enrich_url": chat_server.url, "enrich_api_key": KEY, "enrich_timeout": 1})
    try:
        chat_server.mode = "error"
        reply = post(f"{server.url}{API}/enrich", {"prompt": "a castle on a hill", "style": "fantasy"}).json()
        assert len(chat_server.requests) == 1
        assert reply["source"] == "template" and reply["enriched_prompt"].startswith("a castle on a hill, epic fantasy")
        assert "HTTP 500" in reply["warning"] and "fantasy template" in reply["warning"]
        assert KEY not in json.dumps(reply)

        chat_server.mode = "hold"  # answers only after the release: past CozyGen's 1 s timeout
        outcome: dict[str, Any] = {}
        pending = threading.Thread(
            target=lambda: outcome.update(
                reply=post(f"{server.url}{API}/enrich", {"prompt": "a quiet harbor", "style": "realistic"})
            )
        )
        pending.start()
        assert chat_server.received.wait(30)
        assert get(f"{server.url}/cozygen/api/health").status == 200  # the event loop is not waiting on the model
        pending.join(60)
        assert not pending.is_alive()
        late = outcome["reply"].json()
        assert late["source"] == "template" and late["enriched_prompt"].startswith("a quiet harbor, photorealistic")
        assert "did not answer within 1 s" in late["warning"]
        chat_server.release.set()

        chat_server.mode = "error"
        compat = post(f"{server.url}/cozygen/compat/cyberimage/api/enrich", {"prompt": "a fox"})
        assert compat.json()["source"] == "template" and compat.json()["warning"]
    finally:
        settings(server, {"enrich_url": None, "enrich_api_key": None, "enrich_timeout": None})


def test_bad_enrich_settings_change_nothing(server) -> None:
    before = get(f"{server.url}/cozygen/api/settings").json()["settings"]
    for change in (
        {"enrich_url": "ftp://x"},
        {"enrich_timeout": 0},
        {"enrich_url": "http://ok", "enrich_timeout": "5"},
    ):
        reply = settings(server, change)
        assert reply.status == 400 and reply.json()["code"] == "INVALID_SETTING", reply.body
    assert get(f"{server.url}/cozygen/api/settings").json()["settings"] == before
