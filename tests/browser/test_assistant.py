"""The prompt assistant in the phone app (390 px), against a real ComfyUI and a scripted language model on loopback
(tests/llm_server.py): an admin adds the model in Settings → Assistant (tested before saving, its models listed),
the generate screen's Assistant button appears, the answer streams into the sheet, a tool call sets a field and
another inserts a tag (each chip undoes its change), a queue action waits for Confirm and queues the jobs, Stop ends
a dripping answer (the provider's stream closed too), a provider error and the rate limit are said in words, the
conversation is cleared, another user sees only whether it is on (and none of the admin's conversation), and with the
model removed a message is refused in words and the button goes. Screenshots: tests/screenshots/assistant-*.png."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import phone
import pytest
from llm_server import Calls, Drip, Error, LLMServer, Text, Tool
from phone import shot
from playwright.sync_api import Page, expect

ADMIN, PASSWORD = "ada", "ada-password"
WORKFLOW = "cozygen_procedural_form.json"  # fields prompt, seed, steps (1..50), size
TAGS = '1girl,0,6008644,"1girls,sole_female"\nlong_hair,0,4350743,"/lh,longhair"\n'
RATE = 6  # assistant messages a minute per user


@pytest.fixture(scope="module")
def llm() -> Iterator[LLMServer]:
    with LLMServer() as server:
        yield server


@pytest.fixture(scope="module")
def server(start_comfyui):
    env = {"COZYGEN_AUTH": "on", "COZYGEN_ADMIN_USER": ADMIN, "COZYGEN_ADMIN_PASSWORD": PASSWORD,
           "COZYGEN_LLM_RATE_LIMIT": str(RATE)}  # fmt: skip
    started = start_comfyui("ComfyUI-CozyGen-browser-assistant", env=env)
    folder = started.user_dir / "cozygen" / "tags"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "danbooru.csv").write_text(TAGS)
    return started


def wait_for(check, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"still waiting for {what}")
        time.sleep(0.1)


def fits(page: Page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing wider than the phone


def send(page: Page, text: str) -> None:
    page.fill("#assistant-input", text)
    page.click("#assistant-send")


def last_reply(page: Page):
    return page.locator(".bubble.assistant").last


def field(page: Page, name: str) -> Any:
    return page.locator(f"#f-{name}")


def test_the_assistant_sets_fields_queues_stops_and_says_what_went_wrong(server, llm: LLMServer, browser) -> None:
    context, page = phone.signed_in(browser, server, ADMIN, PASSWORD)

    # no language model yet: the generate screen has no Assistant button
    page.goto(f"{server.url}/cozygen/generate/{WORKFLOW}")
    expect(field(page, "steps")).to_be_visible()
    expect(page.locator("#assistant-open")).to_have_count(0)

    # Settings → Assistant: off; an admin adds the model, tried before it is saved, its models listed
    page.goto(f"{server.url}/cozygen/settings")
    section = page.locator("#assistant-settings")
    expect(section.locator("#assistant-state")).to_contain_text("off")
    section.locator("#provider-add").click()
    page.fill("#pv-new-name", "Home LLM")
    page.select_option("#pv-new-kind", "openai-compatible")
    page.fill("#pv-new-url", llm.v1)
    page.click(".provider-form-try")
    expect(page.locator(".provider-form-test")).to_contain_text("Answered in")
    page.locator(".provider-model-list .chip", has_text="fake-model").click()
    expect(page.locator("#pv-new-model")).to_have_value("fake-model")
    section.scroll_into_view_if_needed()
    shot(page, "assistant-settings-add")
    page.click(".provider-form-save")
    card = section.locator("li.provider", has_text="Home LLM")
    expect(card).to_be_visible()
    if card.locator(".provider-make-default").count():
        card.locator(".provider-make-default").click()
    expect(card.locator(".provider-default")).to_be_visible()
    expect(section.locator("#assistant-state")).to_contain_text("Home LLM")
    expect(card).to_contain_text("fake-model")
    fits(page)
    card.scroll_into_view_if_needed()
    shot(page, "assistant-settings")

    # the answer streams in, and two tool calls change the form at once
    page.goto(f"{server.url}/cozygen/generate/{WORKFLOW}")
    page.fill("#f-prompt", "a cozy cabin")
    expect(field(page, "steps")).to_have_value("12")
    assert llm.chats == []  # opening the app and the form asks the model nothing (the feature probe included)
    llm.reset()
    steps = Tool("set_field", '{"field": "steps", "value": 30}')
    tags = Tool("insert_tags", '{"field": "prompt", "tags": ["longhair"]}')  # an alias of long_hair
    llm.script([Calls([steps, tags]), Text(["Done: ", "30 steps", " and long hair."])])
    page.click("#assistant-open")
    sheet = page.locator("#assistant")
    expect(sheet).to_be_visible()
    expect(sheet.locator(".assistant-empty")).to_be_visible()
    shot(page, "assistant-empty")
    send(page, "more detail, and long hair")
    expect(last_reply(page).locator(".bubble-text")).to_have_text("Done: 30 steps and long hair.")
    set_chip = sheet.locator('.action-chip[data-tool="set_field"]')
    tags_chip = sheet.locator('.action-chip[data-tool="insert_tags"]')
    expect(set_chip).to_have_attribute("data-state", "applied")
    expect(tags_chip).to_have_attribute("data-state", "applied")
    expect(tags_chip).to_contain_text("long_hair")  # the alias resolved to the list's tag
    fits(page)
    shot(page, "assistant-actions")

    # what CozyGen sent the model: the open workflow's fields with the form's values, and the tools
    first = llm.chats[0].body
    system = first["messages"][0]
    assert system["role"] == "system"
    assert "steps" in system["content"] and "a cozy cabin" in system["content"]
    assert {tool["function"]["name"] for tool in first["tools"]} == {"set_field", "insert_tags", "queue"}
    assert first["messages"][-1] == {"role": "user", "content": "more detail, and long hair"}

    page.click("#assistant .sheet-close")
    expect(field(page, "steps")).to_have_value("30")
    expect(field(page, "prompt")).to_have_value(re.compile(r"^a cozy cabin, long[ _]hair$"))

    # Undo on a chip (the conversation kept while the sheet was closed) brings the value before back
    page.click("#assistant-open")
    set_chip.locator(".action-undo").click()
    expect(set_chip).to_have_attribute("data-state", "undone")
    page.click("#assistant .sheet-close")
    expect(field(page, "steps")).to_have_value("12")
    expect(field(page, "prompt")).not_to_have_value("a cozy cabin")  # the tag stays

    # a queue action waits for Confirm, then queues the variations as this user; its Undo cancels them
    def jobs() -> int:
        return len(context.request.get(f"{server.url}/cozygen/api/jobs?limit=50").json()["jobs"])

    before = jobs()
    llm.script([Tool("queue", '{"variations": 2}'), Text(["Two variations are ready to queue."])])
    page.click("#assistant-open")
    send(page, "queue two variations")
    queue_chip = sheet.locator('.action-chip[data-tool="queue"]')
    expect(queue_chip).to_have_attribute("data-state", "waiting")
    expect(last_reply(page).locator(".bubble-text")).to_have_text("Two variations are ready to queue.")
    shot(page, "assistant-confirm")
    queue_chip.locator(".action-confirm").click()
    expect(queue_chip).to_have_attribute("data-state", "queued")
    expect(queue_chip).to_contain_text("2 jobs queued")
    wait_for(lambda: jobs() == before + 2, "the two jobs")
    queue_chip.locator(".action-undo").click()
    expect(queue_chip).to_have_attribute("data-state", "cancelled")

    # Stop ends a dripping answer at once: the sheet says so, and the provider's stream is closed too
    llm.script([Drip([f"word{i} " for i in range(40)], delay=0.4)])
    send(page, "tell me a long story")
    expect(last_reply(page).locator(".bubble-text")).to_contain_text("word0 word1 ")  # in order, as they come
    expect(page.locator("#assistant-stop")).to_be_visible()
    shot(page, "assistant-streaming")
    page.click("#assistant-stop")
    expect(last_reply(page).locator(".bubble-note")).to_have_text("Stopped")
    expect(page.locator("#assistant-send")).to_be_visible()
    wait_for(lambda: llm.aborted >= 1, "the provider's stream closed")
    assert "word39" not in last_reply(page).inner_text()

    # a provider that errs: said in words in the reply
    llm.script([Error(401)])
    send(page, "hello?")
    expect(last_reply(page).locator(".bubble-error")).to_contain_text("401")
    shot(page, "assistant-error")

    # the rate limit: the wait in words, and the message back in the box to send again (not left in the log: the
    # server kept nothing, and sending it again would show it twice)
    refused = sheet.locator('[role="alert"]', has_text="Too many messages: try again in")
    for _ in range(RATE + 2):
        asked = sheet.locator(".bubble.user").count()
        send(page, "hi")
        expect(page.locator("#assistant-send")).to_be_visible(timeout=15_000)
        if refused.count():
            break
    expect(refused).to_be_visible()
    expect(sheet.locator(".bubble.user")).to_have_count(asked)
    expect(page.locator("#assistant-input")).to_have_value("hi")
    fits(page)
    shot(page, "assistant-rate-limit")

    # clear: the sheet and the kept conversation are empty
    page.click("#assistant-clear")
    expect(sheet.locator(".bubble")).to_have_count(0)
    assert context.request.get(f"{server.url}/cozygen/api/assistant/conversation").json()["messages"] == []
    page.click("#assistant .sheet-close")

    # another user sees whether the assistant is on, and no providers (they are an admin's)
    made = context.request.post(f"{server.url}/cozygen/api/users", headers={"Origin": server.url},
                                data={"username": "bob", "password": "bob-password", "role": "user"})  # fmt: skip
    assert made.ok, made.text()
    bob_context, bob = phone.signed_in(browser, server, "bob", "bob-password")
    bob.goto(f"{server.url}/cozygen/settings")
    expect(bob.locator("#assistant-state")).to_contain_text("The assistant is on: Home LLM answers.")
    expect(bob.locator("#provider-add")).to_have_count(0)
    expect(bob.locator("#assistant-settings li.provider")).to_have_count(0)
    bob.goto(f"{server.url}/cozygen/generate/{WORKFLOW}")
    bob.click("#assistant-open")
    expect(bob.locator("#assistant .bubble")).to_have_count(0)  # the admin's conversation is not his

    # with the model removed, the assistant is off again: a message already typed is refused in words, and the
    # button goes
    page.goto(f"{server.url}/cozygen/settings")
    card = page.locator("#assistant-settings li.provider", has_text="Home LLM")
    card.locator(".provider-remove").click()
    card.locator(".provider-remove-yes").click()
    expect(page.locator("#assistant-state")).to_contain_text("off")
    send(bob, "a warmer light?")
    expect(bob.locator('#assistant [role="alert"]')).to_have_text(
        "No language model is set up: an admin adds one in Settings → Assistant."
    )
    expect(bob.locator("#assistant .bubble")).to_have_count(0)
    shot(bob, "assistant-no-llm")
    bob_context.close()
    page.goto(f"{server.url}/cozygen/generate/{WORKFLOW}")
    expect(field(page, "steps")).to_be_visible()
    expect(page.locator("#assistant-open")).to_have_count(0)
    context.close()
