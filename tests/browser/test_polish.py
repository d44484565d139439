"""The web app's polish (issue 16, item 3) in a real headless Chromium, at phone (390×844) and tablet (820×1180) size.

One ComfyUI with sign-in off (the default on loopback): icon buttons have names and visible labels, raw keys read
as words with units, the result shows where the eye is without moving the form, "how many" is one control, the
tablet gets two panes, the "system" theme follows the device, segmented controls pass WCAG AA, the sheet backdrop
dims everything, no "· all users" with sign-in off, history rows lead with the prompt. Every screen is photographed
in both themes at both sizes into tests/screenshots/polish-<screen>-<theme>-<size>.png.
"""

from __future__ import annotations

import re
import time

import phone
import pytest
from phone import PHONE, TABLET, finished_job
from playwright.sync_api import Browser, BrowserContext, Page, expect

SIZES = {"phone": PHONE, "tablet": TABLET}
DEMO = "cozygen_procedural_demo.json"

# WCAG contrast of an element's text against its own (or nearest painted) background
CONTRAST = """(el) => {
  const rgb = (s) => s.match(/[\\d.]+/g).slice(0, 4).map(Number);
  let bg = el, c = rgb(getComputedStyle(el).backgroundColor);
  while ((c[3] === 0) && bg.parentElement) { bg = bg.parentElement; c = rgb(getComputedStyle(bg).backgroundColor); }
  const lin = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
  const lum = ([r, g, b]) => [r, g, b].map(lin)
    .reduce((a, v, i) => a + v * [0.2126, 0.7152, 0.0722][i], 0);
  const [l1, l2] = [lum(rgb(getComputedStyle(el).color)), lum(c)].sort((a, b) => b - a);
  return (l1 + 0.05) / (l2 + 0.05);
}"""


@pytest.fixture(scope="module")
def server(start_comfyui):
    return start_comfyui("ComfyUI-CozyGen-polish")


def shot(page: Page, name: str) -> None:
    phone.shot(page, f"polish-{name}")


def open_app(
    browser: Browser, server, size: str, scheme: str = "dark", path: str = "/cozygen/"
) -> tuple[BrowserContext, Page]:
    context = browser.new_context(**SIZES[size], color_scheme=scheme)
    page = context.new_page()
    page.goto(f"{server.url}{path}")
    expect(page.locator("nav.tabs")).to_be_visible()
    return context, page


def made(context: BrowserContext, server, prompt: str) -> dict:
    """One finished job of the demo, through the API."""
    return finished_job(context, server, DEMO, {"positive": prompt, "steps": 2})


def tab(page: Page, label: str) -> None:
    page.locator("nav.tabs a", has_text=label).click()


@pytest.mark.parametrize("size", ["phone", "tablet"])
def test_labels_names_and_one_how_many_control(server, browser, size) -> None:
    context, page = open_app(browser, server, size, path=f"/cozygen/generate/{DEMO}")
    expect(page.locator("#go")).to_be_visible()
    # icon buttons: an accessible name and a visible word
    dice = page.get_by_role("button", name="New random seed")
    expect(dice).to_contain_text("Random")
    last = page.get_by_role("button", name="Reuse the last seed")
    expect(last).to_contain_text("Last")
    expect(page.get_by_role("button", name="Fewer images")).to_be_visible()
    expect(page.get_by_role("button", name="More images")).to_be_visible()
    # readable labels with units
    for label in ("Prompt", "Steps", "Width (px)", "Height (px)", "Images"):
        expect(page.locator("label").filter(has_text=re.compile(f"^{re.escape(label)}$"))).to_have_count(1)
    # one "how many": no batch size field, the Images control explained and sent as num_images
    expect(page.locator('[data-field="batch_size"]')).to_have_count(0)
    expect(page.locator("#num-images-hint")).to_contain_text("How many images")
    page.get_by_role("button", name="More images").click()
    expect(page.locator("#num-images")).to_have_value("2")
    page.fill("#f-steps", "2")
    with page.expect_request(lambda r: r.url.endswith("/cozygen/api/jobs") and r.method == "POST") as sent:
        page.click("#go")
    body = sent.value.post_data_json
    assert body["num_images"] == 2 and body["values"]["batch_size"] == 1, body
    progress = page.locator("#job-progress")
    expect(progress).to_have_attribute("data-status", "completed", timeout=60000)
    expect(progress.locator(".results img")).to_have_count(2)
    expect(last).to_be_enabled()
    page.reload()  # the count is remembered with the form
    expect(page.locator("#num-images")).to_have_value("2")
    page.get_by_role("button", name="Fewer images").click()

    # the details: words, and the date
    progress = page.locator("#job-progress")
    if size == "phone":
        page.get_by_role("button", name="Show the result").click()
    progress.locator(".results button").first.click()
    page.get_by_role("button", name="Details").click()
    details = page.locator("#viewer dl")
    expect(details.locator("dt", has_text="Date")).to_have_count(1)
    expect(details).to_contain_text(str(time.localtime().tm_year))
    expect(details.locator("dt", has_text="Positive prompt")).to_have_count(1)
    assert "batch_size" not in details.inner_text() and "positive\n" not in details.inner_text()
    page.get_by_role("button", name="Close").click()

    # the gallery's bin and history's reproduce say what they are
    tab(page, "Gallery")
    trash = page.get_by_role("button", name="Recently deleted")
    expect(trash).to_contain_text("Deleted")
    tab(page, "Queue")
    page.locator("nav.seg a", has_text="History").click()
    again = page.locator("li.job").first.get_by_role("button", name="Reproduce this job")
    expect(again).to_contain_text("Again")
    page.locator("li.job").first.locator("[aria-expanded]").click()
    params = page.locator("li.job").first.locator("dl.params")
    expect(params).to_contain_text("Steps")
    expect(params).to_contain_text("Width (px)")
    context.close()


