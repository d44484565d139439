"""The web app in each of its seven languages, in a real Chromium at a phone's size (390×844).

For each language, chosen by the browser's locale (Playwright's ``locale=``) and once by the
stored setting, every screen in ``SCREENS`` is opened and its visible text (text nodes, and the
aria-label, title, placeholder and alt a reader hears) must show (a) no catalogue key and (b) for a
language other than English, no English catalogue text whose translation differs: an untranslated
string. Screenshots: tests/screenshots/i18n-<lang>-<screen>.png.

The catalogues are read from web/app/src/i18n/<lang>.ts (one ``"key": "text",`` a line; the app's unit
test checks that format). To cover a screen, add it to ``SCREENS``: a name, a function that opens it
on a signed-in page, and the part of the page that is translated (phase 2: the whole ``body``).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

ROOT = Path(__file__).resolve().parents[2]
CATALOGUES = ROOT / "web" / "app" / "src" / "i18n"
SCREENSHOTS = Path(__file__).resolve().parent.parent / "screenshots"
PHONE = {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True, "device_scale_factor": 2}
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
def image(server, browser: Browser) -> dict:
    """One finished job (its image is what the viewer shows)."""
    context = browser.new_context()
    login = {"username": ADMIN, "password": PASSWORD}
    reply = context.request.post(f"{server.url}/cozygen/api/login", data=login, headers={"Origin": server.url})
    assert reply.status == 200, reply.text()
    reply = context.request.post(
        f"{server.url}/cozygen/api/jobs",
        data={"workflow": WORKFLOW, "values": {"prompt": "a lantern in the snow", "steps": 2}},
        headers={"Origin": server.url},
    )
    assert reply.status == 201, reply.text()
    job_id = reply.json()["job"]["id"]
    try:
        for _ in range(300):
            job = context.request.get(f"{server.url}/cozygen/api/jobs/{job_id}").json()["job"]
            if job["status"] == "completed" and job["images"]:
                return job
            time.sleep(0.1)
        raise AssertionError(f"job {job_id} did not finish: {job}")
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
    SCREENSHOTS.mkdir(exist_ok=True)
    page.wait_for_timeout(250)
    page.screenshot(path=str(SCREENSHOTS / f"i18n-{lang}-{screen}.png"))


def sign_in(page: Page, server) -> None:
    page.fill("#username", ADMIN)
    page.fill("#password", PASSWORD)
    page.click("#auth-go")
    expect(page.locator("nav.tabs")).to_be_visible()


# ---- the screens: each opens its screen on a signed-in page and names the part that is translated ----


def open_navigation(page: Page, server, image: dict) -> None:
    page.goto(f"{server.url}/cozygen/")
    expect(page.locator("nav.tabs")).to_be_visible()


def open_viewer(page: Page, server, image: dict) -> None:
    page.goto(f"{server.url}/cozygen/gallery")
    tile = page.locator("#gallery-grid .tile").first
    expect(tile).to_be_visible(timeout=15000)
    tile.click()
    expect(page.locator("#viewer-image")).to_be_visible()
    page.locator("#viewer .actions button").first.click()  # Details: the parameters' labels
    expect(page.locator("#viewer dl")).to_be_visible()


@dataclass(frozen=True)
class Screen:
    name: str
    open: Callable[[Page, object, dict], None]
    root: str  # the translated part of the page (phase 2: "body" once every screen is)


SCREENS = [
    Screen("navigation", open_navigation, "nav.tabs, a.sr-only"),
    Screen("viewer", open_viewer, "#viewer"),
]


def phone(browser: Browser, locale: str) -> tuple[BrowserContext, Page]:
    context = browser.new_context(**PHONE, locale=locale)
    return context, context.new_page()


@pytest.mark.parametrize("lang", list(LOCALES))
def test_every_screen_in_the_browsers_language(server, browser: Browser, image: dict, lang: str) -> None:
    context, page = phone(browser, LOCALES[lang])
    page.goto(f"{server.url}/cozygen/")
    expect(page.locator("#auth")).to_be_visible()
    assert page.evaluate("document.documentElement.lang").split("-")[0] == lang
    assert page.evaluate("document.documentElement.dir") == "ltr"
    check_translated(page, lang, "#auth")
    shot(page, lang, "login")
    sign_in(page, server)
    for screen in SCREENS:
        screen.open(page, server, image)
        check_translated(page, lang, screen.root)
        shot(page, lang, screen.name)
    context.close()


def test_the_stored_setting_wins_over_the_browser(server, browser: Browser, image: dict) -> None:
    """The setting (Settings' language picker stores it in cozygen.prefs) overrides navigator.languages."""
    context, page = phone(browser, "en-US")
    context.add_init_script("localStorage.setItem('cozygen.prefs', JSON.stringify({language: 'ja'}))")
    page.goto(f"{server.url}/cozygen/")
    expect(page.locator("#auth-title")).to_have_text(catalogue("ja")["login.title"])
    assert page.evaluate("document.documentElement.lang") == "ja"
    sign_in(page, server)
    expect(page.locator("nav.tabs")).to_contain_text(catalogue("ja")["nav.gallery"])
    context.close()
    # and a language the app does not ship falls back to English
    context, page = phone(browser, "pt-BR")
    page.goto(f"{server.url}/cozygen/")
    expect(page.locator("#auth-title")).to_have_text(EN["login.title"])
    context.close()


def test_the_check_catches_a_key_and_an_untranslated_string(browser: Browser) -> None:
    """The check itself: a raw key, or English where a translation exists, fails; a shared word (CFG) passes."""
    context, page = phone(browser, "zh-CN")
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
