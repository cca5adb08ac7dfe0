"""Real Chromium (Debian's) driven by Playwright, and the login form filled in as a person does."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.kits.hubkit import PASSWORD, Hub

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--autoplay-policy=no-user-gesture-required"]


@contextmanager
def chromium() -> Iterator[Browser]:
    """A headless Chromium for the block (fails the test where it is not installed)."""
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: run `make test` as root, or apt-get install chromium")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def login(page: Page, hub: Hub, user: str, shots: Path | None = None) -> None:
    """Log ``user`` in through the login page (a screenshot of it into ``shots`` if given)."""
    page.goto(f"{hub.url}/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    if shots:
        page.screenshot(path=str(shots / "01-login.png"))
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)
