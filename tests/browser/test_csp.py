"""Every page works under the Content-Security-Policy: the browser blocks nothing."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import Page, expect

from tests.collab.factories import DocumentFactory
from tests.dashboards.factories import DashboardFactory
from tests.factories import RoomFactory, UserFactory


def _blocked(page: Page) -> list[str]:
    """Collects what the browser reports blocking under the page's policy from now on."""
    blocked: list[str] = []
    page.on(
        "console",
        lambda message: (
            blocked.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    return blocked


def test_the_pages_run_their_scripts_and_open_their_sockets(
    open_page: Callable[..., Page],
) -> None:
    alice = UserFactory(username="alice", is_staff=True)
    RoomFactory(slug="lobby", name="Lobby")
    document = DocumentFactory(owner=alice, content="hello")
    dashboard = DashboardFactory()
    page = open_page("alice", "/")
    blocked = _blocked(page)
    page.goto("/rooms/lobby/")
    expect(page.locator("#chat")).to_have_attribute("data-state", "open")
    page.goto(f"/docs/{document.pk}/")
    expect(page.locator("#collab")).to_have_attribute("data-state", "open")
    expect(page.locator("#editor")).to_have_value("hello")
    page.goto(f"/dashboards/{dashboard.slug}/")
    expect(page.locator("#dashboard")).to_have_attribute("data-state", "open")
    assert blocked == []


def test_the_api_docs_page_runs_under_the_policy(open_page: Callable[..., Page]) -> None:
    UserFactory(username="alice")
    page = open_page("alice", "/")
    blocked = _blocked(page)
    page.goto("/api/schema/ui/")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Realtime API")
    assert [text for text in blocked if "script" in text.lower()] == []
