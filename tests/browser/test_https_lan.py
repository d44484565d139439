"""HTTPS on the LAN, end to end: scripts/tls.py's certificate in a real ComfyUI on this machine's LAN address, and
a headless Chromium that trusts the CA reaching the app there as a secure context: the service worker registers,
activates and controls the page, and the app is installable (its manifest is valid and Chromium reports no
installability error).

Chromium on Linux reads trusted CAs from an NSS database (certutil, not installed here); the test trusts the CA
with ``--ignore-certificate-errors-spki-list`` (the CA's public key hash) instead, on a fresh profile. A browser
without it is refused, so the trust is what makes it work.
"""

from __future__ import annotations

import shlex
import ssl
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect, sync_playwright
from support import PROJECT

from cozygen.core.tls.authority import TlsFiles, spki_sha256
from cozygen.core.tls.machine import route_address, usable

FOLDER = "ComfyUI-CozyGen-https"
SCREENSHOTS = Path(__file__).resolve().parent.parent / "screenshots"


def test_address() -> tuple[str, str]:
    """A non-loopback address of this machine to serve on, and why it was chosen."""
    address = route_address()
    if address and usable(address):
        return address, f"the default route's address {address}"
    return "127.0.0.1", "LOOPBACK FALLBACK: this machine has no non-loopback IPv4 address; serving on 127.0.0.1"


test_address.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test


@pytest.fixture(scope="module")
def server(tmp_path_factory, front_end_root):
    import comfyui_host

    address, why = test_address()
    sys.__stderr__.write(f"\n[https-lan] serving on {why}\n")
    data = tmp_path_factory.mktemp("https-data")
    port = comfyui_host.free_port()
    made = subprocess.run(
        [sys.executable, str(PROJECT / "scripts" / "tls.py"), "--data-dir", str(data), "--port", str(port)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert f"https://{address}:{port}/cozygen/trust" in made.stdout or address == "127.0.0.1", made.stdout
    command = shlex.split(next(line for line in made.stdout.splitlines() if "--tls-certfile" in line).split("&&")[-1])
    tls_args = [arg for i, arg in enumerate(command) if arg.startswith("--tls-") or command[i - 1].startswith("--tls-")]
    host = comfyui_host.start(
        tmp_path_factory.mktemp(f"comfyui-{FOLDER}"), folder_name=FOLDER, listen=address, port=port,
        env={"COZYGEN_DATA_DIR": str(data)}, front_end_root=front_end_root, extra_args=tls_args,
    )  # fmt: skip
    yield host, TlsFiles.of(data), address
    host.stop()


def trusting(files: TlsFiles) -> ssl.SSLContext:
    """A client that trusts only the local CA, with the host name checked as a phone does."""
    return ssl.create_default_context(cafile=str(files.ca_cert))


def fetch(url: str, files: TlsFiles) -> tuple[int, dict, bytes]:
    with urllib.request.urlopen(url, timeout=30, context=trusting(files)) as response:
        return response.status, dict(response.headers), response.read()


def test_the_ca_and_the_trust_page_are_served_over_verified_https(server) -> None:
    host, files, address = server
    assert host.url == f"https://{address}:{host.port}"
    status, headers, body = fetch(f"{host.url}/cozygen/ca.crt", files)
    assert status == 200 and headers["Content-Type"] == "application/x-x509-ca-cert"
    assert body == ssl.PEM_cert_to_DER_cert(files.ca_cert.read_text())
    status, headers, body = fetch(f"{host.url}/cozygen/trust", files)
    page = body.decode()
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    assert f"https://{address}:{host.port}/cozygen/trust" in page and "<svg" in page and "plain http" not in page


def launch(playwright, *extra: str):
    import comfyui_host

    return playwright.chromium.launch(
        executable_path=str(comfyui_host.CHROMIUM), args=[*comfyui_host.CHROMIUM_ARGS, *extra]
    )


def test_a_browser_that_does_not_trust_the_ca_is_refused(server) -> None:
    host, _files, _address = server
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            page = browser.new_page()
            with pytest.raises(PlaywrightError, match="ERR_CERT_AUTHORITY_INVALID"):
                page.goto(f"{host.url}/cozygen/")
        finally:
            browser.close()


def test_chromium_trusting_the_ca_gets_a_secure_installable_app(server, tmp_path) -> None:
    import comfyui_host

    host, files, _address = server
    trust = f"--ignore-certificate-errors-spki-list={spki_sha256(files.ca_cert.read_bytes())}"
    with sync_playwright() as playwright:
        # A fresh profile of its own (not an incognito context, where Chromium never offers to install).
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=str(comfyui_host.CHROMIUM),
            args=[*comfyui_host.CHROMIUM_ARGS, trust], viewport={"width": 390, "height": 844}, is_mobile=True,
            has_touch=True,
        )  # fmt: skip
        try:
            page = context.pages[0] if context.pages else context.new_page()
            response = page.goto(f"{host.url}/cozygen/")
            assert response is not None and response.ok
            assert page.evaluate("window.isSecureContext") is True
            assert page.evaluate("location.protocol") == "https:"
            state = page.evaluate(
                """async () => {
                    const registration = await navigator.serviceWorker.ready;
                    const worker = registration.active;
                    if (worker.state !== "activated") {
                        await new Promise((done) => worker.addEventListener("statechange", () => {
                            if (worker.state === "activated") done();
                        }));
                    }
                    return { scope: registration.scope, state: worker.state, script: worker.scriptURL };
                }"""
            )
            worker = f"{host.url}/cozygen/sw.js"
            assert state == {"scope": f"{host.url}/cozygen/", "state": "activated", "script": worker}
            page.reload()
            page.wait_for_function("navigator.serviceWorker.controller !== null", timeout=15000)
            assert page.evaluate("navigator.serviceWorker.controller.scriptURL") == worker

            manifest_url = page.evaluate("document.querySelector('link[rel=manifest]').href")
            manifest = page.evaluate("async (url) => (await fetch(url)).json()", manifest_url)
            assert manifest["name"] and manifest["display"] in ("standalone", "fullscreen", "minimal-ui")
            assert manifest["start_url"] == "/cozygen/" and manifest["scope"] == "/cozygen/"
            sizes = {icon["sizes"] for icon in manifest["icons"] if icon["type"] == "image/png"}
            assert {"192x192", "512x512"} <= sizes
            for icon in manifest["icons"]:
                fetched = page.evaluate(
                    "async (src) => { const r = await fetch(src); return [r.status, r.headers.get('content-type')]; }",
                    icon["src"],
                )
                assert fetched == [200, icon["type"]], icon

            cdp = context.new_cdp_session(page)
            try:
                app = cdp.send("Page.getAppManifest")
                assert app["url"] == manifest_url and app["errors"] == [], app["errors"]
                installability = cdp.send("Page.getInstallabilityErrors")["installabilityErrors"]
                assert installability == [], installability
            finally:
                cdp.detach()

            page.goto(f"{host.url}/cozygen/trust")  # the phone's view of the trust page, for the record
            expect(page.locator("svg").first).to_be_visible()
            SCREENSHOTS.mkdir(exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / "trust-page.png"), full_page=True)
        finally:
            context.close()
