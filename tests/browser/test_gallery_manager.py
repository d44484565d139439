"""The gallery as an output manager (issue 18) in headless Chromium at a phone's size (390×844, touch): marking in
the viewer by tap and by swipe (and the grid following), rejected images hidden by default, the sort and filter
sheet, range selection (tap, then long-press the last), bulk move into a new folder (with "keep both" for a taken
name), bulk download as a zip the browser saves, compare with its slider, folders from the header's menu, the
input folder as a tab and "use as input". Screenshots: tests/screenshots/manager-*.png."""

from __future__ import annotations

import importlib.util
import os
import re
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import phone
import pytest
from phone import finished_job, shot
from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect

WORKFLOW = "cozygen_procedural_form.json"
ADMIN, PASSWORD = "ada", "ada-password"
COLOURS = [(200, 60, 60), (60, 160, 80), (60, 90, 200), (220, 180, 40), (150, 70, 180), (40, 170, 170), (230, 120, 40)]


@pytest.fixture(scope="module")
def server(start_comfyui):
    env = {"COZYGEN_AUTH": "on", "COZYGEN_ADMIN_USER": ADMIN, "COZYGEN_ADMIN_PASSWORD": PASSWORD}
    return start_comfyui("ComfyUI-CozyGen-manager-browser", env=env)


def signed_in(browser: Browser, server) -> tuple[BrowserContext, Page]:
    return phone.signed_in(browser, server, ADMIN, PASSWORD)


def listed(context: BrowserContext, server, query: str, count: int) -> list[dict[str, Any]]:
    """The files a listing holds, once it holds ``count`` (the index follows the folders in the background)."""
    items: list[dict[str, Any]] = []
    for _ in range(300):
        reply = context.request.get(f"{server.url}/cozygen/api/gallery?{query}&per_page=200")
        if reply.ok:
            items = [i for i in reply.json()["items"] if i["type"] != "directory"]
            if len(items) == count:
                return items
        time.sleep(0.1)
    raise AssertionError(f"the listing {query} never held {count} files: {items}")


def images(server, folder: str, names: list[str], root: str = "output") -> None:
    """Small PNGs of different colours, each a minute newer than the one before (the grid shows newest first)."""
    from PIL import Image

    base = (server.output_dir if root == "output" else server.input_dir) / folder
    base.mkdir(parents=True, exist_ok=True)
    start = time.time() - 3600
    for n, name in enumerate(names):
        path = base / name
        Image.new("RGB", (96, 64), COLOURS[n % len(COLOURS)]).save(path)
        os.utime(path, (start + 60 * n, start + 60 * n))


def api(context: BrowserContext, server, method: str, path: str, body: Any = None) -> Any:
    reply = context.request.fetch(f"{server.url}{path}", method=method, data=body, headers={"Origin": server.url})
    assert reply.ok, (method, path, reply.status, reply.text())
    return reply.json()


def tiles(page: Page) -> Locator:
    return page.locator("#gallery-grid button.tile:not(.folder)")


def loaded(page: Page) -> None:
    page.wait_for_function("[...document.querySelectorAll('#gallery-grid img')].every(i => i.complete)")


def long_press(page: Page, target: Locator) -> None:
    """A finger held on the tile (touch events through CDP, as a phone sends them), once it is in the middle of the
    screen (clear of the bars)."""
    target.evaluate("e => e.scrollIntoView({block: 'center'})")
    box = target.bounding_box()
    assert box
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    cdp = page.context.new_cdp_session(page)
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": x, "y": y}]})
    page.wait_for_timeout(700)
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    cdp.detach()


def swipe(page: Page, dx: float, dy: float) -> None:
    box = page.locator("#viewer .stage").bounding_box()
    assert box
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + dx, y + dy, steps=6)
    page.mouse.up()


def marks_of(context: BrowserContext, server, folder: str, name: str) -> dict[str, Any]:
    items = context.request.get(f"{server.url}/cozygen/api/gallery?subfolder={folder}&per_page=200").json()["items"]
    return next(i["marks"] for i in items if i.get("filename") == name)


