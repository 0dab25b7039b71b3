"""Content-Security-Policy: every page carries it, and no page needs inline script."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from django.test import Client as HttpClient

from tests.collab.factories import DocumentFactory
from tests.dashboards.factories import DashboardFactory
from tests.factories import RoomFactory, UserFactory

pytestmark = pytest.mark.django_db

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


class _InlineCode(HTMLParser):
    """Collects what a policy without 'unsafe-inline' would block in a page."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        for name in names:
            if name.startswith("on") or name == "style":
                self.found.append(f"<{tag} {name}=...>")
        if tag == "style":
            self.found.append("<style>")
        # A data block (<script type="application/json">) is not run, so not blocked.
        self._in_script = tag == "script" and "src" not in names
        self._in_script &= names.get("type") != "application/json"

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.found.append(f"<script>{data.strip()[:40]}")

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False


def _inline_code(html: str) -> list[str]:
    parser = _InlineCode()
    parser.feed(html)
    return parser.found


def _directives(policy: str) -> dict[str, list[str]]:
    directives = {}
    for part in policy.split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


@pytest.mark.parametrize("path", [str(path) for path in sorted(TEMPLATES.rglob("*.html"))])
def test_no_template_has_inline_script_or_style(path: str) -> None:
    assert _inline_code(Path(path).read_text()) == []


def test_every_page_carries_the_policy_and_has_no_inline_code() -> None:
    staff = UserFactory(username="staff", is_staff=True, is_superuser=True)
    room = RoomFactory(slug="lobby")
    document = DocumentFactory(owner=staff)
    dashboard = DashboardFactory()
    client = HttpClient()
    assert "Content-Security-Policy" in client.get("/login/").headers
    client.force_login(staff)
    pages = [
        "/login/",
        "/",
        f"/rooms/{room.slug}/",
        "/notifications/",
        "/notifications/shop/",
        "/notifications/friends/",
        "/docs/",
        f"/docs/{document.pk}/",
        f"/admin/collab/document/{document.pk}/ops/?version=0",
        "/dashboards/",
        f"/dashboards/{dashboard.slug}/",
        "/admin/",
        "/admin/chat/room/",
    ]
    for page in pages:
        response = client.get(page)
        assert response.status_code == 200, page
        policy = _directives(response.headers["Content-Security-Policy"])
        assert policy["script-src"] == ["'self'"], page
        assert policy["style-src"] == ["'self'"], page
        assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"]
        assert _inline_code(response.content.decode()) == [], page


def test_the_policy_comes_from_the_setting(settings: Any) -> None:
    settings.CONTENT_SECURITY_POLICY = "default-src 'none'"
    assert HttpClient().get("/login/").headers["Content-Security-Policy"] == "default-src 'none'"
    settings.CONTENT_SECURITY_POLICY = ""
    assert "Content-Security-Policy" not in HttpClient().get("/login/").headers


def test_the_api_docs_page_loads_its_script_from_a_url_under_its_own_policy() -> None:
    client = HttpClient()
    client.force_login(UserFactory())
    page = client.get("/api/schema/ui/")
    assert page.status_code == 200
    policy = _directives(page.headers["Content-Security-Policy"])
    assert "'unsafe-inline'" not in policy["script-src"]
    assert [code for code in _inline_code(page.content.decode()) if "<script" in code] == []
    script = client.get("/api/schema/ui/?script=")
    assert script.status_code == 200
    assert script.headers["Content-Type"].startswith("application/javascript")
    assert b"SwaggerUIBundle" in script.content
