"""Headless Chromium from the distribution, driven by Playwright (no browser download).

The browser tests share this: where the binary is, the flags that keep it
from reaching the network, the skip when it is absent, and a page fixture.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Page, async_playwright

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
WAIT_MS = 30_000

EXECUTABLE = str(CHROMIUM) if CHROMIUM.exists() else shutil.which("chromium")

needs_chromium = pytest.mark.skipif(
    EXECUTABLE is None,
    reason="no Chromium installed (apt-get install chromium); the browser test needs it")


@pytest.fixture
async def browser_page(tmp_path: Path) -> AsyncIterator[Page]:
    assert EXECUTABLE is not None
    async with async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=EXECUTABLE, headless=True,
            args=LAUNCH_FLAGS)
        try:
            page = context.pages[0] if context.pages else await context.new_page()
            page.set_default_timeout(WAIT_MS)
            yield page
        finally:
            await context.close()
