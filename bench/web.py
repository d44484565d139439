"""The web app's weight and speed on a phone-like browser.

Two figures:
- the JavaScript and CSS a first visit downloads, gzipped (level 9, as a server
  or proxy would send it; CozyGen itself serves the files as they are), against
  the target of 120 KB;
- the time to the first usable screen (the workflow list with its links, or the
  sign-in form) in headless Chromium at a phone's size with the CPU slowed 4×
  (CDP Emulation.setCPUThrottlingRate), cold (no cache, no service worker) and
  warm (second visit: assets from the HTTP cache), median over the runs.

Starts its own ComfyUI with CozyGen (the cached test venv), auth off.

    python3 bench/web.py [--runs 5]
"""

from __future__ import annotations

import argparse
import gzip
import os
import re
import statistics
import sys
import tempfile
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT / "scripts"))

import comfyui_host  # noqa: E402

TARGET_KB = 120.0
PHONE = {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True, "device_scale_factor": 3}
USABLE = "document.querySelector('a[data-workflow]') || document.getElementById('auth')"


def first_load_bytes(dist: Path) -> list[tuple[str, int, int]]:
    """(name, raw bytes, gzipped bytes) of each script and stylesheet index.html loads."""
    html = (dist / "index.html").read_text()
    names = re.findall(r'(?:src|href)="/cozygen/(assets/[^"]+\.(?:js|css))"', html)
    out = []
    for name in names:
        data = (dist / name).read_bytes()
        out.append((name, len(data), len(gzip.compress(data, 9))))
    return out


def time_to_usable(url: str, runs: int) -> tuple[list[float], list[float]]:
    from playwright.sync_api import sync_playwright

    cold, warm = [], []
    with sync_playwright() as playwright:
        browser = comfyui_host.launch_chromium(playwright)
        for _ in range(runs):
            context = browser.new_context(**PHONE, service_workers="block")
            page = context.new_page()
            cdp = context.new_cdp_session(page)
            cdp.send("Emulation.setCPUThrottlingRate", {"rate": 4})
            for bucket in (cold, warm):
                page.goto("about:blank")
                start = page.evaluate("performance.timeOrigin + performance.now()")
                page.goto(url, wait_until="commit")
                page.wait_for_function(USABLE, polling="raf", timeout=30000)
                end = page.evaluate("performance.timeOrigin + performance.now()")
                bucket.append(end - start)
            context.close()
        browser.close()
    return cold, warm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    python = comfyui_host.ensure()
    try:
        import playwright  # noqa: F401  (installed in the test venv)
    except ImportError:  # run by another Python: run again with the venv's, which has Playwright
        os.execv(str(python), [str(python), __file__, *sys.argv[1:]])

    dist = PROJECT / "web" / "dist"
    files = first_load_bytes(dist)
    raw = sum(r for _, r, _ in files)
    zipped = sum(z for _, _, z in files)
    print("First load, JavaScript + CSS:")
    for name, r, z in files:
        print(f"  {name:<40} {r / 1024:7.1f} KB  gzip {z / 1024:6.1f} KB")
    verdict = "under" if zipped / 1024 < TARGET_KB else "OVER"
    print(
        f"  total {raw / 1024:.1f} KB, gzip {zipped / 1024:.1f} KB ({verdict} the {TARGET_KB:.0f} KB target; "
        f"{zipped / 1024 / TARGET_KB:.0%} of it)"
    )

    comfyui_host.ensure_chromium()
    with tempfile.TemporaryDirectory(prefix="cozygen-bench-web-") as base:
        front = Path(base) / "frontend"
        front.mkdir()
        (front / "index.html").write_text("<!doctype html><title>ComfyUI</title>")
        server = comfyui_host.start(Path(base) / "comfyui", folder_name="ComfyUI-CozyGen", front_end_root=front)
        try:
            cold, warm = time_to_usable(f"{server.url}/cozygen/", args.runs)
        finally:
            server.stop()
    print(f"Time to the first usable screen (390x844 phone, CPU 4x slower, local server, {args.runs} runs):")
    print(f"  cold (empty cache): median {statistics.median(cold):6.0f} ms  (min {min(cold):.0f}, max {max(cold):.0f})")
    print(f"  warm (cached):      median {statistics.median(warm):6.0f} ms  (min {min(warm):.0f}, max {max(warm):.0f})")


if __name__ == "__main__":
    main()