@pytest.mark.parametrize("size", ["phone", "tablet"])
def test_the_result_shows_where_the_eye_is_and_the_form_keeps_its_place(server, browser, size) -> None:
    context, page = open_app(browser, server, size, path=f"/cozygen/generate/{DEMO}")
    expect(page.locator("#go")).to_be_visible()
    page.fill("#f-steps", "2")
    page.evaluate("window.scrollTo(0, 150)")
    page.wait_for_timeout(200)
    before = page.evaluate("window.scrollY")
    page.click("#go")
    progress = page.locator("#job-progress")
    expect(progress).to_have_attribute("data-status", "completed", timeout=60000)
    page.wait_for_function("document.querySelector('#job-progress .results img')?.naturalWidth === 512")
    image = progress.locator(".results img").first
    expect(image).to_be_in_viewport(ratio=0.9)  # no scrolling needed to see it
    assert page.evaluate("window.scrollY") == before  # the form did not move
    box, go = image.bounding_box(), page.locator("#go").bounding_box()
    if size == "phone":  # not under the Generate bar
        assert box["y"] + box["height"] <= go["y"], (box, go)
        # hidden again, the pill (one line) brings it back
        page.get_by_role("button", name="Hide the result").click()
        expect(progress).to_be_hidden()
        pill = page.get_by_role("button", name="Show the result")
        expect(pill).to_be_visible()
        assert pill.locator("span").first.evaluate("e => getComputedStyle(e).whiteSpace") == "nowrap"
        pill.click()
        expect(image).to_be_in_viewport(ratio=0.9)
    context.close()


def test_two_panes_side_by_side_at_820_px(server, browser) -> None:
    context, page = open_app(browser, server, "tablet", path=f"/cozygen/generate/{DEMO}")
    form, pane = page.locator("#generate"), page.locator("#result-pane")
    expect(pane).to_be_visible()
    a, b = form.bounding_box(), pane.bounding_box()
    assert a["x"] + a["width"] <= b["x"], (a, b)  # side by side
    assert b["y"] < a["y"] + a["height"] and a["y"] < b["y"] + b["height"], (a, b)  # at the same height
    assert a["width"] < 500  # no slider across the whole screen
    tab(page, "Gallery")
    made(context, server, "a wide gallery")
    grid = page.locator("#gallery-grid")
    expect(grid.locator(".tile").first).to_be_visible()
    assert grid.bounding_box()["width"] > 700  # the grid uses the width
    context.close()


def test_the_system_theme_follows_the_device(server, browser) -> None:
    for scheme in ("light", "dark"):
        context, page = open_app(browser, server, "phone", scheme=scheme, path="/cozygen/settings")
        expect(page.get_by_role("button", name="System")).to_have_attribute("aria-pressed", "true")  # the default
        assert page.evaluate("document.documentElement.dataset.theme") == scheme
        other = "dark" if scheme == "light" else "light"
        page.emulate_media(color_scheme=other)  # the device switches: the app follows
        page.wait_for_function(f"document.documentElement.dataset.theme === '{other}'")
        page.get_by_role("button", name="Dark").click()  # a choice wins over the device
        page.emulate_media(color_scheme="light")
        page.wait_for_timeout(100)
        assert page.evaluate("document.documentElement.dataset.theme") == "dark"
        page.get_by_role("button", name="System").click()
        assert page.evaluate("document.documentElement.dataset.theme") == "light"
        expect(page.locator("#about-version")).to_have_text(re.compile(r"CozyGen \d+\.\d+\.\d+ · ComfyUI \d"))
        context.close()


