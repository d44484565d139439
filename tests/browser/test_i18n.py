"""The web app in each of its seven languages, in a real Chromium at a phone's size (390×844).

For each language, chosen by the browser's locale (a context built from phone.PHONE with ``locale``
overridden) and once by the stored setting, every screen in ``SCREENS`` is opened and the visible text of
the whole ``body`` (text nodes, and the aria-label, title, placeholder and alt a reader hears) must show
(a) no catalogue key and (b) for a language other than English, no English catalogue text whose
translation differs: an untranslated string. Texts that are the same in every language (workflow file
names, prompts, numbers, "CozyGen", model names, dates) are not catalogue text and pass; a catalogue
text whose translation happens to equal the English one passes too. Server-sent texts (API error
messages) are English by design and no screen here shows one. Switching the language through Settings'
picker re-renders the whole app in place (no reload). Screenshots: tests/screenshots/i18n-<lang>-<screen>.png.

The catalogues are read from web/app/src/i18n/<lang>.ts (one ``"key": "text",`` a line; the app's unit
test checks that format). To cover a screen, add it to ``SCREENS``: a name and a function that opens it
on a signed-in page (and returns what to undo afterwards, if anything).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import phone
import pytest
from llm_server import Calls, LLMServer, Text, Tool
from phone import PHONE
from playwright.sync_api import Browser, BrowserContext, Page, expect

ROOT = Path(__file__).resolve().parents[2]
CATALOGUES = ROOT / "web" / "app" / "src" / "i18n"
WORKFLOW = "cozygen_procedural_form.json"
ADMIN, PASSWORD = "ada", "ada-password"
# each language with the browser locale that should select it
LOCALES = {"en": "en-US", "zh": "zh-CN", "ja": "ja-JP", "ko": "ko-KR", "ru": "ru-RU", "fr": "fr-FR", "es": "es-ES"}
ENTRY = re.compile(r'^\s+"([\w.]+)": (".*"),$')


def catalogue(lang: str) -> dict[str, str]:
    entries = (ENTRY.match(line) for line in (CATALOGUES / f"{lang}.ts").read_text(encoding="utf-8").splitlines())
    return {m[1]: json.loads(m[2]) for m in entries if m}


EN = catalogue("en")
NAMESPACES = sorted({key.split(".")[0] for key in EN})
KEYLIKE = re.compile(rf"^({'|'.join(NAMESPACES)})\.[A-Za-z][\w.]*$")


@pytest.fixture(scope="module")
def server(start_comfyui):
    env = {"COZYGEN_AUTH": "on", "COZYGEN_ADMIN_USER": ADMIN, "COZYGEN_ADMIN_PASSWORD": PASSWORD}
    return start_comfyui("ComfyUI-CozyGen-i18n", env=env)


@pytest.fixture(scope="module")
def llm() -> Iterator[LLMServer]:
    with LLMServer() as fake:
        yield fake


@pytest.fixture(scope="module")
def image(server, browser: Browser, llm: LLMServer) -> dict:
    """One finished job (its image is what the viewer shows; its subfolder is a folder tile in the gallery), and a
    language model (the fake) for the assistant's screens: ``llm`` in the answer."""
    context = browser.new_context()
    login = {"username": ADMIN, "password": PASSWORD}
    reply = context.request.post(f"{server.url}/cozygen/api/login", data=login, headers={"Origin": server.url})
    assert reply.status == 200, reply.text()
    try:
        provider = {"name": "Home LLM", "kind": "openai-compatible", "url": llm.v1, "default_model": "fake-model"}
        made = context.request.post(f"{server.url}/cozygen/api/llm/providers", data=provider,
                                    headers={"Origin": server.url})  # fmt: skip
        assert made.status == 201, made.text()
        job = phone.finished_job(context, server, WORKFLOW, {"prompt": "a lantern in the snow", "steps": 2})
        return {**job, "llm": llm}
    finally:
        context.close()


