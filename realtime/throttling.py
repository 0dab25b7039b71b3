"""Writes over HTTP take from the user's message bucket, the one their sockets take from.

`WriteThrottle` is in REST_FRAMEWORK's DEFAULT_THROTTLE_CLASSES, so every API
view limits its unsafe methods without asking; `PageWriteThrottleMiddleware`
does the same for the pages' forms. Over the limit: 429 with `Retry-After`
(seconds, rounded up). Reads are not limited, nor are anonymous requests
(the only anonymous write, logging in, has limits of its own: logins.py).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.http import HttpRequest, HttpResponse
from rest_framework.permissions import SAFE_METHODS
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from .ratelimit import message_rate_take_sync

if TYPE_CHECKING:
    # Not at run time: rest_framework.views reads DEFAULT_THROTTLE_CLASSES, which names this module.
    from rest_framework.views import APIView


def principal_bucket(user: Any) -> int | str | None:
    """Whose bucket a request takes from: the user's id, a principal's own `rate_key`, or None.

    A principal that is not a user (a service token) names its bucket with a
    `rate_key` attribute; anonymous requests have none.
    """
    if user is None or not user.is_authenticated:
        return None
    rate_key = getattr(user, "rate_key", None)
    return rate_key if rate_key is not None else user.pk


class WriteThrottle(BaseThrottle):
    """POST, PUT, PATCH and DELETE take one token from the principal's message bucket."""

    def __init__(self) -> None:
        self.wait_ms = 0

    def allow_request(self, request: Request, view: APIView) -> bool:
        if request.method in SAFE_METHODS:
            return True
        bucket = principal_bucket(request.user)
        if bucket is None:
            return True
        self.wait_ms = message_rate_take_sync(bucket)
        return self.wait_ms == 0

    def wait(self) -> float:
        return self.wait_ms / 1000


def _is_api_view(view_func: Callable[..., Any]) -> bool:
    from rest_framework.views import APIView

    view_class = getattr(view_func, "cls", None) or getattr(view_func, "view_class", None)
    return isinstance(view_class, type) and issubclass(view_class, APIView)


class PageWriteThrottleMiddleware:
    """Page writes (form posts) of a signed-in user take from the same bucket as the API's.

    Goes after AuthenticationMiddleware. API views are left to WriteThrottle,
    which also sees users authenticated by a token.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., Any],
        view_args: tuple[Any, ...],
        view_kwargs: dict[str, Any],
    ) -> HttpResponse | None:
        if request.method in SAFE_METHODS or _is_api_view(view_func):
            return None
        bucket = principal_bucket(getattr(request, "user", None))
        if bucket is None:
            return None
        wait_ms = message_rate_take_sync(bucket)
        if not wait_ms:
            return None
        seconds = math.ceil(wait_ms / 1000)
        return HttpResponse(
            f"Too many requests: try again in {seconds} s.",
            status=429,
            content_type="text/plain; charset=utf-8",
            headers={"Retry-After": str(seconds)},
        )