@pytest.mark.parametrize("scheme", ["dark", "light"])
def test_segmented_controls_pass_wcag_aa(server, browser, scheme) -> None:
    context, page = open_app(browser, server, "phone", scheme=scheme, path="/cozygen/settings")
    for button in page.locator(".seg button").all():
        ratio = button.evaluate(CONTRAST)
        assert ratio >= 4.5, (scheme, button.inner_text(), ratio)
    tab(page, "Queue")
    for link in page.locator("nav.seg a").all():
        assert link.evaluate(CONTRAST) >= 4.5, (scheme, link.inner_text())
    context.close()


def test_the_sheet_dims_everything_and_no_all_users_without_sign_in(server, browser) -> None:
    context, page = open_app(browser, server, "phone", path="/cozygen/gallery")
    page.get_by_role("button", name="Recently deleted").click()
    backdrop = page.locator(".sheet-backdrop").bounding_box()
    assert backdrop == {"x": 0, "y": 0, "width": 390, "height": 844}, backdrop
    page.keyboard.press("Escape")
    tab(page, "Queue")
    expect(page.get_by_text(re.compile(r"^ComfyUI: \d+ running"))).to_be_visible()
    assert "all users" not in page.locator("main").inner_text()
    context.close()


def test_history_rows_lead_with_the_prompt(server, browser) -> None:
    context, page = open_app(browser, server, "phone", path="/cozygen/history")
    made(context, server, "a lantern in the snow")
    page.reload()
    row = page.locator("li.job").first
    expect(row.locator(".job-prompt")).to_have_text("a lantern in the snow")
    expect(row.locator(".job-sub")).to_contain_text("CozyGen procedural demo")
    expect(row.locator(".job-sub")).not_to_contain_text("default")  # no owner's name on every row without sign-in
    context.close()


@pytest.mark.parametrize("size", ["phone", "tablet"])
@pytest.mark.parametrize("scheme", ["dark", "light"])
def test_screenshots_of_every_screen(server, browser, size, scheme) -> None:
    context, page = open_app(browser, server, size, scheme=scheme)
    made(context, server, "a cosy cabin under the stars")
    name = f"{scheme}-{size}"
    expect(page.locator(f'a[data-workflow="{DEMO}"]')).to_be_visible()
    shot(page, f"workflows-{name}")
    page.click(f'a[data-workflow="{DEMO}"]')
    expect(page.locator("#go")).to_be_visible()
    shot(page, f"generate-{name}")
    page.fill("#f-steps", "2")
    page.click("#go")
    expect(page.locator("#job-progress")).to_have_attribute("data-status", "completed", timeout=60000)
    page.wait_for_function("document.querySelector('#job-progress .results img')?.naturalWidth === 512")
    shot(page, f"result-{name}")
    page.locator("#job-progress .results button").first.click()
    page.get_by_role("button", name="Details").click()
    page.wait_for_function("document.getElementById('viewer-image')?.naturalWidth === 512")
    shot(page, f"viewer-{name}")
    page.get_by_role("button", name="Close").click()
    tab(page, "Gallery")
    expect(page.locator("#gallery-grid .tile").first).to_be_visible()
    page.wait_for_function("[...document.querySelectorAll('#gallery-grid img')].every(i => i.complete)")
    shot(page, f"gallery-{name}")
    page.get_by_role("button", name="Recently deleted").click()
    expect(page.get_by_role("dialog", name="Recently deleted")).to_be_visible()
    shot(page, f"trash-{name}")
    page.keyboard.press("Escape")
    tab(page, "Queue")
    expect(page.get_by_role("heading", name="Queue")).to_be_visible()
    shot(page, f"queue-{name}")
    page.locator("nav.seg a", has_text="History").click()
    expect(page.locator("li.job").first).to_be_visible()
    page.wait_for_function("[...document.querySelectorAll('li.job img')].every(i => i.complete)")
    shot(page, f"history-{name}")
    tab(page, "Settings")
    expect(page.locator("#about-version")).to_contain_text("ComfyUI")
    shot(page, f"settings-{name}")
    context.close()