def shown_texts(page: Page, root: str) -> list[str]:
    """Every text a user sees or hears in ``root``: visible text nodes, options, and the labels of visible elements."""
    return page.evaluate(
        """(root) => {
            const out = [];
            const seen = (el) => el.checkVisibility ? el.checkVisibility() : el.offsetParent !== null;
            for (const top of document.querySelectorAll(root)) {
                const walker = document.createTreeWalker(top, NodeFilter.SHOW_TEXT);
                for (let n = walker.nextNode(); n; n = walker.nextNode()) {
                    const el = n.parentElement;
                    const text = n.textContent.trim();
                    if (el && text && (seen(el) || el.closest('select, .sr-only'))) out.push(text);
                }
                for (const el of [top, ...top.querySelectorAll('*')]) {
                    if (!seen(el) && !el.classList.contains('sr-only')) continue;
                    for (const a of ['aria-label', 'title', 'placeholder', 'alt']) {
                        const v = el.getAttribute(a);
                        if (v && v.trim()) out.push(v.trim());
                    }
                }
            }
            return out;
        }""",
        root,
    )


def check_translated(page: Page, lang: str, root: str) -> None:
    texts = shown_texts(page, root)
    assert texts, f"nothing shown in {root}"
    keys = [t for t in texts if t in EN or KEYLIKE.match(t)]
    assert not keys, f"{lang}: catalogue keys shown: {keys}"
    if lang == "en":
        return
    strings = catalogue(lang)
    own = set(strings.values())
    by_english: dict[str, list[str]] = {}
    for key, text in EN.items():
        by_english.setdefault(text, []).append(key)
    untranslated = [
        t for t in texts if t in by_english and t not in own and all(strings.get(k, t) != t for k in by_english[t])
    ]
    assert not untranslated, f"{lang}: English text shown: {untranslated}"


def shot(page: Page, lang: str, screen: str) -> None:
    phone.shot(page, f"i18n-{lang}-{screen}")


def sign_in(page: Page) -> None:
    page.fill("#username", ADMIN)
    page.fill("#password", PASSWORD)
    page.click("#auth-go")
    expect(page.locator("nav.tabs")).to_be_visible()


def in_locale(browser: Browser, locale: str) -> tuple[BrowserContext, Page]:
    """A phone-sized context (phone.PHONE) whose browser asks for `locale`."""
    context = browser.new_context(**{**PHONE, "locale": locale})
    return context, context.new_page()


def api(page: Page, server, method: str, path: str, data: Any = None) -> Any:
    """A call to CozyGen's API as the page's signed-in user (its cookie)."""
    reply = page.request.fetch(f"{server.url}{path}", method=method, data=data, headers={"Origin": server.url})
    assert reply.ok, reply.text()
    return reply.json()


# ---- the screens: each opens its screen on a signed-in page; a screen may return what to undo after the check ----

Undo = Callable[[], None] | None


def open_workflows(page: Page, server, image: dict) -> Undo:
    page.goto(f"{server.url}/cozygen/")
    expect(page.locator(f'a[data-workflow="{WORKFLOW}"]')).to_be_visible()
    return None


def open_generate(page: Page, server, image: dict) -> Undo:
    """The form, its Images count and a Repeat of 3 (its hint, "Generate ×3")."""
    page.goto(f"{server.url}/cozygen/generate/{WORKFLOW}")
    expect(page.locator("#go")).to_be_enabled()
    page.select_option("#repeat", "3")
    expect(page.locator("#repeat-hint")).to_be_visible()
    return None


def open_result(page: Page, server, image: dict) -> Undo:
    """The result sheet after a generation."""
    page.goto(f"{server.url}/cozygen/generate/{WORKFLOW}")
    expect(page.locator("#go")).to_be_enabled()
    page.fill("#f-steps", "2")
    page.click("#go")
    expect(page.locator("#job-progress")).to_have_attribute("data-status", "completed", timeout=60000)
    expect(page.locator("#result-pane")).to_be_visible()
    return None


def open_queue(page: Page, server, image: dict) -> Undo:
    """The queue with a running series (until stopped; stopped, its job cancelled, after the check)."""
    values = {"prompt": "a slow lantern", "steps": 40, "size": 512}
    body = {"workflow": WORKFLOW, "values": values, "times": "until_stopped"}
    series = api(page, server, "POST", "/cozygen/api/series", body)["series"]
    page.goto(f"{server.url}/cozygen/queue")
    expect(page.locator("li.series .series-progress")).to_be_visible(timeout=15000)
    expect(page.locator("li.job").first).to_be_visible(timeout=15000)

    def stop() -> None:  # its running job cancelled too
        api(page, server, "POST", f"/cozygen/api/series/{series['id']}/stop", {"cancel_job": True})

    return stop


