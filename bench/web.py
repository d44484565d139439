"""The web app on a phone over https: the first load's bytes on the wire, and the time to the first usable screen.

It starts its own ComfyUI with CozyGen over https, as the README's phone set-up does: scripts/tls.py makes a local
certificate authority and this machine's certificate (in a temporary data folder), ComfyUI gets --tls-keyfile and
--tls-certfile and listens on this machine's LAN address (127.0.0.1 when it has none), auth on with an admin.
Then:

- The first load on the wire: the app's page and the scripts and stylesheets it names, each fetched as a browser
  does over https (Accept-Encoding: gzip, deflate, br) and as it is (identity). Per asset: the bytes the server
  sends (its precompressed .br/.gz copy), the coding, the uncompressed size and the ratio; the total, checked
  against the budget of 120 KB compressed. Also everything the browser itself transferred during a cold load up
  to the first usable screen (API answers, manifest, icons included; Chromium's encoded body sizes).
- The time to the first usable screen: headless Chromium trusting the local CA (--ignore-certificate-errors-spki-
  list, as tests/browser/test_https_lan.py does), 390x844 phone, CPU slowed 4x (CDP), signed in (the session
  cookie). Measured from navigation start (the page's performance.timeOrigin) until the first workflow card is
  visible and interactive (it has a size and the element at its centre is the card: nothing covers it), checked
  every frame. Cold: a new browser context per run (no HTTP cache, no service worker). Warm: the same context
  again once its service worker controls the page (its cache and the HTTP cache). Medians over the runs.

It serves web/dist as it is in the working tree (run `npm run build` in web/app first to measure new sources).
It prints figures and never fails; it is not part of the test suite.

    python3 bench/web.py [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import types
import urllib.request
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT / "scripts"))

import comfyui_host  # noqa: E402

BUDGET_KB = 120.0
BROWSER_ENCODING = "gzip, deflate, br"  # what Chromium sends over https (it offers br only on secure origins)
ADMIN, ADMIN_PASSWORD = "bench", "bench web password 1"
PHONE = {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True, "device_scale_factor": 3}
USABLE = """() => {
    const card = document.querySelector('a[data-workflow]');
    if (!card) return false;
    const box = card.getBoundingClientRect();
    if (!box.width || !box.height || box.top >= innerHeight) return false;
    const hit = document.elementFromPoint(box.left + box.width / 2, box.top + Math.min(box.height / 2, 20));
    return hit && card.contains(hit) ? performance.now() : false;
}"""


def tls_core() -> types.ModuleType:
    """core.tls of this checkout, loaded under a name of its own (as scripts/tls.py does: no ComfyUI entry)."""
    package = types.ModuleType("cozygen_bench")
    package.__path__ = [str(PROJECT)]
    sys.modules["cozygen_bench"] = package
    import importlib

    return importlib.import_module("cozygen_bench.core.tls.authority")


def lan_address() -> str:
    import importlib

    tls_core()
    machine = importlib.import_module("cozygen_bench.core.tls.machine")
    address = machine.route_address()
    return address if address and machine.usable(address) else "127.0.0.1"


def start_https(base: Path) -> tuple[comfyui_host.ComfyUI, Path, str]:
    """ComfyUI over https with scripts/tls.py's certificate: the server, the CA certificate, the CA's SPKI hash."""
    authority = tls_core()
    data = base / "data"
    port, address = comfyui_host.free_port(), lan_address()
    subprocess.run(
        [sys.executable, str(PROJECT / "scripts" / "tls.py"), "--data-dir", str(data), "--port", str(port)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    files = authority.TlsFiles.of(data)
    front = base / "frontend"
    front.mkdir()
    (front / "index.html").write_text("<!doctype html><title>ComfyUI</title>")
    env = {"COZYGEN_DATA_DIR": str(data), "COZYGEN_ADMIN_USER": ADMIN, "COZYGEN_ADMIN_PASSWORD": ADMIN_PASSWORD}
    tls = ["--tls-keyfile", str(files.server_key), "--tls-certfile", str(files.server_cert)]
    server = comfyui_host.start(
        base / "comfyui", listen=address, port=port, env=env, front_end_root=front, extra_args=tls
    )
    return server, files.ca_cert, authority.spki_sha256(files.ca_cert.read_bytes())


def fetch(url: str, ca: Path, encoding: str, headers: dict[str, str] | None = None) -> tuple[bytes, Any]:
    """The body exactly as sent (urllib does not decode) and the headers."""
    context = ssl.create_default_context(cafile=str(ca))
    context.check_hostname = False  # the CA is what is checked; the name is the browser's business
    request = urllib.request.Request(url, headers={"Accept-Encoding": encoding, **(headers or {})})
    with urllib.request.urlopen(request, timeout=30, context=context) as response:
        return response.read(), response.headers


def first_load_on_the_wire(url: str, ca: Path) -> list[tuple[str, int, int, int, str]]:
    """(path, bytes sent to a browser, to a gzip-only client, uncompressed bytes, the browser's coding) of the page
    and each script and stylesheet it names."""
    page, _ = fetch(f"{url}/cozygen/", ca, "identity")
    paths = ["/cozygen/", *re.findall(r'(?:src|href)="(/cozygen/assets/[^"]+\.(?:js|css))"', page.decode())]
    rows = []
    for path in paths:
        sent, headers = fetch(f"{url}{path}", ca, BROWSER_ENCODING)
        gzipped, _ = fetch(f"{url}{path}", ca, "gzip")
        plain, _ = fetch(f"{url}{path}", ca, "identity")
        rows.append((path, len(sent), len(gzipped), len(plain), headers.get("Content-Encoding") or "none"))
    return rows


def sign_in(url: str, ca: Path) -> str:
    context = ssl.create_default_context(cafile=str(ca))
    context.check_hostname = False
    body = json.dumps({"username": ADMIN, "password": ADMIN_PASSWORD}).encode()
    request = urllib.request.Request(
        f"{url}/cozygen/api/login", data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=30, context=context) as response:
        return json.loads(response.read())["token"]


def usable_after(page: Any, url: str) -> float:
    """Milliseconds from navigation start to the first usable screen, for one navigation to ``url``."""
    page.goto(url, wait_until="commit")
    return float(page.wait_for_function(USABLE, polling="raf", timeout=60000).json_value())


def time_to_usable(url: str, spki: str, token: str, runs: int) -> tuple[list[float], list[float], list[int]]:
    """Cold and warm times (ms), and the bytes the browser transferred in each cold load."""
    from playwright.sync_api import sync_playwright

    cold, warm, transferred = [], [], []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(comfyui_host.CHROMIUM),
            args=[*comfyui_host.CHROMIUM_ARGS, f"--ignore-certificate-errors-spki-list={spki}"],
        )
        try:
            for _ in range(runs):
                context = browser.new_context(**PHONE)
                context.add_cookies([{"name": "cozygen_token", "value": token, "url": url, "secure": True}])
                page = context.new_page()
                responses: list[Any] = []
                page.on("requestfinished", lambda request, into=responses: into.append(request))
                cdp = context.new_cdp_session(page)
                cdp.send("Emulation.setCPUThrottlingRate", {"rate": 4})
                cold.append(usable_after(page, f"{url}/cozygen/"))
                sizes = [r.sizes() for r in responses]
                transferred.append(sum(s["responseBodySize"] + s["responseHeadersSize"] for s in sizes))
                page.evaluate("navigator.serviceWorker.ready.then(() => true)")
                page.reload()  # the service worker takes control on this load (clients.claim or not)
                page.wait_for_function("navigator.serviceWorker.controller !== null", timeout=30000)
                time.sleep(0.5)  # the worker's cache filled from the first load
                warm.append(usable_after(page, f"{url}/cozygen/"))
                cdp.detach()
                context.close()
        finally:
            browser.close()
    return cold, warm, transferred


def kb(n: float) -> str:
    return f"{n / 1024:6.1f} KB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    python = comfyui_host.ensure()
    try:
        import playwright  # noqa: F401  (installed in the test venv)
    except ImportError:  # run by another Python: run again with the venv's, which has Playwright
        os.execv(str(python), [str(python), __file__, *sys.argv[1:]])
    comfyui_host.ensure_chromium()

    with tempfile.TemporaryDirectory(prefix="cozygen-bench-web-") as base:
        server, ca, spki = start_https(Path(base))
        try:
            rows = first_load_on_the_wire(server.url, ca)
            cold, warm, transferred = time_to_usable(server.url, spki, sign_in(server.url, ca), args.runs)
        finally:
            server.stop()

    sent, gzipped, plain = (sum(r[i] for r in rows) for i in (1, 2, 3))
    print(f"First load on the wire ({server.url}, Accept-Encoding: {BROWSER_ENCODING}; gzip only; none):")
    for path, wire, gz, raw, coding in rows:
        print(f"  {path:<40} {kb(wire)} {coding:<4} {kb(gz)} gzip {kb(raw)} plain ({wire / raw:4.0%})")
    print(f"  {'total':<40} {kb(sent)} {'':<4} {kb(gzipped)} gzip {kb(plain)} plain ({sent / plain:4.0%})")
    worst = max(sent, gzipped)
    verdict = "within" if worst / 1024 <= BUDGET_KB else "OVER"
    share = f"{kb(worst).strip()} at most, {worst / 1024 / BUDGET_KB:.0%}"
    print(f"  budget, first load <= {BUDGET_KB:.0f} KB compressed: {verdict} ({share})")
    print("  the browser's whole cold load to the first usable screen (API answers, manifest, icons; headers")
    print(f"  included): median {kb(statistics.median(transferred)).strip()}")
    print(f"Time to the first usable screen over https (390x844 phone, CPU 4x slower, signed in, {args.runs} runs):")
    print(f"  cold (new context: no cache, no worker): median {statistics.median(cold):5.0f} ms"
          f"  (min {min(cold):.0f}, max {max(cold):.0f})")  # fmt: skip
    print(f"  warm (service worker and HTTP cache):    median {statistics.median(warm):5.0f} ms"
          f"  (min {min(warm):.0f}, max {max(warm):.0f})")  # fmt: skip


if __name__ == "__main__":
    main()
