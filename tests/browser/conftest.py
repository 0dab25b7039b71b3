"""Headless Chromium (Debian's) driven by Playwright, against a real daphne process."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from tests.factories import PASSWORD
from tests.servers import Server

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One Chromium per test module.

    While Playwright's sync API runs, this thread has a running event loop, and
    Django refuses ORM calls from it; the tests' own set-up is plain sync code,
    so that check is lifted here, for this module only.
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(
                executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
            )
            yield chromium
            chromium.close()


@pytest.fixture
def site_server(servers: Callable[..., Server]) -> Server:
    """One daphne process serving the site on the test database."""
    return servers()


@pytest.fixture
def open_page(browser: Browser, site_server: Server) -> Iterator[Callable[..., Page]]:
    """A page in a fresh browser context (its own cookies), logged in as `username`."""
    contexts: list[BrowserContext] = []

    def open_as(username: str, path: str = "/", *, password: str = PASSWORD) -> Page:
        context = browser.new_context(base_url=site_server.http)
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        page.goto(f"/login/?next={path}")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")
        page.wait_for_url(f"**{path}")
        return page

    yield open_as
    for context in contexts:
        context.close()


def pytest_collection_modifyitems(items: list[Any]) -> None:
    for item in items:
        if "tests/browser/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)
