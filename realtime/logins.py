"""Failed logins, limited per username and per client address, before a password is checked.

Every way in with a password goes through `login_authenticate`: `POST
/api/token/`, the login page and the admin's. Only failures count: a
username is refused for the rest of its window after
LOGIN_FAILURES_PER_USERNAME failures (a success clears its count), and an
address after LOGIN_FAILURES_PER_IP, loose enough for many users behind one
proxy. The window opens at the first failure and lasts
LOGIN_FAILURES_WINDOW_SECONDS. While refused, the password is not even
checked. Counts live in Redis with REDIS_URL (every process), else in this
process.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import math
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import authenticate
from django.contrib.auth import views as auth_views
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse
from django.views.decorators.debug import sensitive_variables

from .ratelimit import window_add, window_clear, window_count

logger = logging.getLogger(__name__)


class LoginLimited(Exception):
    """Too many failed logins for this username or from this address; retry after `seconds`."""

    def __init__(self, seconds: int) -> None:
        super().__init__(f"too many failed logins; retry after {seconds} s")
        self.seconds = seconds

    summary = "Too many failed logins for this account or from your network."

    @property
    def message(self) -> str:
        minutes = math.ceil(self.seconds / 60)
        return f"{self.summary} Try again in {minutes} minute{'s' if minutes != 1 else ''}."


def client_network(request: HttpRequest | None) -> str:
    """The address failures are counted under: the client's IPv4 address, or its IPv6 /64.

    One IPv6 subscriber holds a whole /64, so single addresses would be free to
    rotate. REMOTE_ADDR is the client as the server saw it (behind a proxy,
    the server's proxy-header handling sets it).
    """
    raw = (request.META.get("REMOTE_ADDR") if request is not None else None) or "unknown"
    try:
        address = ipaddress.ip_address(raw)
    except ValueError:
        return raw[:64]
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is None:
        return str(ipaddress.IPv6Network(f"{address}/64", strict=False))
    return str(address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else address)


def _keys(username: str, request: HttpRequest | None) -> tuple[str, str]:
    # A digest: usernames are whatever a client typed; keys stay short and plain.
    name = hashlib.sha256(username.casefold().encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"login:user:{name}", f"login:ip:{client_network(request)}"


def _refused_for_ms(user_key: str, ip_key: str) -> int:
    waits = [0]
    for key, limit in (
        (user_key, settings.LOGIN_FAILURES_PER_USERNAME),
        (ip_key, settings.LOGIN_FAILURES_PER_IP),
    ):
        count, left_ms = window_count(key=key)
        if count >= limit:
            waits.append(left_ms)
    return max(waits)


@sensitive_variables("password")
def login_authenticate(
    *, request: HttpRequest | None, username: str, password: str
) -> AbstractBaseUser | None:
    """The active user these credentials name, or None (a failure, counted). Sync.

    Raises LoginLimited, without checking the password, while the username or
    the client's address is over its limit.
    """
    user_key, ip_key = _keys(username, request)
    refused_ms = _refused_for_ms(user_key, ip_key)
    if refused_ms > 0:
        raise LoginLimited(math.ceil(refused_ms / 1000))
    user = authenticate(request, username=username, password=password)
    if user is not None:
        window_clear(key=user_key)
        return user
    window = settings.LOGIN_FAILURES_WINDOW_SECONDS
    by_user = window_add(key=user_key, window_seconds=window)
    by_ip = window_add(key=ip_key, window_seconds=window)
    if by_user == settings.LOGIN_FAILURES_PER_USERNAME or by_ip == settings.LOGIN_FAILURES_PER_IP:
        logger.warning(
            "failed logins reached the limit: username %r %s, address %s %s",
            username[:150],
            f"{by_user}/{settings.LOGIN_FAILURES_PER_USERNAME}",
            client_network(request),
            f"{by_ip}/{settings.LOGIN_FAILURES_PER_IP}",
        )
    return None


class LimitedLoginMixin:
    """For an AuthenticationForm: authenticates through `login_authenticate`.

    Over a limit, the form has a non-field error saying so and `limited` holds
    the LoginLimited.
    """

    request: HttpRequest | None
    cleaned_data: dict[str, Any]
    user_cache: Any
    limited: LoginLimited | None = None

    @sensitive_variables()
    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if username is not None and password:
            try:
                self.user_cache = login_authenticate(
                    request=self.request, username=username, password=password
                )
            except LoginLimited as exc:
                self.limited = exc
                raise forms.ValidationError(exc.message, code="rate_limited") from None
            if self.user_cache is None:
                raise self.get_invalid_login_error()  # type: ignore[attr-defined]
            self.confirm_login_allowed(self.user_cache)  # type: ignore[attr-defined]
        return self.cleaned_data


class LoginForm(LimitedLoginMixin, AuthenticationForm):
    """The login page's form."""


class AdminLoginForm(LimitedLoginMixin, AdminAuthenticationForm):
    """The admin's login form."""


def limited_response(response: HttpResponse, form: Any) -> HttpResponse:
    """A login page refused by a limit answers 429 with Retry-After (the form says why)."""
    limited = getattr(form, "limited", None)
    if limited is not None:
        response.status_code = 429
        response["Retry-After"] = str(limited.seconds)
    return response


class LoginView(auth_views.LoginView):
    """Django's login page, with failed logins limited."""

    form_class = LoginForm

    def form_invalid(self, form: Any) -> HttpResponse:
        return limited_response(super().form_invalid(form), form)
