"""Models from the phone (issue 19) in headless Chromium at a phone's size (390×844, touch), against a real ComfyUI
whose downloads come from tests/model_server.py (a loopback server speaking Hugging Face's resolve protocol and plain
file URLs; HF_ENDPOINT points at it, download_private_hosts allows loopback): "Get it" on a workflow card's missing
model with live progress (held mid-transfer, then released) until the warning goes; a failed download on the
generate screen (a lying hash) with its error and Retry; "Get all" with models of no known source and "Add…" for
one; Settings → Models (a download with progress and Cancel, the history, the model browser's folders, search,
preview, short hash and pickle badge, delete with confirm, the model trash and Restore); the server settings'
write-only secrets; and what a user who is not an admin sees (read-only). Screenshots: tests/screenshots/models-*.png.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import phone
import pytest
from model_server import MIB, ModelServer
from phone import shot
from playwright.sync_api import Browser, BrowserContext, Page, expect
from support import ADMIN, ADMIN_PASSWORD, AUTH_ENV, bearer, request, sign_in, until

SHIPPED = Path(__file__).resolve().parents[2] / "workflows"
SD15_REPO, SD15 = "stable-diffusion-v1-5/stable-diffusion-v1-5", "v1-5-pruned-emaonly.safetensors"
SDXL_REPO, SDXL = "stabilityai/stable-diffusion-xl-base-1.0", "sd_xl_base_1.0.safetensors"
FLUX_REPO = "cozy-test/flux-parts"


@pytest.fixture(scope="module")
def models() -> Iterator[ModelServer]:
    with ModelServer() as served:
        yield served


@pytest.fixture(scope="module")
def server(start_comfyui, models: ModelServer):
    env = {**AUTH_ENV, "HF_ENDPOINT": models.url}
    started = start_comfyui("ComfyUI-CozyGen-models-browser", env=env)
    # downloads may reach the loopback model server (its HF endpoint is allowed by HF_ENDPOINT, its plain URLs here)
    settings = {"download_private_hosts": "127.0.0.0/8", "download_hosts": "huggingface.co civitai.com 127.0.0.1"}
    token = bearer(sign_in(started.url, ADMIN, ADMIN_PASSWORD))
    changed = request("PATCH", f"{started.url}/cozygen/api/settings", settings, headers=token)
    assert changed.status == 200, changed.body
    return started


def api(context: Any, server, method: str, path: str, body: Any = None) -> Any:
    reply = context.request.fetch(f"{server.url}{path}", method=method, data=body, headers={"Origin": server.url})
    assert reply.ok, (method, path, reply.status, reply.text())
    return reply.json()


def admin(browser: Browser, server, **options: Any) -> tuple[BrowserContext, Page]:
    return phone.signed_in(browser, server, ADMIN, ADMIN_PASSWORD, **options)


def record(context: BrowserContext, server, folder: str, name: str, source: dict) -> None:
    """The admin records where a model comes from (the check's first place to look)."""
    api(context, server, "PUT", "/cozygen/api/models/sources", {"folder": folder, "name": name, "source": source})


def models_dir(server) -> Path:
    return server.base / "models"


def wait_file(path: Path, size: int) -> None:
    for _ in range(300):
        if path.is_file() and path.stat().st_size == size:
            return
        time.sleep(0.1)
    raise AssertionError(f"{path} never held {size} bytes")


def wait_model(server, name: str, size: int) -> None:
    """A model file of that name and size anywhere under models/ (ComfyUI's diffusion_models folder is models/unet)."""
    for _ in range(300):
        if any(p.stat().st_size == size for p in models_dir(server).rglob(name) if p.is_file()):
            return
        time.sleep(0.1)
    raise AssertionError(f"no {name} of {size} bytes under {models_dir(server)}")


def test_get_it_from_a_workflow_card_with_progress_until_the_warning_goes(server, browser, models) -> None:
    models.hf_file(SD15_REPO, SD15, 8 * MIB, hold_at=3 * MIB)  # stops at 3 of 8 MiB until released
    context, page = admin(browser, server)
    record(context, server, "checkpoints", SD15, {"hf": {"repo": SD15_REPO, "file": SD15}})
    page.goto(f"{server.url}/cozygen/")
    card = page.locator('li.fixable:has(a[data-workflow="sd15_txt2img.json"])')
    expect(card.locator(".wf-fix")).to_have_text("Get 1 missing model")
    expect(card.locator("a.card .warn")).to_contain_text("v1-5-pruned-emaonly")
    shot(page, "models-workflows-get")

    card.locator(".wf-fix").click()
    sheet = page.locator("#missing-models-sheet")
    line = sheet.locator(f'li.mm[data-model="checkpoints/{SD15}"]')
    expect(line.locator(".mm-source")).to_have_text(f"{SD15_REPO}/{SD15}")
    expect(sheet.locator(".mm-all")).to_have_count(0)  # one model: "Get it" is enough
    shot(page, "models-missing-sheet")
    line.locator(".mm-get").click()
    progress = line.locator(".dl")
    expect(progress.locator(".dl-title")).to_have_text("Downloading… 37%", timeout=30_000)  # 3 of 8 MiB, held
    expect(progress.locator(".dl-detail")).to_contain_text("3.1 MB of 8.4 MB")
    expect(progress.locator('[role="progressbar"]')).to_have_attribute("aria-valuenow", "38")
    expect(line.locator(".mm-get")).to_have_count(0)
    shot(page, "models-missing-progress")

    page.keyboard.press("Escape")
    expect(card.locator(".wf-fix.going")).to_contain_text("Downloading 1 model")  # the card follows too
    shot(page, "models-workflows-progress")
    models.release(f"{SD15_REPO}/{SD15}")
    wait_file(models_dir(server) / "checkpoints" / SD15, 8 * MIB)
    # done: the list is read again and both SD 1.5 workflows lose their warning
    expect(page.locator('li:has(a[data-workflow="sd15_txt2img.json"]) .warn')).to_have_count(0, timeout=30_000)
    expect(page.locator('li:has(a[data-workflow="sd15_img2img.json"]) .wf-fix')).to_have_count(0)
    shot(page, "models-workflows-done")
    context.close()


def test_a_failed_download_on_the_generate_screen_shows_why_and_retries(server, browser, models) -> None:
    models.hf_file(SDXL_REPO, SDXL, 2 * MIB, sha256="0" * 64)  # the server announces a wrong hash
    context, page = admin(browser, server)
    record(context, server, "checkpoints", SDXL, {"hf": {"repo": SDXL_REPO, "file": SDXL}})
    page.goto(f"{server.url}/cozygen/generate/sdxl_txt2img.json")
    box = page.locator("#missing-models")
    expect(box.locator("#missing-models-title")).to_have_text("⚠ This workflow needs 1 model this server lacks.")
    line = box.locator(f'li.mm[data-model="checkpoints/{SDXL}"]')
    expect(line.locator(".mm-name")).to_contain_text("sd_xl_base_1.0")
    line.locator(".mm-get").click()
    failed = line.locator('.dl[data-state="failed"]')
    expect(failed).to_be_visible(timeout=30_000)
    expect(failed.locator(".dl-title")).to_have_text("Failed")
    expect(failed.locator(".dl-detail")).to_contain_text("0000000000")  # the server's message names the hashes
    expect(failed.locator(".dl-cancel")).to_have_count(0)
    assert not (models_dir(server) / "checkpoints" / SDXL).exists()
    shot(page, "models-generate-failed")

    sha = models.hf_file(SDXL_REPO, SDXL, 2 * MIB)  # the same file, honest now
    failed.locator(".dl-retry").click()
    expect(box).to_have_count(0, timeout=30_000)  # the check again: nothing missing
    expect(page.locator(".toast", has_text="sd_xl_base_1.0.safetensors is installed")).to_be_visible()
    path = models_dir(server) / "checkpoints" / SDXL
    assert hashlib.sha256(path.read_bytes()).hexdigest() == sha
    # the form's checkpoint choice lists the new file
    expect(page.locator("#go")).to_be_enabled()
    choices = api(context, server, "GET", "/cozygen/api/workflows/sdxl_txt2img.json/schema")["parameters"]
    assert any(SDXL in (p.get("choices") or []) for p in choices)
    shot(page, "models-generate-done")
    context.close()


def parts_workflow(context: BrowserContext, server) -> list[tuple[str, str]]:
    """The shipped Flux workflow saved with model names of its own (no catalogue knows them): its missing models."""
    graph = json.loads((SHIPPED / "flux_txt2img.json").read_text())
    names = {
        "flux1-dev.safetensors": "cozy_unet.safetensors",
        "clip_l.safetensors": "cozy_clip.safetensors",
        "t5xxl_fp8_e4m3fn.safetensors": "cozy_t5.safetensors",
        "ae.safetensors": "cozy_vae.safetensors",
    }
    for node in graph.values():
        value = node.get("inputs", {}).get("value") if isinstance(node, dict) else None
        if value in names:
            node["inputs"]["value"] = names[value]
    api(context, server, "POST", "/cozygen/workflows/cozy_parts.json", graph)
    check = api(context, server, "POST", "/cozygen/api/workflows/cozy_parts.json/check")
    return [(folder, name) for folder, found in check["missing_models"].items() for name in found]


def test_get_all_and_adding_a_source_by_hand(server, browser, models) -> None:
    context, page = admin(browser, server)
    missing = parts_workflow(context, server)
    assert len(missing) == 4, missing  # the diffusion model, its two text encoders and its VAE
    known, unknown = missing[:2], missing[2:]
    for folder, name in known:  # two sources recorded: those "Get all" fetches
        models.hf_file(FLUX_REPO, f"{folder}/{name}", 1 * MIB, throttle=2 * MIB)
        record(context, server, folder, name, {"hf": {"repo": FLUX_REPO, "file": f"{folder}/{name}"}})
    page.goto(f"{server.url}/cozygen/generate/cozy_parts.json")
    box = page.locator("#missing-models")
    expect(box.locator("li.mm")).to_have_count(4)
    for folder, name in unknown:
        expect(box.locator(f'li.mm[data-model="{folder}/{name}"] .mm-source')).to_have_text("No known source")
    get_all = box.locator(".mm-all")
    expect(get_all).to_have_text("Get all (2)")
    shot(page, "models-generate-get-all")
    get_all.click()
    expect(page.locator(".toast", has_text="2 models have no known source")).to_be_visible()
    for _folder, name in known:
        wait_model(server, name, 1 * MIB)
    for folder, name in known:  # installed: gone from the list after the check again
        expect(box.locator(f'li.mm[data-model="{folder}/{name}"]')).to_have_count(0, timeout=30_000)
    expect(get_all).to_have_count(0)  # nothing left with a source

    # one by hand: "Add…" opens the sheet with its folder and name; a direct URL
    folder, name = unknown[0]
    models.add_file(name, 1 * MIB)
    box.locator(f'li.mm[data-model="{folder}/{name}"] .mm-add').click()
    sheet = page.locator("#add-download")
    expect(sheet.locator("#dl-folder")).to_have_value(folder)
    expect(sheet.locator("#dl-name")).to_have_value(name)
    sheet.locator("#source-url").click()
    sheet.locator("#dl-url").fill(models.file_url(name))
    shot(page, "models-add-download-prefilled")
    sheet.locator("#dl-go").click()
    expect(sheet).to_have_count(0)
    wait_model(server, name, 1 * MIB)
    expect(box.locator(f'li.mm[data-model="{folder}/{name}"]')).to_have_count(0, timeout=30_000)
    expect(box.locator("li.mm")).to_have_count(1)
    context.close()


def lora_files(server) -> dict[str, str]:
    """Models put straight into the loras folder: one with a preview sidecar, one in a subfolder, a pickle."""
    from PIL import Image

    loras = models_dir(server) / "loras"
    (loras / "sub").mkdir(parents=True, exist_ok=True)
    files = {
        "style_a.safetensors": b"a" * 300_000,
        "sub/detail_b.safetensors": b"b" * 200_000,
        "old_c.ckpt": b"c" * 1000,
    }
    for name, data in files.items():
        (loras / name).write_bytes(data)
    Image.new("RGB", (96, 96), (200, 120, 40)).save(loras / "style_a.png")
    return {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}


def test_settings_models_downloads_browser_trash(server, browser, models) -> None:
    hashes = lora_files(server)
    models.hf_file("cozy-test/loras", "big_lora.safetensors", 8 * MIB, hold_at=2 * MIB)
    context, page = admin(browser, server)
    page.goto(f"{server.url}/cozygen/settings")
    page.click("#models-open")
    expect(page.locator("header.top h1")).to_have_text("Models")
    expect(page.locator("#downloads")).to_be_visible()

    # a download added by hand: progress, then Cancel; it moves to the history
    page.click("#add-download-open")
    sheet = page.locator("#add-download")
    expect(sheet.locator("#source-hf")).to_have_attribute("aria-pressed", "true")
    sheet.locator("#dl-repo").fill("cozy-test/loras")
    sheet.locator("#dl-file").fill("big_lora.safetensors")
    sheet.locator("#dl-folder").select_option("loras")
    expect(sheet.locator("#dl-name")).to_have_attribute("placeholder", "big_lora.safetensors")
    sheet.locator("#dl-name").fill("big_lora.ckpt")
    expect(sheet.locator("#dl-pickle")).to_be_visible()  # a pickle's warning, before it is fetched
    sheet.locator("#dl-name").fill("")
    expect(sheet.locator("#dl-pickle")).to_have_count(0)
    shot(page, "models-add-download")
    sheet.locator("#dl-go").click()
    expect(sheet.locator("#dl-error")).to_have_count(0)
    expect(sheet).to_have_count(0)
    running = page.locator("#downloads .dl-list li.dl-item").first
    expect(running.locator(".dl-name")).to_have_text("big_lora.safetensors")
    expect(running.locator(".dl-title")).to_have_text("Downloading… 25%", timeout=30_000)
    shot(page, "models-downloads-running")
    running.locator(".dl-cancel").click()
    history = page.locator("#download-history")
    expect(history).to_be_visible()
    history.locator("summary").click()
    cancelled = history.locator("li.dl-item", has_text="big_lora.safetensors").first
    expect(cancelled.locator(".dl-state")).to_have_text("Cancelled")
    expect(page.locator("#downloads .dl-list li .dl-cancel")).to_have_count(0)
    models.release("cozy-test/loras/big_lora.safetensors")
    assert not (models_dir(server) / "loras" / "big_lora.safetensors").exists()
    shot(page, "models-downloads-history")

    # the browser: a folder, its files with size, date, short hash (once hashed), preview and pickle badge
    browser_box = page.locator("#model-browser")
    browser_box.locator('.model-folders button[data-folder="loras"]').click()
    row = browser_box.locator('li.model-row[data-model="loras/style_a.safetensors"]')
    expect(row).to_be_visible()
    expect(browser_box.locator('li.model-row[data-model="loras/sub/detail_b.safetensors"] .model-name')).to_have_text(
        "sub/detail_b.safetensors"
    )
    expect(row.locator(".model-hash")).to_contain_text(f"SHA-256 {hashes['style_a.safetensors'][:10]}…", timeout=30_000)
    expect(row.locator(".model-thumb img")).to_be_visible()
    assert row.locator(".model-thumb img").evaluate("i => i.complete && i.naturalWidth") == 96
    expect(row).to_contain_text("300 kB")
    expect(browser_box.locator('li.model-row[data-model="loras/old_c.ckpt"] .kind.pickle')).to_be_visible()
    page.fill("#model-search", "style")
    expect(browser_box.locator("li.model-row")).to_have_count(1)
    shot(page, "models-browser")

    # delete with confirm: to the model trash (its preview too), then restored from the trash
    row.locator(".model-delete").click()
    confirm = page.get_by_role("dialog", name="Delete style_a.safetensors?")
    expect(confirm).to_contain_text("model trash")
    shot(page, "models-delete-confirm")
    confirm.locator("button.danger-fill").click()
    expect(browser_box.locator("li.model-row")).to_have_count(0)
    expect(page.locator(".toast", has_text="style_a.safetensors moved to the model trash")).to_be_visible()
    assert not (models_dir(server) / "loras" / "style_a.safetensors").exists()
    assert not (models_dir(server) / "loras" / "style_a.png").exists()
    page.click("#model-trash-open")
    trash = page.locator("#model-trash")
    item = trash.locator('li.trashed-model[data-model="loras/style_a.safetensors"]')
    expect(item).to_contain_text("300 kB")
    shot(page, "models-trash")
    item.locator(".model-restore").click()
    expect(item).to_have_count(0)
    page.keyboard.press("Escape")
    expect(browser_box.locator("li.model-row")).to_have_count(1)
    assert (models_dir(server) / "loras" / "style_a.safetensors").read_bytes() == b"a" * 300_000
    assert (models_dir(server) / "loras" / "style_a.png").exists()
    context.close()

    # the same screens in the dark theme
    context, page = admin(browser, server, color_scheme="dark")
    page.goto(f"{server.url}/cozygen/settings/models")
    expect(page.locator("#model-browser li.model-row").first).to_be_visible()
    page.locator("#download-history summary").click()
    shot(page, "models-dark")
    page.click("#add-download-open")
    expect(page.locator("#add-download")).to_be_visible()
    shot(page, "models-dark-add-download")
    context.close()


def test_server_settings_keep_secrets_write_only(server, browser) -> None:
    context, page = admin(browser, server)
    page.goto(f"{server.url}/cozygen/settings")
    group = page.locator("#settings-downloads")
    group.locator("summary").click()
    token = group.locator('[data-setting="hf_token"]')
    expect(token.locator(".secret-state")).to_have_text("not set")
    expect(group.locator("#setting-download_private_hosts")).to_have_value("127.0.0.0/8")
    token.locator("input").fill("hf_secret_value_123")
    page.evaluate("() => { document.getElementById('settings-downloads').scrollIntoView(); window.scrollBy(0, -64); }")
    shot(page, "models-server-settings")
    token.locator('button[type="submit"]').click()
    expect(token.locator(".secret-state")).to_have_text("set")
    expect(token.locator("input")).to_have_value("")
    settings = api(context, server, "GET", "/cozygen/api/settings")["settings"]
    assert settings["hf_token_set"] is True and "hf_token" not in settings
    assert "hf_secret_value_123" not in page.content()

    concurrency = group.locator('[data-setting="download_concurrency"]')
    concurrency.locator("input").fill("3")
    concurrency.locator('button[type="submit"]').click()

    def concurrency_now() -> int:
        return api(context, server, "GET", "/cozygen/api/settings")["settings"]["download_concurrency"]

    assert until(concurrency_now, lambda n: n == 3) == 3  # once the PATCH is answered
    expect(concurrency.locator("input")).to_have_value("3")
    concurrency.locator("input").fill("9")  # the server's bounds: its message beside the field
    concurrency.locator('button[type="submit"]').click()
    expect(concurrency.locator(".error")).to_contain_text("download_concurrency")
    page.locator("#settings-cloud summary").click()
    expect(page.locator('[data-setting="comfy_api_key"] .secret-state')).to_have_text("not set")
    page.evaluate("() => { document.getElementById('settings-cloud').scrollIntoView(); window.scrollBy(0, -64); }")
    shot(page, "models-server-settings-cloud")

    token.locator(".setting-clear").click()
    expect(token.locator(".secret-state")).to_have_text("not set")
    assert api(context, server, "GET", "/cozygen/api/settings")["settings"]["hf_token_set"] is False
    context.close()


def test_a_user_sees_models_read_only(server, browser) -> None:
    (models_dir(server) / "vae").mkdir(parents=True, exist_ok=True)
    (models_dir(server) / "vae" / "shown_to_all.safetensors").write_bytes(b"v" * 5000)
    context, page = admin(browser, server)
    made = {"username": "uma", "password": "uma-pass-123", "role": "user"}
    reply = context.request.post(f"{server.url}/cozygen/api/users", data=made, headers={"Origin": server.url})
    assert reply.status in (201, 409), reply.text()
    # a workflow of the user's own that names a model nobody has
    graph = json.loads((SHIPPED / "sd15_txt2img.json").read_text())
    for node in graph.values():
        if isinstance(node, dict) and node.get("inputs", {}).get("value") == SD15:
            node["inputs"]["value"] = "never_there.safetensors"
    api(context, server, "POST", "/cozygen/workflows/uma_missing.json", graph)
    context.close()

    context, page = phone.signed_in(browser, server, "uma", "uma-pass-123")
    card = page.locator('li:has(a[data-workflow="uma_missing.json"])')
    expect(card.locator(".warn")).to_contain_text("never_there")
    expect(page.locator(".wf-fix")).to_have_count(0)
    page.goto(f"{server.url}/cozygen/generate/uma_missing.json")
    expect(page.locator("main .card.warn")).to_contain_text("never_there.safetensors")
    expect(page.locator("#missing-models")).to_have_count(0)
    page.goto(f"{server.url}/cozygen/settings")
    expect(page.locator("#server-settings")).to_have_count(0)
    expect(page.locator("#models-open")).to_have_text("Installed models")
    page.click("#models-open")
    expect(page.locator("#model-browser li.model-row").first).to_be_visible()
    expect(page.locator("#downloads")).to_have_count(0)
    expect(page.locator("#add-download-open")).to_have_count(0)
    expect(page.locator("#model-trash-open")).to_have_count(0)
    expect(page.locator(".model-delete")).to_have_count(0)
    shot(page, "models-user-read-only")
    context.close()


def test_a_partner_workflow_asks_for_the_comfy_key(server, browser) -> None:
    context, page = admin(browser, server)
    page.goto(f"{server.url}/cozygen/")
    card = page.locator('[data-workflow="partner_flux_pro.json"]')
    expect(card.locator("[data-missing-key]")).to_contain_text("Comfy API key")  # on the list's card too
    page.goto(f"{server.url}/cozygen/generate/partner_flux_pro.json")
    notice = page.locator("#missing-key")
    expect(notice).to_contain_text("Comfy API key")
    shot(page, "models-partner-needs-key")
    notice.locator("a").click()  # to the setting itself
    expect(page).to_have_url(f"{server.url}/cozygen/settings#server-settings")
    field = page.locator('[data-setting="comfy_api_key"]')
    expect(field).to_be_visible()
    expect(field.locator(".secret-state")).to_have_text("not set")
    field.locator("input").fill("comfy-key-for-tests")
    field.locator('button[type="submit"]').click()
    expect(field.locator(".secret-state")).to_have_text("set")
    page.goto(f"{server.url}/cozygen/generate/partner_flux_pro.json")
    expect(page.locator("#go")).to_be_enabled()
    expect(page.locator("#missing-key")).to_have_count(0)  # the check knows the key is there now
    page.goto(f"{server.url}/cozygen/")
    expect(page.locator('[data-workflow="partner_flux_pro.json"] [data-missing-key]')).to_have_count(0)
    api(context, server, "PATCH", "/cozygen/api/settings", {"comfy_api_key": ""})
    context.close()