def open_gallery(page: Page, server, image: dict) -> Undo:
    page.goto(f"{server.url}/cozygen/gallery")
    expect(page.locator("#gallery-grid .tile").first).to_be_visible(timeout=15000)
    return None


def open_folders(page: Page, server, image: dict) -> Undo:
    """The folders view with the image's folder as a tile."""
    page.goto(f"{server.url}/cozygen/gallery")
    page.locator('.seg[role="group"] button').nth(1).click()  # Folders
    folder = image["images"][0]["subfolder"]
    expect(page.locator(f'button.tile.folder[data-folder="{folder}"]')).to_be_visible(timeout=15000)
    return None


def open_viewer(page: Page, server, image: dict) -> Undo:
    page.goto(f"{server.url}/cozygen/gallery")
    tile = page.locator("#gallery-grid .tile").first
    expect(tile).to_be_visible(timeout=15000)
    tile.click()
    expect(page.locator("#viewer-image")).to_be_visible()
    page.locator("#viewer .actions button").first.click()  # Details: the parameters' labels
    expect(page.locator("#viewer dl")).to_be_visible()
    return None


def open_history(page: Page, server, image: dict) -> Undo:
    """The history at a push's link (?job=<id>): the job's row marked once its viewer is closed, its details open."""
    page.goto(f"{server.url}/cozygen/history?job={image['id']}")
    expect(page.locator("#viewer-image")).to_be_visible(timeout=15000)
    page.keyboard.press("Escape")
    row = page.locator(f'li.job.highlight[data-job="{image["id"]}"]')
    expect(row).to_be_visible()
    row.locator('[role="button"]').click()  # its parameters
    expect(row.locator("dl")).to_be_visible()
    return None


def open_history_missing(page: Page, server, image: dict) -> Undo:
    """A link to a job that is not there: the not-found note."""
    page.goto(f"{server.url}/cozygen/history?job=no-such-job")
    expect(page.locator(".linked-note")).to_be_visible(timeout=15000)
    return None


def open_settings(page: Page, server, image: dict) -> Undo:
    """As admin: the users, push, the language picker and the restart block's confirm step (cancelled after)."""
    page.goto(f"{server.url}/cozygen/settings")
    expect(page.locator("#s-users")).to_be_visible(timeout=15000)
    expect(page.locator("#language")).to_be_visible()
    page.click("#restart-ask")
    expect(page.locator(".restart-warning")).to_be_visible()
    return None


def open_all_settings(page: Page, server, image: dict) -> Undo:
    """The form's All settings sheet (every node, collapsed)."""
    page.goto(f"{server.url}/cozygen/generate/{WORKFLOW}")
    expect(page.locator("#go")).to_be_enabled()
    page.click("#all-settings-open")
    expect(page.locator("#all-settings details").first).to_be_visible()
    return None


def open_import(page: Page, server, image: dict) -> Undo:
    """The Workflows screen's Import sheet."""
    page.goto(f"{server.url}/cozygen/")
    page.click("#import-open")
    expect(page.locator("#import-workflow")).to_be_visible()
    return None


def open_missing_models(page: Page, server, image: dict) -> Undo:
    """A workflow card's missing models (SD 1.5's checkpoint, with its known source and Get it)."""
    page.goto(f"{server.url}/cozygen/")
    page.locator('li.fixable:has(a[data-workflow="sd15_txt2img.json"]) .wf-fix').click()
    expect(page.locator("#missing-models-sheet li.mm .mm-get")).to_be_visible(timeout=15000)
    return None


def open_models(page: Page, server, image: dict) -> Undo:
    """Settings → Models: the admin's downloads and the model browser."""
    page.goto(f"{server.url}/cozygen/settings/models")
    expect(page.locator("#downloads #add-download-open")).to_be_visible(timeout=15000)
    expect(page.locator("#model-browser .model-folders button").first).to_be_visible()
    return None


def open_add_download(page: Page, server, image: dict) -> Undo:
    """Settings → Models' Add a download sheet."""
    page.goto(f"{server.url}/cozygen/settings/models")
    page.click("#add-download-open")
    expect(page.locator("#add-download #dl-repo")).to_be_visible()
    return None


