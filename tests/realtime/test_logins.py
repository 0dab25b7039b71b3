"""Failed logins are limited per username and per client address, on the API and the pages."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest
from django.contrib.auth.backends import ModelBackend
from django.test import Client as HttpClient
from rest_framework.test import APIClient

from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def limits(settings: Any) -> Any:
    settings.LOGIN_FAILURES_PER_USERNAME = 5
    settings.LOGIN_FAILURES_PER_IP = 100
    settings.LOGIN_FAILURES_WINDOW_SECONDS = 900
    return settings


@pytest.fixture
def password_checks() -> Iterator[mock.MagicMock]:
    """Counts the passwords actually checked (ModelBackend.authenticate calls)."""
    real = ModelBackend.authenticate
    with mock.patch.object(ModelBackend, "authenticate", autospec=True, side_effect=real) as checks:
        yield checks


def _token(username: str, password: str, ip: str = "10.0.0.1") -> Any:
    return APIClient(REMOTE_ADDR=ip).post(
        "/api/token/", {"username": username, "password": password}, format="json"
    )


def test_five_failures_lock_the_username(user: Any, limits: Any, password_checks: Any) -> None:
    for _ in range(5):
        assert _token("alice", "wrong").status_code == 401
    password_checks.reset_mock()
    response = _token("alice", PASSWORD)
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 900
    error = response.json()["error"]
    assert error["code"] == "rate_limited" and "failed logins" in error["message"]
    assert password_checks.call_count == 0  # not even checked


def test_the_lock_is_per_username_and_any_address(user: Any, limits: Any) -> None:
    for n in range(5):
        _token("alice", "wrong", ip=f"10.0.{n}.1")
    assert _token("alice", PASSWORD, ip="10.9.9.9").status_code == 429
    assert _token("Alice", PASSWORD, ip="10.9.9.9").status_code == 429
    UserFactory(username="bob")
    assert _token("bob", PASSWORD).status_code == 200


def test_successes_do_not_count_and_reset_the_username(user: Any, limits: Any) -> None:
    for _ in range(20):
        assert _token("alice", PASSWORD).status_code == 200
    for _ in range(4):
        _token("alice", "wrong")
    assert _token("alice", PASSWORD).status_code == 200
    for _ in range(4):
        _token("alice", "wrong")
    assert _token("alice", PASSWORD).status_code == 200


def test_many_users_behind_one_address_still_log_in(limits: Any) -> None:
    users = [UserFactory(username=f"staff{n}").get_username() for n in range(40)]
    for name in users:  # everyone mistypes once, then logs in, all from the proxy's address
        assert _token(name, "typo", ip="192.0.2.7").status_code == 401
        assert _token(name, PASSWORD, ip="192.0.2.7").status_code == 200


def test_failures_from_one_address_are_limited(limits: Any, password_checks: Any) -> None:
    limits.LOGIN_FAILURES_PER_IP = 10
    UserFactory(username="carol")
    for n in range(10):
        assert _token(f"nobody{n}", "guess", ip="198.51.100.1").status_code == 401
    password_checks.reset_mock()
    assert _token("carol", PASSWORD, ip="198.51.100.1").status_code == 429
    assert password_checks.call_count == 0
    assert _token("carol", PASSWORD, ip="198.51.100.2").status_code == 200


def test_ipv6_addresses_of_one_network_count_together(limits: Any) -> None:
    limits.LOGIN_FAILURES_PER_IP = 3
    UserFactory(username="carol")
    for n in range(3):
        _token(f"nobody{n}", "guess", ip=f"2001:db8:1:2::{n + 1}")
    assert _token("carol", PASSWORD, ip="2001:db8:1:2::ffff").status_code == 429
    assert _token("carol", PASSWORD, ip="2001:db8:1:3::1").status_code == 200


def test_the_window_ends(user: Any, limits: Any, monkeypatch: Any) -> None:
    for _ in range(5):
        _token("alice", "wrong")
    assert _token("alice", PASSWORD).status_code == 429
    later = (time.time() + 901) * 1000
    monkeypatch.setattr("realtime.ratelimit._now_ms", lambda: later)
    assert _token("alice", PASSWORD).status_code == 200


def _page_login(client: HttpClient, username: str, password: str) -> Any:
    return client.post("/login/", {"username": username, "password": password})


def test_the_login_page_says_why(user: Any, limits: Any, password_checks: Any) -> None:
    page = HttpClient(REMOTE_ADDR="10.0.0.1")
    for _ in range(5):
        assert _page_login(page, "alice", "wrong").status_code == 200
    password_checks.reset_mock()
    response = _page_login(page, "alice", PASSWORD)
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert "Too many failed logins" in response.content.decode()
    assert password_checks.call_count == 0
    assert "_auth_user_id" not in page.session


def test_the_page_and_the_api_count_together(user: Any, limits: Any) -> None:
    page = HttpClient(REMOTE_ADDR="10.0.0.1")
    for _ in range(3):
        _page_login(page, "alice", "wrong")
    for _ in range(2):
        _token("alice", "wrong")
    assert _token("alice", PASSWORD).status_code == 429


def test_the_login_page_still_logs_in(user: Any, limits: Any) -> None:
    page = HttpClient()
    response = _page_login(page, "alice", PASSWORD)
    assert response.status_code == 302
    assert page.session["_auth_user_id"] == str(user.pk)


def test_the_admin_login_is_limited_too(limits: Any) -> None:
    UserFactory(username="root", is_staff=True, is_superuser=True)
    page = HttpClient()
    for _ in range(5):
        page.post("/admin/login/", {"username": "root", "password": "wrong"})
    response = page.post("/admin/login/", {"username": "root", "password": PASSWORD})
    assert "Too many failed logins" in response.content.decode()
    assert "_auth_user_id" not in page.session
