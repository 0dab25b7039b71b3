"""The login page works in a real browser and lands on the room list."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import Page, expect

from tests.factories import RoomFactory, UserFactory


def test_login_lands_on_rooms(open_page: Callable[..., Page]) -> None:
    UserFactory(username="alice")
    RoomFactory(slug="lobby", name="Lobby")
    page = open_page("alice", "/")
    expect(page.get_by_role("link", name="Lobby")).to_be_visible()