def open_server_settings(page: Page, server, image: dict) -> Undo:
    """Settings' server settings, every group open (the secrets set or not, the download hosts)."""
    page.goto(f"{server.url}/cozygen/settings")
    groups = page.locator("#server-settings details.settings-group")
    expect(groups.first).to_be_visible(timeout=15000)
    for n in range(groups.count()):
        groups.nth(n).locator("summary").click()
    expect(page.locator("#setting-hf_token")).to_be_visible()
    return None


def open_backends(page: Page, server, image: dict) -> Undo:
    """Settings → Backends: this ComfyUI with its health, what it lacks, and the Add a backend form (bearer auth)."""
    page.goto(f"{server.url}/cozygen/settings/backends")
    card = page.locator('li.backend[data-backend="local"]')
    expect(card.locator(".backend-queue")).to_be_visible(timeout=15000)
    card.locator(".backend-lacks-btn").click()
    expect(card.locator(".backend-lacks p, .backend-lacks ul").first).to_be_visible(timeout=15000)
    page.click("#backend-add")
    page.select_option("#bk-new-auth", "bearer")
    expect(page.locator("#bk-new-secret")).to_be_visible()
    return None


def open_backend_pins(page: Page, server, image: dict) -> Undo:
    """Settings → Backends: this ComfyUI's own form (jobs at once, tags) and the Pinned workflows card."""
    page.goto(f"{server.url}/cozygen/settings/backends")
    card = page.locator('li.backend[data-backend="local"]')
    card.locator(".backend-edit").click()
    expect(card.locator(".backend-local-hint")).to_be_visible(timeout=15000)
    expect(page.locator(".backend-pins .pin-add-btn")).to_be_visible(timeout=15000)
    page.locator(".backend-pins").scroll_into_view_if_needed()
    return None


def open_assistant(page: Page, server, image: dict) -> Undo:
    """The generate screen's assistant sheet: an answer with a field chip (applied, Undo) and a queue proposal
    (Confirm). The model's words are the fake's, not catalogue text."""
    llm: LLMServer = image["llm"]
    llm.reset()
    steps = Tool("set_field", '{"field": "steps", "value": 20}')
    queue = Tool("queue", '{"variations": 2, "changes": {"steps": 20}}')
    llm.script([Calls([steps, queue]), Text(["OK: 20 → 2 ×"])])
    page.goto(f"{server.url}/cozygen/generate/{WORKFLOW}")
    page.click("#assistant-open")
    page.fill("#assistant-input", "20 steps, 2 variations")
    page.click("#assistant-send")
    sheet = page.locator("#assistant")
    expect(sheet.locator('.action-chip[data-tool="queue"] .action-confirm').last).to_be_visible(timeout=15000)
    expect(page.locator("#assistant-send")).to_be_visible()  # the answer ended
    return None


def open_assistant_settings(page: Page, server, image: dict) -> Undo:
    """Settings → Assistant as an admin: the model that answers, its card, and the form to add another."""
    page.goto(f"{server.url}/cozygen/settings")
    section = page.locator("#assistant-settings")
    expect(section.locator("li.provider").first).to_be_visible(timeout=15000)
    section.locator("#provider-add").click()
    expect(page.locator("#pv-new-name")).to_be_visible()
    section.scroll_into_view_if_needed()
    return None


@dataclass(frozen=True)
class Screen:
    name: str
    open: Callable[[Page, Any, dict], Undo]


SCREENS = [
    Screen("workflows", open_workflows),
    Screen("generate", open_generate),
    Screen("result", open_result),
    Screen("queue", open_queue),
    Screen("gallery", open_gallery),
    Screen("folders", open_folders),
    Screen("viewer", open_viewer),
    Screen("history", open_history),
    Screen("history-missing", open_history_missing),
    Screen("settings", open_settings),
    Screen("all-settings", open_all_settings),
    Screen("import", open_import),
    Screen("missing-models", open_missing_models),
    Screen("models", open_models),
    Screen("add-download", open_add_download),
    Screen("server-settings", open_server_settings),
    Screen("backends", open_backends),
    Screen("backend-pins", open_backend_pins),
    Screen("assistant", open_assistant),
    Screen("assistant-settings", open_assistant_settings),
]


