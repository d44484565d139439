"""The web app at /cozygen in a real headless Chromium, at a phone's size (390×844, touch).

One ComfyUI with auth on: sign in (and back to the editor), generate with the
weights-free form, watch it reach 100 %, open the image, find it in the gallery
by its prompt, delete it and undo, while a second browser sees it arrive live;
a value the server refuses shows beside its field. Every screen is
photographed into tests/screenshots/.
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import time

import phone
import pytest
from phone import LOCALE, PHONE, finished_job, shot
from playwright.sync_api import Browser, BrowserContext, Page, Route, expect

WORKFLOW = "cozygen_procedural_form.json"
ADMIN, PASSWORD = "ada", "ada-password"


@pytest.fixture(scope="module")
def server(start_comfyui):
    env = {"COZYGEN_AUTH": "on", "COZYGEN_ADMIN_USER": ADMIN, "COZYGEN_ADMIN_PASSWORD": PASSWORD}
    return start_comfyui("ComfyUI-CozyGen-browser", env=env)


def signed_in(browser: Browser, server) -> tuple[BrowserContext, Page]:
    return phone.signed_in(browser, server, ADMIN, PASSWORD, ready=f'a[data-workflow="{WORKFLOW}"]')


def generate(context: BrowserContext, server, prompt: str = "a small test image") -> dict:
    """One finished job, made through the API (for tests that need something to show)."""
    return finished_job(context, server, WORKFLOW, {"prompt": prompt, "steps": 2})


def wait_listed(context: BrowserContext, server, count: int) -> None:
    """Until the gallery lists this many images (the index follows the folder in the background)."""
    url = f"{server.url}/cozygen/api/gallery?recursive=true&per_page=1"
    for _ in range(600):
        if context.request.get(url).json()["total_items"] >= count:
            return
        time.sleep(0.1)
    raise AssertionError(f"the gallery never listed {count} images")


def tab(page: Page, label: str) -> None:
    page.locator("nav.tabs a", has_text=label).click()


def test_sign_in_then_generate_and_return_to_the_editor(server, browser) -> None:
    context = browser.new_context(**PHONE)
    page = context.new_page()
    page.goto(f"{server.url}/")  # the editor: a browser without a session is sent to sign in
    page.wait_for_selector("#auth")
    assert page.url == f"{server.url}/cozygen/?next=%2F"
    page.fill("#username", ADMIN)
    page.fill("#password", "wrong password")
    page.click("#auth-go")
    expect(page.locator("#auth-message")).to_have_text("wrong username or password")
    shot(page, "sign-in-phone")
    page.fill("#password", PASSWORD)
    page.click("#auth-go")
    page.wait_for_url(f"{server.url}/")  # back where the user wanted to go
    assert "ComfyUI test front end" in page.content()

    page.goto(f"{server.url}/cozygen")  # the cookie now opens the app, its API and its events
    page.click(f'a[data-workflow="{WORKFLOW}"]')
    page.fill("#f-steps", "3")
    page.click("#go")
    expect(page.locator("#job-progress")).to_have_attribute("data-status", "completed", timeout=30000)
    page.wait_for_function("document.querySelector('#job-progress .results img')?.naturalWidth === 512")
    tab(page, "Settings")
    expect(page.locator("#account-name")).to_have_text(ADMIN)
    page.click("#sign-out")
    page.wait_for_selector("#auth")
    assert context.request.get(f"{server.url}/cozygen/api/health").status == 401
    context.close()


def test_generate_watch_browse_delete_and_undo_on_a_phone(server, browser) -> None:
    word = "cozy" + secrets.token_hex(3)  # one word that only this image's prompt has
    prompt = f"a lighthouse at dusk {word}"
    phone, page = signed_in(browser, server)
    generate(phone, server, "another image, so the unfiltered gallery holds two")  # whatever ran before
    shot(page, "workflows-phone")

    # a second phone watches the gallery
    other, watcher = signed_in(browser, server)
    tab(watcher, "Gallery")
    expect(watcher.locator("#gallery-search")).to_be_visible()

    page.click(f'a[data-workflow="{WORKFLOW}"]')
    page.fill("#f-prompt", prompt)
    page.fill("#f-steps", "6")
    page.fill("#f-seed", "1234")
    shot(page, "generate-phone")
    before = {p.name for p in server.output_dir.rglob("*.png")}
    page.click("#go")
    progress = page.locator("#job-progress")
    expect(progress).to_have_attribute("data-status", "completed", timeout=30000)
    expect(page.locator("#job-title")).to_have_text("Done · 100 %")
    expect(progress.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "100")
    page.wait_for_function("document.querySelector('#job-progress .results img')?.naturalWidth === 512")
    new = {p.name for p in server.output_dir.rglob("*.png")} - before
    assert len(new) == 1
    filename = new.pop()
    progress.scroll_into_view_if_needed()
    shot(page, "result-phone")

    # the other phone saw it arrive, without reloading
    expect(watcher.locator(f'#gallery-grid [data-filename="{filename}"]')).to_be_visible(timeout=15000)

    # the viewer
    page.locator("#job-progress .results button").first.click()
    expect(page.locator("#viewer")).to_be_visible()
    page.wait_for_function("document.getElementById('viewer-image')?.naturalWidth === 512")
    page.get_by_role("button", name="Details").click()
    expect(page.locator("#viewer dl")).to_contain_text(word)
    shot(page, "viewer-phone")
    page.get_by_role("button", name="Close").click()
    expect(page.locator("#viewer")).to_have_count(0)

    # the gallery: search by the prompt
    tab(page, "Gallery")
    page.fill("#gallery-search", word)
    tiles = page.locator("#gallery-grid .tile")
    expect(tiles).to_have_count(1)
    expect(tiles.first).to_have_attribute("data-filename", filename)
    page.wait_for_function("[...document.querySelectorAll('#gallery-grid img')].every(i => i.complete)")
    shot(page, "gallery-search-phone")

    # delete it from the viewer, then undo
    tiles.first.click()
    page.click("#viewer-delete")
    undo = page.locator(".toast button", has_text="Undo")
    expect(undo).to_be_visible()
    expect(page.locator("#viewer")).to_have_count(0)
    expect(tiles).to_have_count(0)
    assert filename not in {p.name for p in server.output_dir.rglob("*.png")}
    expect(watcher.locator(f'#gallery-grid [data-filename="{filename}"]')).to_have_count(0, timeout=15000)
    shot(page, "gallery-deleted-phone")
    undo.click()
    expect(page.locator(".toast", has_text="Image restored")).to_be_visible()
    expect(tiles).to_have_count(1)
    assert filename in {p.name for p in server.output_dir.rglob("*.png")}
    expect(watcher.locator(f'#gallery-grid [data-filename="{filename}"]')).to_be_visible(timeout=15000)

    page.fill("#gallery-search", "")
    page.wait_for_function("document.querySelectorAll('#gallery-grid .tile').length >= 2")
    page.wait_for_function("[...document.querySelectorAll('#gallery-grid img')].every(i => i.complete)")
    shot(page, "gallery-phone")
    other.close()
    phone.close()


def test_a_value_the_server_refuses_shows_beside_its_field(server, browser) -> None:
    context, page = signed_in(browser, server)
    page.click(f'a[data-workflow="{WORKFLOW}"]')
    page.fill("#f-steps", "6")

    def out_of_range(route: Route) -> None:  # past the form's own check, as an old client would send it
        body = json.loads(route.request.post_data or "{}")
        body["values"]["steps"] = 500
        route.continue_(post_data=json.dumps(body))

    page.route("**/cozygen/api/jobs", out_of_range)
    page.click("#go")
    error = page.locator('[data-error-for="steps"]')
    expect(error).to_have_text("500 is above the maximum 50")
    expect(page.locator("#f-steps")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#f-steps")).to_be_focused()
    expect(page.locator('[data-error-for="prompt"]')).to_have_count(0)
    page.wait_for_timeout(300)
    box, button = error.bounding_box(), page.locator("#go").bounding_box()
    assert box["y"] + box["height"] <= button["y"], (box, button)  # the message is not under the sticky button
    shot(page, "field-error-phone")

    # the form's own check catches it before the server
    page.unroute("**/cozygen/api/jobs")
    page.fill("#f-steps", "0")
    page.click("#go")
    expect(error).to_have_text("0 is below the minimum 1")
    context.close()


def test_viewer_swipes_and_zooms_and_the_gallery_deletes_many(server, browser) -> None:
    context, page = signed_in(browser, server)
    api = context.request
    before = len(list(server.output_dir.rglob("*.png")))
    for n in range(3):  # enough images to swipe through and select
        reply = api.post(
            f"{server.url}/cozygen/api/jobs",
            data={"workflow": WORKFLOW, "values": {"prompt": f"swipe test {n}", "steps": 2, "seed": n}},
            headers={"Origin": server.url},
        )
        assert reply.status == 201, reply.text()
    total = before + 3
    wait_listed(context, server, total)
    tab(page, "Gallery")
    tiles = page.locator("#gallery-grid .tile")
    expect(tiles).to_have_count(total, timeout=15000)

    tiles.first.click()
    count = page.locator("#viewer .count")
    expect(count).to_have_text(f"1 / {total}")
    expect(page.get_by_role("button", name="Close")).to_be_focused()  # keyboard users land in the viewer
    box = page.locator("#viewer .stage").bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.8, y)  # swipe left: the next image
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.2, y, steps=5)
    page.mouse.up()
    expect(count).to_have_text(f"2 / {total}")
    page.keyboard.press("ArrowLeft")
    expect(count).to_have_text(f"1 / {total}")
    image = page.locator("#viewer-image")
    cdp = context.new_cdp_session(page)  # two fingers apart: pinch zoom
    cx, cy = box["x"] + box["width"] / 2, y

    def touch(kind: str, spread: float) -> None:
        points = (
            [] if kind == "touchEnd" else [{"x": cx - spread, "y": cy, "id": 0}, {"x": cx + spread, "y": cy, "id": 1}]
        )
        cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})

    touch("touchStart", 40)
    for spread in (60, 90, 120):
        touch("touchMove", spread)
    touch("touchEnd", 0)
    scale = float(re.search(r"scale\(([\d.]+)\)", image.get_attribute("style")).group(1))
    assert scale > 2.5, scale
    shot(page, "viewer-zoomed-phone")
    page.keyboard.press("ArrowRight")  # another image starts unzoomed
    page.keyboard.press("ArrowLeft")
    expect(image).to_have_attribute("style", re.compile(r"scale\(1\)"))
    image.dblclick()  # double tap: zoom in, and again: back
    expect(image).to_have_attribute("style", re.compile(r"scale\(2\.5\)"))
    image.dblclick()
    expect(image).to_have_attribute("style", re.compile(r"scale\(1\)"))
    page.keyboard.press("Escape")
    expect(page.locator("#viewer")).to_have_count(0)
    expect(tiles.first).to_be_focused()  # and are back where they were

    page.get_by_role("button", name="Select").click()
    names = [tiles.nth(i).get_attribute("data-filename") for i in (0, 1)]
    tiles.nth(0).click()
    tiles.nth(1).click()
    expect(tiles.nth(0)).to_have_attribute("aria-pressed", "true")
    shot(page, "gallery-select-phone")
    page.click("#delete-selected")
    expect(page.locator(".toast", has_text="2 images deleted")).to_be_visible()
    expect(tiles).to_have_count(total - 2)
    on_disk = {p.name for p in server.output_dir.rglob("*.png")}
    assert not set(names) & on_disk
    page.locator(".toast button", has_text="Undo").click()
    expect(tiles).to_have_count(total)
    assert set(names) <= {p.name for p in server.output_dir.rglob("*.png")}

    # deleted, then found again later among the recently deleted
    page.get_by_role("button", name="Select").click()
    tiles.nth(0).click()
    page.click("#delete-selected")
    expect(tiles).to_have_count(total - 1)
    page.get_by_role("button", name="Recently deleted").click()
    sheet = page.get_by_role("dialog", name="Recently deleted")
    expect(sheet.get_by_text(names[0])).to_be_visible()
    shot(page, "trash-phone")
    sheet.get_by_role("button", name="Restore all").click()
    expect(tiles).to_have_count(total)
    assert names[0] in {p.name for p in server.output_dir.rglob("*.png")}
    context.close()


def test_the_gallery_scrolls_on_without_layout_shift(server, browser) -> None:
    from PIL import Image

    folder = server.output_dir / "scroll"
    folder.mkdir()
    Image.new("RGB", (300, 200), (40, 90, 160)).save(folder / "copy_000.png")
    for n in range(1, 110):
        shutil.copyfile(folder / "copy_000.png", folder / f"copy_{n:03d}.png")
    context, page = signed_in(browser, server)
    page.add_init_script(
        "window.__shift = 0; new PerformanceObserver(list => { for (const e of list.getEntries())"
        " if (!e.hadRecentInput) window.__shift += e.value }).observe({type: 'layout-shift', buffered: true})"
    )
    page.goto(f"{server.url}/cozygen/gallery?subfolder=scroll")
    tiles = page.locator("#gallery-grid .tile")
    for _ in range(50):  # the index picks the copies up in the background
        page.reload()
        try:
            expect(tiles).to_have_count(48, timeout=1000)
            break
        except AssertionError:
            continue
    boxes = tiles.evaluate_all("ts => ts.map(t => t.getBoundingClientRect().height)")
    page.evaluate("window.__shift = 0")  # from here on the thumbnails arrive
    page.wait_for_function("[...document.querySelectorAll('#gallery-grid img')].slice(0, 12).every(i => i.complete)")
    assert page.evaluate("window.__shift") == 0
    assert tiles.evaluate_all("ts => ts.map(t => t.getBoundingClientRect().height)") == boxes
    for want in (96, 110):  # the end of the grid comes into view: the next page
        page.mouse.wheel(0, 100000)
        expect(tiles).to_have_count(want)

    page.get_by_role("navigation", name="Folder").get_by_role("button", name="Output").click()  # up to the top
    folders = page.locator("#gallery-grid .tile.folder")
    expect(folders.filter(has_text="scroll")).to_be_visible()
    shot(page, "gallery-folders-phone")
    folders.filter(has_text="scroll").click()
    page.wait_for_url("**/cozygen/gallery?subfolder=scroll")
    expect(tiles).to_have_count(48)
    page.get_by_role("button", name="All images").click()
    page.wait_for_url("**/cozygen/gallery")
    expect(folders).to_have_count(0)
    context.close()


def test_rerun_with_the_same_or_a_new_seed_and_send_to_img2img(server, browser) -> None:
    context, page = signed_in(browser, server)
    page.click(f'a[data-workflow="{WORKFLOW}"]')
    page.fill("#f-seed", "77")
    page.fill("#f-steps", "3")
    page.click("#go")
    progress = page.locator("#job-progress")
    expect(progress).to_have_attribute("data-status", "completed", timeout=30000)
    first = progress.get_attribute("data-job")

    progress.locator(".results button").first.click()
    page.get_by_role("button", name="Same seed").click()  # the form again, sent at once
    expect(page.locator("#viewer")).to_have_count(0)
    expect(progress).not_to_have_attribute("data-job", first)
    expect(progress).to_have_attribute("data-status", "completed", timeout=30000)
    expect(page.locator("#f-seed")).to_have_value("77")

    progress.locator(".results button").first.click()
    page.get_by_role("button", name="New seed").click()
    expect(page.locator("#f-seed")).not_to_have_value("77")
    expect(progress).to_have_attribute("data-status", "completed", timeout=30000)

    progress.locator(".results button").first.click()
    page.get_by_role("button", name="img2img").click()  # into the input folder, and the img2img form
    page.wait_for_url("**/cozygen/generate/sd15_img2img.json")
    expect(page.locator('[data-field="image"] .small.muted')).to_have_text(re.compile(r"form_\d+_\.png$"))
    context.close()


def test_prompt_tools_and_tag_autocomplete(server, browser) -> None:
    context, page = signed_in(browser, server)
    word = "zebra" + secrets.token_hex(2)
    api = context.request
    origin = {"Origin": server.url}
    job = api.post(
        f"{server.url}/cozygen/api/jobs",
        data={"workflow": WORKFLOW, "values": {"prompt": f"{word} crossing, at noon", "steps": 2}},
        headers=origin,
    )
    assert job.status == 201, job.text()
    page.click(f'a[data-workflow="{WORKFLOW}"]')
    box = page.locator("#f-prompt")
    suggestion = page.locator("#f-prompt-tags [role=option]", has_text=f"{word} crossing")
    for _ in range(20):  # the tags learn the prompt once its image is saved
        box.fill("")
        box.press_sequentially(word[:7], delay=20)
        try:
            expect(suggestion).to_be_visible(timeout=1000)
            break
        except AssertionError:
            continue
    shot(page, "tags-phone")
    suggestion.click()
    expect(box).to_have_value(f"{word} crossing, ")

    page.get_by_role("button", name="Random prompt").click()
    expect(box).not_to_have_value(f"{word} crossing, ")
    random_prompt = box.input_value()
    assert random_prompt.strip()
    page.get_by_role("button", name="Enrich").click()
    expect(box).not_to_have_value(random_prompt)
    assert random_prompt.split(",")[0] in box.input_value()  # the template keeps what the prompt said

    box.fill("a lantern")
    page.get_by_label("Insert a wildcard").select_option("place")
    expect(box).to_have_value("a lantern, __place__")  # drawn from data/wildcards/place.txt when the job runs
    context.close()


def test_image_inputs_presets_and_remembered_values(server, browser, tmp_path) -> None:
    from PIL import Image

    context, page = signed_in(browser, server)
    generate(context, server)  # something in the gallery to pick
    page.on("dialog", lambda dialog: dialog.accept("Soft" if dialog.type == "prompt" else None))
    page.click('a[data-workflow="sd15_img2img.json"]')
    photo = tmp_path / "holiday.png"
    Image.new("RGB", (64, 48), (200, 120, 40)).save(photo)
    page.set_input_files("#f-image", str(photo))  # "Photos": the phone's picker
    field = page.locator('[data-field="image"]')
    expect(field).to_contain_text("_holiday.png")
    uploaded = next(server.input_dir.glob("*_holiday.png"))
    assert uploaded.read_bytes() == photo.read_bytes()
    assert page.locator('[data-field="image"] input[capture]').get_attribute("accept") == "image/*"

    field.get_by_role("button", name="Gallery").click()  # or an image of the gallery
    sheet = page.get_by_role("dialog", name="Gallery")
    expect(sheet.locator("img").first).to_be_visible()
    shot(page, "image-picker-phone")
    sheet.locator(".pickgrid button").first.click()
    expect(field).not_to_contain_text("_holiday.png")
    expect(field.locator(".small.muted")).to_have_text(re.compile(r"\.png$"))

    sampler = page.locator('[data-field="sampler"]')  # a long list gets a search box
    sampler.get_by_role("button", name="euler").click()
    sampler.get_by_role("searchbox").fill("dpmpp 2m sde")
    options = sampler.get_by_role("option")
    assert 1 <= options.count() < 12
    options.first.click()
    expect(sampler.get_by_role("button").first).to_contain_text("dpmpp_2m_sde")

    page.fill("#f-denoise", "0.35")
    page.locator("#presets-title").scroll_into_view_if_needed()
    page.get_by_role("button", name="Save").click()  # the dialog names it "Soft"
    expect(page.locator("#preset option", has_text="Soft")).to_have_count(1)
    page.fill("#f-denoise", "0.9")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("#f-denoise")).to_have_value("0.35")
    page.get_by_role("button", name="Rename").click()  # the dialog keeps the name "Soft"
    page.fill("#f-denoise", "0.5")
    page.select_option("#preset", index=0)
    page.select_option("#preset", label="Soft")
    expect(page.locator("#f-denoise")).to_have_value("0.35")
    shot(page, "presets-phone")
    page.get_by_role("button", name="Delete").click()
    expect(page.locator("#preset option", has_text="Soft")).to_have_count(0)

    page.click("#go")  # the host has no checkpoint: ComfyUI's own check refuses it, beside the field
    expect(page.locator('[data-error-for="checkpoint"]')).to_contain_text("checkpoints")
    page.reload()  # the form remembers its values
    expect(page.locator("#f-denoise")).to_have_value("0.35")
    expect(field).to_contain_text(".png")
    context.close()


def test_the_service_worker_keeps_the_shell_and_never_the_api(server, browser) -> None:
    context, page = signed_in(browser, server)
    assert page.evaluate("navigator.serviceWorker.ready.then(r => r.scope)") == f"{server.url}/cozygen/"
    page.reload()
    page.wait_for_function("navigator.serviceWorker.controller !== null")
    with page.expect_response(lambda r: "/cozygen/api/gallery?" in r.url):  # through the worker
        tab(page, "Gallery")
    cached = page.evaluate(
        "caches.keys().then(ks => Promise.all(ks.map(k => caches.open(k).then(c => c.keys()))))"
        ".then(all => all.flat().map(r => new URL(r.url).pathname))"
    )
    assert "/cozygen/" in cached
    assert any(p.startswith("/cozygen/assets/") and p.endswith(".js") for p in cached)
    assert not [p for p in cached if "/api/" in p or p.startswith(("/view", "/cozygen/thumb"))]
    context.set_offline(True)  # the home-screen app still opens, and says the server is away
    page.goto(f"{server.url}/cozygen/settings")
    expect(page.get_by_role("button", name="Try again")).to_be_visible()
    shot(page, "offline-phone")
    context.set_offline(False)
    page.get_by_role("button", name="Try again").click()
    expect(page.locator("#account-name")).to_have_text(ADMIN)
    context.close()


def test_a_job_that_finished_while_the_phone_slept_shows_its_result(server, browser) -> None:
    context = browser.new_context(**PHONE, service_workers="block")
    page = context.new_page()
    page.route("**/cozygen/api/events*", lambda route: route.abort())  # asleep: no events reach the app
    page.goto(f"{server.url}/cozygen/generate/{WORKFLOW}")
    page.fill("#username", ADMIN)
    page.fill("#password", PASSWORD)
    page.click("#auth-go")
    page.fill("#f-steps", "4")
    page.click("#go")
    progress = page.locator("#job-progress")
    expect(progress).to_be_visible()
    page.wait_for_timeout(2000)  # the job finishes on the server meanwhile
    assert progress.get_attribute("data-status") == "pending"
    shot(page, "queued-phone")
    page.unroute("**/cozygen/api/events*")
    page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")  # the phone wakes up
    expect(progress).to_have_attribute("data-status", "completed", timeout=15000)
    page.wait_for_function("document.querySelector('#job-progress .results img')?.naturalWidth === 512")
    context.close()


def test_a_notification_when_a_job_finishes_in_the_background(server, browser) -> None:
    context, page = signed_in(browser, server)
    context.grant_permissions(["notifications"], origin=server.url)
    page.wait_for_function("navigator.serviceWorker.ready.then(() => true)")
    tab(page, "Settings")
    page.locator("#notify").check()
    expect(page.locator("#notify")).to_be_checked()
    page.evaluate(
        "Object.defineProperty(document, 'visibilityState', {get: () => 'hidden'})"
    )  # the app is in the background
    reply = context.request.post(
        f"{server.url}/cozygen/api/jobs",
        data={"workflow": WORKFLOW, "values": {"prompt": "a quiet harbour", "steps": 2}},
        headers={"Origin": server.url},
    )
    assert reply.status == 201
    page.wait_for_function(
        "navigator.serviceWorker.ready.then(r => r.getNotifications())"
        ".then(ns => ns.some(n => n.title === 'Done: 1 image'))"
    )
    context.close()


def test_first_run_setup(start_comfyui, browser) -> None:
    fresh = start_comfyui("ComfyUI-CozyGen-browser-setup", env={"COZYGEN_AUTH": "on"})
    context = browser.new_context(**PHONE)
    page = context.new_page()
    page.goto(f"{fresh.url}/cozygen/")
    expect(page.locator("#auth-title")).to_have_text("Create the first admin")
    page.fill("#username", "owner")
    page.fill("#password", "owner-password")
    shot(page, "setup-phone")
    page.click("#auth-go")
    expect(page.locator(f'a[data-workflow="{WORKFLOW}"]')).to_be_visible()
    tab(page, "Settings")
    expect(page.locator("#account-name")).to_have_text("owner")
    page.get_by_role("button", name="Change password").click()
    page.fill("#pw-current", "owner-password")
    page.fill("#pw-new", "a-new-owner-password")
    page.get_by_role("button", name="Change", exact=True).click()
    expect(page.locator(".toast", has_text="Password changed")).to_be_visible()
    page.fill("#new-user", "vera")
    page.select_option("#new-role", "viewer")
    page.fill("#new-password", "vera-password")
    page.get_by_role("button", name="Add user").click()
    expect(page.locator("section", has_text="Users").get_by_text("vera")).to_be_visible()
    page.locator("#new-user").scroll_into_view_if_needed()
    shot(page, "settings-admin-phone")
    context.close()


def test_tablet_and_desktop_layouts(server, browser) -> None:
    for name, size in (("tablet", {"width": 820, "height": 1180}), ("desktop", {"width": 1280, "height": 800})):
        context = browser.new_context(viewport=size, **LOCALE)
        page = context.new_page()
        page.goto(f"{server.url}/cozygen/gallery")
        page.fill("#username", ADMIN)
        page.fill("#password", PASSWORD)
        page.click("#auth-go")
        expect(page.locator("nav.tabs")).to_be_visible()
        generate(context, server)
        expect(page.locator("#gallery-grid .tile").first).to_be_visible()
        page.wait_for_function(  # the wide grid may load a second page, whose far (lazy) images wait for a scroll
            "[...document.querySelectorAll('#gallery-grid img')]"
            ".every(i => i.complete || i.getBoundingClientRect().top > innerHeight)"
        )
        tabs = page.locator("nav.tabs").bounding_box()
        if name == "desktop":  # a rail on the left
            assert tabs["x"] == 0 and tabs["height"] == size["height"]
        else:  # a bar at the bottom
            assert tabs["y"] + tabs["height"] == size["height"]
        shot(page, f"gallery-{name}")
        context.close()


def test_jobs_grouped_in_a_session(server, browser) -> None:
    context, page = signed_in(browser, server)
    page.on("dialog", lambda dialog: dialog.accept("Portraits"))
    outside = context.request.post(  # a job in no session
        f"{server.url}/cozygen/api/jobs",
        data={"workflow": WORKFLOW, "values": {"steps": 2}},
        headers={"Origin": server.url},
    )
    assert outside.status == 201
    page.click(f'a[data-workflow="{WORKFLOW}"]')
    page.select_option("#session", "+")  # "New session…", named in the dialog
    expect(page.locator("#session option:checked")).to_have_text("Portraits (0)")
    page.fill("#f-steps", "2")
    page.click("#go")
    expect(page.locator("#job-progress")).to_have_attribute("data-status", "completed", timeout=30000)
    page.reload()  # the form keeps the session
    expect(page.locator("#session option:checked")).to_have_text("Portraits (1)")
    tab(page, "Queue")
    page.locator("nav.seg a", has_text="History").click()
    rows = page.locator("li.job")
    expect(rows.first).to_be_visible()
    assert rows.count() > 1
    page.select_option("#history-session", label="Portraits (1)")
    expect(rows).to_have_count(1)
    assert "session_id=" in page.get_by_role("link", name="CSV").get_attribute("href")
    context.close()


def test_the_other_screens_at_phone_size(server, browser) -> None:
    context, page = signed_in(browser, server)
    generate(context, server)
    tab(page, "Queue")
    expect(page.get_by_role("heading", name="Queue")).to_be_visible()
    shot(page, "queue-phone")
    page.locator("nav.seg a", has_text="History").click()
    rows = page.locator("li.job")
    expect(rows.first).to_be_visible()
    count = rows.count()
    rows.first.locator("[aria-expanded]").click()  # the parameters that made it
    expect(rows.first.locator("dl.params")).to_contain_text("Prompt")
    shot(page, "history-phone")
    rows.first.get_by_role("button", name="Reproduce this job").click()
    expect(page.locator(".toast", has_text="Queued again")).to_be_visible()
    expect(rows).to_have_count(count + 1)
    assert page.get_by_role("link", name="CSV").get_attribute("href") == "/cozygen/api/jobs/export?format=csv"
    tab(page, "Settings")
    expect(page.locator("#account-name")).to_have_text(ADMIN)
    shot(page, "settings-phone")
    page.get_by_role("button", name="Light").click()
    assert page.evaluate("document.documentElement.dataset.theme") == "light"
    tab(page, "Generate")
    page.click('a[data-workflow="sd15_img2img.json"]')
    expect(page.locator(".warn")).to_contain_text("v1-5-pruned-emaonly")
    expect(page.get_by_role("button", name="Gallery")).to_be_visible()
    shot(page, "img2img-light-phone")
    page.reload()  # a client-side route reloads into the same screen, theme kept
    expect(page.locator(".warn")).to_be_visible()
    assert page.evaluate("document.documentElement.dataset.theme") == "light"
    context.close()


def test_the_app_opens_without_a_session(server, browser) -> None:
    """Auth on: the shell, its files and every client-side route load before signing in (the API does not)."""
    context = browser.new_context(**PHONE)
    page = context.new_page()
    page.goto(f"{server.url}/cozygen/gallery")
    page.wait_for_selector("#auth")
    page.wait_for_function("document.querySelector('#auth img.logo').naturalWidth > 0")
    for path in ("/cozygen/sw.js", "/cozygen/manifest.webmanifest", "/cozygen/icon-192.png", "/cozygen/history"):
        assert context.request.get(f"{server.url}{path}").status == 200, path
    assert context.request.get(f"{server.url}/cozygen/api/gallery").status == 401
    context.close()


def test_a_session_that_ends_elsewhere_returns_to_sign_in(server, browser) -> None:
    context, page = signed_in(browser, server)
    token = next(c["value"] for c in context.cookies() if c["name"] == "cozygen_token")
    reply = context.request.post(  # signed out from another place (this token revoked)
        f"{server.url}/cozygen/api/logout", headers={"Authorization": f"Bearer {token}", "Origin": server.url}
    )
    assert reply.status == 200
    # to the gallery (as its tab does): its next call is refused, and the app asks to sign in again
    page.evaluate("history.pushState(null, '', '/cozygen/gallery'); dispatchEvent(new PopStateEvent('popstate'))")
    expect(page.locator("#auth")).to_be_visible()
    page.fill("#username", ADMIN)
    page.fill("#password", PASSWORD)
    page.click("#auth-go")
    expect(page.locator("nav.tabs")).to_be_visible()
    context.close()


def test_touch_targets_are_at_least_44_px(server, browser) -> None:
    context, page = signed_in(browser, server)
    page.click(f'a[data-workflow="{WORKFLOW}"]')
    expect(page.locator("#go")).to_be_visible()
    small = page.evaluate(
        """() => [...document.querySelectorAll('button, a, input, select, textarea')]
            .filter(e => e.offsetParent !== null && !e.classList.contains('sr-only') && e.type !== 'file')
            .filter(e => e.getAttribute('role') !== 'switch' || e.closest('.toggle').offsetHeight < 44)
            .map(e => [e.outerHTML.slice(0, 80), e.getBoundingClientRect()])
            .filter(([, r]) => r.width > 0 && (r.height < 44 || r.width < 44))
            .filter(([html]) => !html.startsWith('<input type="range"'))
            .map(([html, r]) => `${html} ${Math.round(r.width)}x${Math.round(r.height)}`)"""
    )
    assert small == []
    context.close()


def test_a_video_result_plays_under_the_form(server, browser) -> None:
    """A CozyGen Video Output job's result is a video that plays in place (an <img> of a .webm shows nothing),
    and tapping it opens the viewer's player."""
    frames = {f"e{n}": {"class_type": "EmptyImage", "inputs": {"width": 96, "height": 64, "batch_size": 1,
                                                             "color": ["1", 0] if n == 0 else 0x304050 * n}}
              for n in range(3)}  # fmt: skip
    graph = {
        "1": {"class_type": "CozyGenInt", "inputs": {"param_name": "color", "value": 0x102030, "min": 0,
                                                     "max": 16777215}},
        "b1": {"class_type": "ImageBatch", "inputs": {"image1": ["e0", 0], "image2": ["e1", 0]}},
        "b2": {"class_type": "ImageBatch", "inputs": {"image1": ["b1", 0], "image2": ["e2", 0]}},
        "3": {"class_type": "CozyGenVideoOutput", "inputs": {"images": ["b2", 0], "frame_rate": 4, "loop_count": 0,
              "filename_prefix": "CozyGen/phone-clip", "format": "video/webm", "pingpong": False}},
        **frames,
    }  # fmt: skip
    name = f"phone_video_{secrets.token_hex(3)}.json"
    (server.user_dir / "cozygen" / "workflows" / name).write_text(json.dumps(graph))
    context, page = signed_in(browser, server)
    page.goto(f"{server.url}/cozygen/generate/{name}")
    expect(page.locator("#f-color")).to_be_visible(timeout=15000)
    page.click("#go")
    progress = page.locator("#job-progress")
    expect(progress).to_have_attribute("data-status", "completed", timeout=60000)
    video = progress.locator(".results video")
    expect(video).to_have_attribute("src", re.compile(r"phone-clip_\d+_\.webm"))
    page.wait_for_function("document.querySelector('#job-progress .results video')?.videoWidth === 96")
    expect(progress.locator(".results img")).to_have_count(0)
    expect(page.locator("#job-detail")).to_have_text("1 video")
    progress.scroll_into_view_if_needed()
    shot(page, "result-video-phone")
    video.click()
    expect(page.locator("#viewer-video")).to_be_visible()
    context.close()
