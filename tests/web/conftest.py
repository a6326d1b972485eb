"""Debian's Chromium driven by Playwright (never a browser Playwright downloads itself)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    playwright_api = pytest.importorskip("playwright.sync_api")
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("Chromium is not installed (apt-get install chromium)")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def phone(browser):
    context = browser.new_context(viewport={"width": 360, "height": 740}, locale="vi-VN")
    page = context.new_page()
    yield page
    context.close()


def bot_texts(page) -> list[str]:
    return page.locator(".hl-bot").all_inner_texts()


def send(page, text: str) -> None:
    before = page.locator(".hl-bot").count()
    page.fill(".hl-form input", text)
    page.keyboard.press("Enter")
    wait_for_bot(page, before)


def wait_for_bot(page, before: int) -> None:
    """Until a reply beyond the first ``before`` shows. Locators, not a JavaScript predicate:
    the pages' Content Security Policy forbids evaluating strings, as it should."""
    page.locator(".hl-bot").nth(before).wait_for(timeout=30_000)