def i18n_check() -> Any:
    """test_i18n.py's check that nothing English (nor a catalogue key) shows, loaded from its file."""
    spec = importlib.util.spec_from_file_location("cozygen_i18n_check", Path(__file__).with_name("test_i18n.py"))
    assert spec and spec.loader
    module = sys.modules.get(spec.name) or importlib.util.module_from_spec(spec)
    if spec.name not in sys.modules:
        sys.modules[spec.name] = module  # its dataclasses look their module up
        spec.loader.exec_module(module)
    return module.check_translated


def test_marking_in_the_viewer_by_tap_and_swipe(server, browser) -> None:
    images(server, "swipe", ["s_0.png", "s_1.png", "s_2.png"])
    context, page = signed_in(browser, server)
    listed(context, server, "subfolder=swipe", 3)
    page.goto(f"{server.url}/cozygen/gallery?subfolder=swipe")
    expect(tiles(page)).to_have_count(3)
    expect(page.locator("#gallery-grid h3.day")).to_have_count(1)  # all made today: one day header
    tiles(page).first.click()  # the newest: s_2
    expect(page.locator("#viewer .count")).to_have_text("1 / 3")
    expect(page.locator("#viewer-gestures")).to_contain_text("Swipe up")

    page.click("#viewer-favourite")  # by tap
    expect(page.locator("#viewer-favourite")).to_have_attribute("aria-pressed", "true")
    page.locator("#viewer-rating button").nth(2).click()  # three stars
    expect(page.locator("#viewer-rating button").nth(2)).to_have_attribute("aria-pressed", "true")
    shot(page, "manager-viewer-marks")
    assert marks_of(context, server, "swipe", "s_2.png") == {"favourite": True, "rejected": False, "rating": 3}

    swipe(page, 0, 160)  # down: reject (which clears favourite)
    expect(page.locator("#viewer-reject")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#viewer-favourite")).to_have_attribute("aria-pressed", "false")
    expect(page.locator("#viewer .mark-flash")).to_contain_text("Rejected")  # immediate feedback
    shot(page, "manager-viewer-swipe-reject")
    expect(page.locator("#viewer .count")).to_have_text("1 / 3")  # a vertical swipe does not change image
    page.wait_for_function(
        "() => fetch('/cozygen/api/gallery?subfolder=swipe').then(r => r.json())"
        ".then(d => d.items.some(i => i.filename === 's_2.png' && i.marks.rejected))"
    )

    swipe(page, -200, 0)  # sideways: the next image
    expect(page.locator("#viewer .count")).to_have_text("2 / 3")
    swipe(page, 0, -160)  # up: favourite
    expect(page.locator("#viewer-favourite")).to_have_attribute("aria-pressed", "true")
    for _ in range(50):
        if marks_of(context, server, "swipe", "s_1.png")["favourite"]:
            break
        time.sleep(0.1)
    assert marks_of(context, server, "swipe", "s_1.png") == {"favourite": True, "rejected": False, "rating": 0}

    page.keyboard.press("Escape")
    expect(page.locator("#viewer")).to_have_count(0)
    # the grid followed: the rejected one is hidden (the default), the favourite wears its star
    expect(tiles(page)).to_have_count(2)
    expect(page.locator('#gallery-grid [data-filename="s_1.png"] .mark.fav')).to_be_visible()
    expect(page.locator("#chip-rejected")).to_have_text(re.compile(r"✕ 1 hidden"))
    page.click("#chip-rejected")  # show them: dimmed, with their ✕ and rating dots
    expect(tiles(page)).to_have_count(3)
    rejected = page.locator('#gallery-grid [data-filename="s_2.png"]')
    expect(rejected).to_have_class(re.compile(r"\brejected\b"))
    expect(rejected.locator(".dots")).to_have_attribute("data-rating", "3")
    loaded(page)
    shot(page, "manager-grid-marks")
    page.click("#chip-rejected")  # and hide them again
    expect(tiles(page)).to_have_count(2)
    context.close()


def test_range_selection_and_bulk_move_into_a_new_folder(server, browser) -> None:
    names = [f"r_{n}.png" for n in range(6)]
    images(server, "range", names)
    images(server, "Keepers", ["r_4.png"])  # a name the move will find taken
    context, page = signed_in(browser, server)
    before = {i["filename"]: i["id"] for i in listed(context, server, "subfolder=range", 6)}
    page.goto(f"{server.url}/cozygen/gallery?subfolder=range")
    grid = tiles(page)
    expect(grid).to_have_count(6)
    order = [grid.nth(i).get_attribute("data-filename") for i in range(6)]
    assert order == list(reversed(names))  # newest first

    long_press(page, grid.nth(1))  # a long press starts selecting with that tile
    expect(grid.nth(1)).to_have_attribute("aria-pressed", "true")
    expect(page.locator("header.top h1")).to_have_text("1 selected")
    long_press(page, grid.nth(4))  # then a long press on the last: everything between
    for i in range(6):
        expect(grid.nth(i)).to_have_attribute("aria-pressed", "true" if 1 <= i <= 4 else "false")
    expect(page.locator("header.top h1")).to_have_text("4 selected")
    grid.nth(2).click()  # a tap toggles one
    expect(grid.nth(2)).to_have_attribute("aria-pressed", "false")
    grid.nth(2).click()
    loaded(page)
    shot(page, "manager-range-selected")
    chosen = order[1:5]

    page.click("#bulk-move")
    sheet = page.locator("#move-sheet")
    expect(sheet).to_be_visible()
    expect(sheet.locator('[data-move-folder="Keepers"]')).to_be_visible()
    sheet.locator("#move-new-folder").click()
    sheet.locator("#move-new-name").fill("Best of")
    shot(page, "manager-move-sheet")
    sheet.get_by_role("button", name="Create").click()
    expect(sheet.locator("#move-here")).to_have_text(re.compile("Move to “Best of”"))
    sheet.locator("#move-here").click()
    expect(page.locator(".toast", has_text="4 images moved to “Best of”")).to_be_visible()
    expect(grid).to_have_count(2)  # they left this folder
    assert sorted(p.name for p in (server.output_dir / "Best of").iterdir()) == sorted(chosen)
    moved = {i["filename"]: i["id"] for i in listed(context, server, "subfolder=Best%20of", 4)}
    assert moved == {name: before[name] for name in chosen}  # the same ids: marks and links follow

    # a taken name: "keep both" moves it under a free name
    page.goto(f"{server.url}/cozygen/gallery?subfolder=Best%20of")
    expect(grid).to_have_count(4)
    target = page.locator('#gallery-grid [data-filename="r_4.png"]')
    long_press(page, target)
    page.click("#bulk-move")
    page.locator('#move-sheet [data-move-folder="Keepers"]').click()
    page.locator("#move-here").click()
    taken = page.get_by_role("dialog", name="Names already taken")
    expect(taken).to_be_visible()
    shot(page, "manager-move-name-taken")
    taken.get_by_role("button", name="Keep both").click()
    expect(page.locator(".toast", has_text="1 image moved to “Keepers”")).to_be_visible()
    assert sorted(p.name for p in (server.output_dir / "Keepers").iterdir()) == ["r_4 (2).png", "r_4.png"]
    context.close()


def test_bulk_download_is_a_zip_the_browser_saves(server, browser, tmp_path: Path) -> None:
    names = ["z_0.png", "z_1.png", "z_2.png"]
    images(server, "zipped", names)
    context, page = signed_in(browser, server)
    listed(context, server, "subfolder=zipped", 3)
    page.goto(f"{server.url}/cozygen/gallery?subfolder=zipped")
    expect(tiles(page)).to_have_count(3)
    page.get_by_role("button", name="Select", exact=True).click()
    for i in range(3):
        tiles(page).nth(i).click()
    expect(page.locator("header.top h1")).to_have_text("3 selected")
    shot(page, "manager-zip-selected")
    with page.expect_download() as info:
        page.click("#bulk-zip")
    download = info.value
    assert download.suggested_filename.endswith(".zip"), download.suggested_filename
    saved = tmp_path / "saved.zip"
    download.save_as(saved)
    with zipfile.ZipFile(saved) as archive:
        assert archive.testzip() is None
        assert sorted(archive.namelist()) == [f"zipped/{name}" for name in names]  # under their folder
        for name in names:
            assert archive.read(f"zipped/{name}") == (server.output_dir / "zipped" / name).read_bytes()
    expect(page.locator(".toast", has_text="Downloading 3 files as a zip")).to_be_visible()
    context.close()


def test_compare_two_images_with_a_slider(server, browser) -> None:
    context, page = signed_in(browser, server)
    a = finished_job(context, server, WORKFLOW, {"prompt": "a red fox in the snow", "steps": 2, "seed": 11})
    b = finished_job(context, server, WORKFLOW, {"prompt": "a red fox in deep snow", "steps": 3, "seed": 12})
    folder = a["images"][0]["subfolder"]
    wanted = {a["images"][0]["filename"], b["images"][0]["filename"]}
    items = listed(context, server, f"subfolder={folder}", len(list((server.output_dir / folder).glob("*.png"))))
    assert wanted <= {i["filename"] for i in items}
    page.goto(f"{server.url}/cozygen/gallery?subfolder={folder}")
    for name in wanted:
        target = page.locator(f'#gallery-grid [data-filename="{name}"]')
        if page.locator("header.top h1").inner_text() == "Gallery":
            long_press(page, target)
        else:
            target.click()
    expect(page.locator("header.top h1")).to_have_text("2 selected")
    page.click("#bulk-compare")
    screen = page.locator("#compare")
    expect(screen).to_be_visible()
    differences = page.locator("#compare-differences")
    expect(differences.locator("li").first).to_be_visible()
    changed = differences.inner_text().lower()
    assert "seed" in changed and "steps" in changed, changed
    expect(differences.locator("mark").first).to_be_visible()  # the changed words of the prompt
    page.wait_for_function("[...document.querySelectorAll('#compare img')].every(i => i.complete && i.naturalWidth)")
    shot(page, "manager-compare-side")

    screen.get_by_role("button", name="Slider").click()
    slider = page.locator("#compare-slider")
    expect(slider).to_be_visible()
    top = slider.locator("img.cmp-top")
    expect(top).to_have_attribute("style", re.compile(r"inset\(0(px)? 0(px)? 0(px)? 50%\)"))
    box = slider.bounding_box()
    assert box and box["width"] >= 300  # the phone's width, not a thumbnail
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] / 2, y)  # drag the divider to a fifth of the way
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.2, y, steps=8)
    page.mouse.up()
    style = top.get_attribute("style") or ""
    position = float(re.search(r"inset\([^)]*?([\d.]+)%\)", style).group(1))
    assert 15 <= position <= 25, style
    page.wait_for_function("[...document.querySelectorAll('#compare img')].every(i => i.complete && i.naturalWidth)")
    shot(page, "manager-compare-slider")
    page.keyboard.press("Escape")  # back to the grid, the selection as it was
    expect(screen).to_have_count(0)
    expect(page.locator("header.top h1")).to_have_text("2 selected")
    context.close()


