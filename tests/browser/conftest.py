"""What every browser test shares: one headless Chromium per module (scripts/comfyui_host.launch_chromium)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, sync_playwright


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    import comfyui_host

    with sync_playwright() as playwright:
        chromium = comfyui_host.launch_chromium(playwright)
        yield chromium
        chromium.close()
