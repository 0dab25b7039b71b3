"""The business dashboard in a real browser: tiles move without a reload."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from playwright.sync_api import Page, expect

from dashboards.demo import seed
from notifications.models import Order
from tests.factories import UserFactory


def test_revenue_tile_moves_when_an_order_is_placed(open_page: Callable[..., Page]) -> None:
    seed(users={})
    alice = UserFactory(username="alice")
    page = open_page("alice", "/dashboards/business/")
    expect(page.locator("#conn-state")).to_have_attribute("data-state", "open")
    revenue = page.locator('[data-metric="revenue_today"] .tile-value')
    expect(revenue).to_have_text("$0.00")
    expect(page.locator('[data-metric="active_users"] .tile-value')).to_have_text("1")
    Order.objects.create(customer=alice, item="Desk lamp", amount=Decimal("12.50"))
    expect(revenue).to_have_text("$12.50")
    expect(page.locator('[data-metric="orders_today"] .tile-value')).to_have_text("1")
    expect(page.locator("#sales-ticker li").first).to_contain_text("Desk lamp")
    # The sparkline draws the values the page has seen.
    expect(page.locator('[data-metric="revenue_today"] .sparkline path')).not_to_have_attribute(
        "d", ""
    )


def test_like_button_moves_the_likes_tile(open_page: Callable[..., Page]) -> None:
    seed(users={})
    UserFactory(username="alice")
    page = open_page("alice", "/dashboards/business/")
    likes = page.locator('[data-metric="likes_today"] .tile-value')
    expect(likes).to_have_text("0")
    page.get_by_role("button", name="Like").click()
    page.get_by_role("button", name="Like").click()
    expect(likes).to_have_text("2")


def test_staff_only_dashboard_is_refused_to_others(open_page: Callable[..., Page]) -> None:
    seed(users={})
    UserFactory(username="alice")
    page = open_page("alice", "/dashboards/")
    expect(page.get_by_role("link", name="Business")).to_be_visible()
    expect(page.get_by_role("link", name="System")).to_have_count(0)