def test_hide_rejected_filters_and_sort(server, browser) -> None:
    names = ["f_0.png", "f_1.png", "f_2.png", "f_3.png", "f_4.png"]
    images(server, "sorting", names)
    context, page = signed_in(browser, server)
    ids = {i["filename"]: i["id"] for i in listed(context, server, "subfolder=sorting", 5)}
    api(context, server, "PUT", f"/cozygen/api/images/{ids['f_0.png']}/marks", {"rejected": True})
    api(context, server, "PUT", f"/cozygen/api/images/{ids['f_1.png']}/marks", {"favourite": True, "rating": 5})
    api(context, server, "PUT", f"/cozygen/api/images/{ids['f_3.png']}/marks", {"favourite": True, "rating": 2})
    page.goto(f"{server.url}/cozygen/gallery?subfolder=sorting")
    grid = tiles(page)
    expect(grid).to_have_count(4)  # f_0 is rejected: hidden by default
    expect(page.locator('#gallery-grid [data-filename="f_0.png"]')).to_have_count(0)
    expect(page.locator("#chip-favourite")).to_have_text("★ 2")
    expect(page.locator("#chip-rejected")).to_have_text("✕ 1 hidden")
    expect(page.locator("#chip-rated")).to_have_text("rated 2")
    loaded(page)
    shot(page, "manager-grid-counts")

    page.click("#filter-button")  # sort by name, A to Z
    sheet = page.locator("#filter-sheet")
    expect(sheet).to_be_visible()
    sheet.locator("#f-sort").select_option("name")
    expect(sheet.locator("#f-order button[aria-pressed=true]")).to_have_text("A to Z")
    shot(page, "manager-filter-sheet")
    sheet.locator("#f-apply").click()
    expect(sheet).to_have_count(0)
    expect(page.locator("#sort-chip")).to_have_text("A to Z")
    expect(page.locator("#sort-chip")).to_have_attribute("aria-label", "Sorted by Name · A to Z")
    expect(page.locator("#gallery-grid h3.day")).to_have_count(0)  # days only for a sort by date
    page.wait_for_function(
        "() => [...document.querySelectorAll('#gallery-grid button.tile:not(.folder)')].map(t => t.dataset.filename)"
        ".join() === 'f_1.png,f_2.png,f_3.png,f_4.png'"
    )

    page.click("#filter-button")  # by rating, best first, favourites only
    sheet.locator("#f-sort").select_option("rating")
    sheet.locator("#f-favourite").check()
    sheet.locator("#f-apply").click()
    page.wait_for_function(
        "() => [...document.querySelectorAll('#gallery-grid button.tile:not(.folder)')].map(t => t.dataset.filename)"
        ".join() === 'f_1.png,f_3.png'"
    )
    expect(page.locator("#filter-button .badge")).to_have_text("1")
    shot(page, "manager-filtered")

    page.click("#filter-button")  # rejected only
    sheet.locator("#f-reset").click()
    sheet.locator("#f-rejected").get_by_role("button", name="Only").click()
    sheet.locator("#f-apply").click()
    page.wait_for_function(
        "() => [...document.querySelectorAll('#gallery-grid button.tile:not(.folder)')].map(t => t.dataset.filename)"
        ".join() === 'f_0.png'"
    )
    # everything rejected here to the trash, then undone
    page.click("#gallery-menu-button")
    page.click("#menu-delete-rejected")
    confirm = page.get_by_role("dialog", name="Delete rejected images?")
    expect(confirm).to_be_visible()
    shot(page, "manager-delete-rejected")
    confirm.get_by_role("button", name="Delete").click()
    expect(page.locator(".toast", has_text="1 image deleted")).to_be_visible()
    assert not (server.output_dir / "sorting" / "f_0.png").exists()
    expect(grid).to_have_count(0)
    page.locator(".toast button", has_text="Undo").click()
    expect(grid).to_have_count(1)
    assert (server.output_dir / "sorting" / "f_0.png").exists()
    page.click("#filter-button")
    sheet.locator("#f-reset").click()
    sheet.locator("#f-apply").click()
    context.close()