@pytest.mark.parametrize("lang", list(LOCALES))
def test_every_screen_in_the_browsers_language(server, browser: Browser, image: dict, lang: str) -> None:
    context, page = in_locale(browser, LOCALES[lang])
    page.goto(f"{server.url}/cozygen/")
    expect(page.locator("#auth")).to_be_visible()
    assert page.evaluate("document.documentElement.lang").split("-")[0] == lang
    assert page.evaluate("document.documentElement.dir") == "ltr"
    check_translated(page, lang, "body")
    shot(page, lang, "login")
    sign_in(page)
    for screen in SCREENS:
        undo = screen.open(page, server, image)
        try:
            check_translated(page, lang, "body")
            shot(page, lang, screen.name)
        finally:
            if undo:
                undo()
    context.close()


def test_the_settings_picker_switches_the_whole_app_in_place(server, browser: Browser, image: dict) -> None:
    """Choosing a language in Settings re-renders every screen in it without a reload, and it stays chosen."""
    context, page = in_locale(browser, "en-US")
    page.goto(f"{server.url}/cozygen/")
    sign_in(page)
    page.goto(f"{server.url}/cozygen/settings")
    expect(page.locator("#language")).to_be_visible()
    page.evaluate("window.__notReloaded = true")
    for lang in ("fr", "ja", "ru"):
        strings = catalogue(lang)
        page.select_option("#language", lang)
        expect(page.locator("#s-look")).to_have_text(strings["settings.appearance"])
        expect(page.locator("nav.tabs")).to_contain_text(strings["nav.gallery"])
        assert page.evaluate("document.documentElement.lang").split("-")[0] == lang
        check_translated(page, lang, "body")
    shot(page, "ru", "picker")
    # the other screens, reached inside the app (no page load), are in the chosen language too
    strings = catalogue("ru")
    page.locator("nav.tabs a").nth(1).click()  # Gallery
    expect(page.locator("header.top h1")).to_have_text(strings["nav.gallery"])
    expect(page.locator("#gallery-grid .tile").first).to_be_visible(timeout=15000)
    check_translated(page, "ru", "body")
    page.locator("nav.tabs a").nth(2).click()  # Queue
    expect(page.locator("header.top h1")).to_have_text(strings["nav.queue"])
    check_translated(page, "ru", "body")
    page.locator("nav.tabs a").first.click()  # the workflows
    expect(page.locator(f'a[data-workflow="{WORKFLOW}"]')).to_be_visible()
    check_translated(page, "ru", "body")
    assert page.evaluate("window.__notReloaded === true"), "the page reloaded"
    # and the choice is kept: a new load of the page shows it
    page.reload()
    expect(page.locator("nav.tabs")).to_contain_text(strings["nav.gallery"])
    page.goto(f"{server.url}/cozygen/settings")
    page.select_option("#language", "auto")  # back to the browser's (English)
    expect(page.locator("#s-look")).to_have_text(EN["settings.appearance"])
    context.close()


def test_the_stored_setting_wins_over_the_browser(server, browser: Browser, image: dict) -> None:
    """The setting (Settings' language picker stores it in cozygen.prefs) overrides navigator.languages."""
    context, page = in_locale(browser, "en-US")
    context.add_init_script("localStorage.setItem('cozygen.prefs', JSON.stringify({language: 'ja'}))")
    page.goto(f"{server.url}/cozygen/")
    expect(page.locator("#auth-title")).to_have_text(catalogue("ja")["login.title"])
    assert page.evaluate("document.documentElement.lang") == "ja"
    sign_in(page)
    expect(page.locator("nav.tabs")).to_contain_text(catalogue("ja")["nav.gallery"])
    context.close()
    # and a language the app does not ship falls back to English
    context, page = in_locale(browser, "pt-BR")
    page.goto(f"{server.url}/cozygen/")
    expect(page.locator("#auth-title")).to_have_text(EN["login.title"])
    context.close()


def test_the_check_catches_a_key_and_an_untranslated_string(browser: Browser) -> None:
    """The check itself: a raw key, or English where a translation exists, fails; a shared word (CFG) passes."""
    context, page = in_locale(browser, "zh-CN")
    page.set_content('<main id="x"><h1>图库</h1><p>CFG</p><button aria-label="关闭">×</button></main>')
    check_translated(page, "zh", "#x")
    for html in ('<main id="x"><p>nav.gallery</p></main>', '<main id="x"><button aria-label="Close">×</button></main>'):
        page.set_content(html)
        with pytest.raises(AssertionError):
            check_translated(page, "zh", "#x")
    page.set_content('<main id="x"><p>login.somethingNew</p></main>')
    with pytest.raises(AssertionError):
        check_translated(page, "en", "#x")
    context.close()
