"""The notification bell in a real browser against a real daphne process.

An order placed through the REST API lights up the shop owner's bell (badge
and toast) without a reload; reading in one tab clears the badge in another;
an alert sent while the owner was away is waiting when they come back.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from typing import Any

from playwright.sync_api import Page, expect

from tests.conftest import token_for
from tests.factories import UserFactory
from tests.servers import Server


def api_post(server: Server, path: str, body: dict[str, Any], token: str) -> Any:
    request = urllib.request.Request(
        f"{server.http}{path}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 201
        return json.loads(response.read())


def bell(page: Page) -> Any:
    return page.locator("#notification-bell")


def live(page: Page) -> None:
    expect(bell(page)).to_have_attribute("data-state", "open")


def test_an_order_lights_up_the_owners_bell(
    open_page: Callable[..., Page], site_server: Server
) -> None:
    UserFactory(username="owner", is_staff=True)
    customer = UserFactory(username="customer")
    owner = open_page("owner", "/notifications/")
    live(owner)
    expect(owner.locator(".bell-badge")).to_be_hidden()

    order = api_post(
        site_server, "/api/orders/", {"amount": "42.00", "item": "Teapot"}, token_for(customer)
    )

    expect(owner.locator(".bell-badge")).to_have_text("1")
    toast = owner.locator("#notification-toasts .toast")
    expect(toast).to_contain_text(f"New order #{order['id']}")
    expect(toast).to_contain_text("customer ordered Teapot for 42.00.")

    owner.click(".bell-button")
    item = owner.locator(".bell-list .bell-item")
    expect(item).to_have_count(1)
    expect(item).to_have_class("bell-item unread")
    item.get_by_role("button", name="Mark as read").click()
    expect(owner.locator(".bell-badge")).to_be_hidden()
    expect(item).to_have_class("bell-item")


def test_reading_in_one_tab_clears_the_badge_in_the_other(
    open_page: Callable[..., Page], site_server: Server
) -> None:
    staff = UserFactory(username="staff", is_staff=True)
    UserFactory(username="alice")
    first = open_page("alice", "/")
    second = first.context.new_page()
    second.goto("/notifications/")
    for tab in (first, second):
        live(tab)
    for title in ("Deploy tonight", "Deploy done"):
        api_post(
            site_server,
            "/api/notifications/",
            {"users": "all", "kind": "system_alert", "title": title},
            token_for(staff),
        )
    for tab in (first, second):
        expect(tab.locator(".bell-badge")).to_have_text("2")
        expect(tab.locator("#notification-toasts .toast")).to_have_count(2)

    first.click(".bell-button")
    first.get_by_role("button", name="Mark all read").click()
    expect(first.locator(".bell-badge")).to_be_hidden()
    expect(second.locator(".bell-badge")).to_be_hidden()
    expect(bell(second)).to_have_attribute("data-unread", "0")


def test_an_alert_sent_while_away_is_waiting_on_return(
    open_page: Callable[..., Page], site_server: Server
) -> None:
    staff = UserFactory(username="staff", is_staff=True)
    UserFactory(username="owner", is_staff=True)
    owner = open_page("owner", "/")
    live(owner)
    context = owner.context
    owner.close()  # the owner goes offline

    api_post(
        site_server,
        "/api/alerts/",
        {"title": "Payments are down", "body": "We are on it.", "level": "critical"},
        token_for(staff),
    )

    back = context.new_page()
    back.goto("/")
    live(back)
    expect(back.locator(".bell-badge")).to_have_text("1")
    expect(back.locator("#notification-toasts .toast")).to_contain_text("Payments are down")