def test_select_all_matching_then_mark_and_delete_with_undo(server, browser) -> None:
    names = [f"a_{n}.png" for n in range(4)]
    images(server, "everything", names)
    context, page = signed_in(browser, server)
    listed(context, server, "subfolder=everything", 4)
    page.goto(f"{server.url}/cozygen/gallery?subfolder=everything")
    grid = tiles(page)
    expect(grid).to_have_count(4)
    page.get_by_role("button", name="Select", exact=True).click()
    page.click("#select-all")
    expect(page.locator("header.top h1")).to_have_text("All 4 matching")
    shot(page, "manager-all-matching")
    page.click("#bulk-favourite")
    expect(page.locator(".toast", has_text="4 images marked as favourite")).to_be_visible()
    expect(page.locator("#gallery-grid .mark.fav")).to_have_count(4)
    assert all(marks_of(context, server, "everything", n)["favourite"] for n in names)

    long_press(page, grid.nth(0))
    grid.nth(1).click()
    page.click("#delete-selected")
    expect(page.locator(".toast", has_text="2 images deleted")).to_be_visible()
    expect(grid).to_have_count(2)
    page.locator(".toast button", has_text="Undo").click()
    expect(grid).to_have_count(4)
    assert sorted(p.name for p in (server.output_dir / "everything").iterdir()) == names
    context.close()


def test_folders_from_the_menus(server, browser) -> None:
    images(server, "tidy", ["t_0.png"])
    context, page = signed_in(browser, server)
    listed(context, server, "subfolder=tidy", 1)
    page.goto(f"{server.url}/cozygen/gallery?subfolder=tidy")
    expect(tiles(page)).to_have_count(1)
    page.click("#gallery-menu-button")
    expect(page.locator("#gallery-menu")).to_be_visible()
    shot(page, "manager-folder-menu")
    page.click("#menu-new-folder")
    page.fill("#name-sheet-input", "Drafts")
    page.get_by_role("button", name="Create").click()
    expect(page.locator(".toast", has_text="Folder “Drafts” created")).to_be_visible()
    folder_tile = page.locator('button.tile.folder[data-folder="tidy/Drafts"]')
    expect(folder_tile).to_be_visible()
    assert (server.output_dir / "tidy" / "Drafts").is_dir()

    page.get_by_role("button", name="Actions for folder Drafts").click()  # the tile's menu: rename
    page.click("#menu-rename-folder")
    page.fill("#name-sheet-input", "bad/name")
    page.get_by_role("button", name="Rename").click()
    expect(page.locator("[role=dialog] .error")).not_to_be_empty()  # the server's reason, shown in the sheet
    shot(page, "manager-rename-refused")
    page.fill("#name-sheet-input", "Final")
    page.get_by_role("button", name="Rename").click()
    expect(page.locator('button.tile.folder[data-folder="tidy/Final"]')).to_be_visible()
    assert (server.output_dir / "tidy" / "Final").is_dir()

    page.get_by_role("button", name="Actions for folder Final").click()  # delete: it is empty
    page.click("#menu-delete-folder")
    page.get_by_role("dialog", name="Delete “Final”?").get_by_role("button", name="Delete").click()
    expect(page.locator('button.tile.folder[data-folder="tidy/Final"]')).to_have_count(0)
    assert not (server.output_dir / "tidy" / "Final").exists()

    # the folder shown, with a file in it: asked again, then to the trash with an undo
    page.click("#gallery-menu-button")
    page.click("#menu-delete-folder")
    page.get_by_role("dialog", name="Delete “tidy”?").get_by_role("button", name="Delete").click()
    again = page.get_by_role("dialog", name="Delete “tidy”?")
    expect(again).to_contain_text("holds files")
    again.get_by_role("button", name="Delete with its files").click()
    expect(page.locator(".toast", has_text="1 image deleted")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/cozygen/gallery$"))  # back to the top: the folder is gone
    assert not (server.output_dir / "tidy").exists()
    context.close()


def test_the_input_folder_tab_and_use_as_input(server, browser) -> None:
    images(server, "", ["in_photo.png"], root="input")
    images(server, "useme", ["u_0.png"])
    context, page = signed_in(browser, server)
    listed(context, server, "subfolder=useme", 1)
    page.goto(f"{server.url}/cozygen/gallery?subfolder=useme")
    tiles(page).first.click()
    page.click("#viewer-to-input")
    note = page.locator(".toast", has_text="Copied to the input folder")
    expect(note).to_be_visible()
    note.get_by_role("button", name="Show").click()
    expect(page.locator("#viewer")).to_have_count(0)
    expect(page.locator("#tab-input")).to_have_attribute("aria-selected", "true")
    expect(page).to_have_url(re.compile(r"type=input"))
    grid = tiles(page)
    expect(page.locator('#gallery-grid [data-filename="in_photo.png"]')).to_be_visible()
    expect(page.locator('#gallery-grid [data-filename*="u_0"]')).to_be_visible()  # the copy, under its name
    loaded(page)
    shot(page, "manager-input-tab")

    def searched(request: Any) -> bool:
        url = request.url
        return "/cozygen/api/gallery?" in url and "type=input" in url and "search=lantern" in url

    with page.expect_request(searched):
        page.fill("#gallery-search", "lantern")  # the same search (prompts and models), in the input folder
    expect(grid).to_have_count(0)
    expect(page.locator(".empty")).to_contain_text("lantern")
    page.fill("#gallery-search", "")
    expect(grid).to_have_count(2)
    page.locator("#tab-output").click()
    expect(page.locator("#tab-output")).to_have_attribute("aria-selected", "true")
    context.close()


def test_every_touch_target_is_big_enough(server, browser) -> None:
    images(server, "targets", ["g_0.png", "g_1.png"])
    context, page = signed_in(browser, server)
    listed(context, server, "subfolder=targets", 2)
    page.goto(f"{server.url}/cozygen/gallery?subfolder=targets")
    expect(tiles(page)).to_have_count(2)
    long_press(page, tiles(page).first)
    small = page.evaluate(
        """() => [...document.querySelectorAll('main button, .selbar-bottom button, header.top button')]
          .filter(b => b.offsetParent !== null)
          .map(b => [b.getAttribute('aria-label') || b.innerText, b.getBoundingClientRect()])
          .filter(([, r]) => r.width < 44 || r.height < 44).map(([n, r]) => `${n}: ${r.width}x${r.height}`)"""
    )
    assert small == [], small
    unnamed = page.evaluate(
        "() => [...document.querySelectorAll('button')].filter(b => b.offsetParent !== null"
        " && !(b.getAttribute('aria-label') || b.innerText.trim())).map(b => b.outerHTML.slice(0, 80))"
    )
    assert unnamed == [], unnamed
    context.close()


@pytest.mark.parametrize("lang,locale", [("ja", "ja-JP"), ("ru", "ru-RU")])
def test_the_new_screens_in_another_language(server, browser, lang: str, locale: str) -> None:
    """The sheets, the selection bar, compare and the viewer's marks show no English (test_i18n's check), in the dark
    theme too."""
    check_translated = i18n_check()
    folder = f"lang-{lang}"
    images(server, folder, ["l_0.png", "l_1.png", "l_2.png"])
    context, page = phone.signed_in(browser, server, ADMIN, PASSWORD, locale=locale, color_scheme="dark")
    ids = {i["filename"]: i["id"] for i in listed(context, server, f"subfolder={folder}", 3)}
    api(context, server, "PUT", f"/cozygen/api/images/{ids['l_0.png']}/marks", {"rejected": True})
    api(context, server, "PUT", f"/cozygen/api/images/{ids['l_1.png']}/marks", {"favourite": True, "rating": 4})
    page.goto(f"{server.url}/cozygen/gallery?subfolder={folder}")
    expect(tiles(page)).to_have_count(2)
    page.click("#chip-rejected")
    expect(tiles(page)).to_have_count(3)
    loaded(page)
    check_translated(page, lang, "body")
    shot(page, f"manager-{lang}-grid-dark")

    page.click("#filter-button")
    expect(page.locator("#filter-sheet")).to_be_visible()
    check_translated(page, lang, "#filter-sheet")
    shot(page, f"manager-{lang}-filter-sheet")
    page.keyboard.press("Escape")

    page.click("#gallery-menu-button")
    check_translated(page, lang, "#gallery-menu")
    page.keyboard.press("Escape")

    long_press(page, tiles(page).nth(0))
    tiles(page).nth(1).click()
    expect(page.locator("#bulk-compare")).to_be_visible()
    check_translated(page, lang, "body")
    shot(page, f"manager-{lang}-selection")
    page.click("#bulk-move")
    expect(page.locator("#move-sheet")).to_be_visible()
    check_translated(page, lang, "#move-sheet")
    page.keyboard.press("Escape")
    page.click("#bulk-rate")
    check_translated(page, lang, "#rate-sheet")
    page.keyboard.press("Escape")
    page.click("#bulk-compare")
    expect(page.locator("#compare-differences")).to_be_attached()
    check_translated(page, lang, "#compare")
    page.keyboard.press("Escape")
    expect(page.locator("#compare")).to_have_count(0)

    page.click("#select-done")
    tiles(page).first.click()
    expect(page.locator("#viewer-gestures")).to_be_visible()
    check_translated(page, lang, "#viewer")
    shot(page, f"manager-{lang}-viewer")
    context.close()
