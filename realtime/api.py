"""Core REST endpoints (`/api/token/`, `/healthz`) and the error envelope of every API."""

from __future__ import annotations

import asyncio
from typing import Any

from asgiref.sync import async_to_sync
from django.db import connection
from django.http import HttpRequest, JsonResponse
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView, exception_handler

from .broadcast import channel_layer
from .logins import LoginLimited, login_authenticate
from .tokens import token_issue

_CODES = {
    status.HTTP_400_BAD_REQUEST: "invalid",
    status.HTTP_401_UNAUTHORIZED: "not_authenticated",
    status.HTTP_403_FORBIDDEN: "forbidden",
    status.HTTP_404_NOT_FOUND: "not_found",
    status.HTTP_405_METHOD_NOT_ALLOWED: "method_not_allowed",
    status.HTTP_429_TOO_MANY_REQUESTS: "rate_limited",
}


def error_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF errors as `{"error": {"code", "message", "fields"?}}` with the right status."""
    response = exception_handler(exc, context)
    if response is None:
        return None
    error: dict[str, Any] = {"code": _CODES.get(response.status_code, "error")}
    if isinstance(exc, exceptions.ValidationError) and isinstance(response.data, dict):
        error["message"] = "Some fields are invalid."
        error["fields"] = response.data
    elif isinstance(response.data, dict) and "detail" in response.data:
        error["message"] = str(response.data["detail"])
    else:
        error["message"] = str(response.data)
    wait = getattr(exc, "wait", None)  # seconds, rounded up
    if isinstance(exc, exceptions.Throttled) and wait is not None:
        error["retry_after_ms"] = wait * 1000  # as a socket's `rate_limited` carries it
    response.data = {"error": error}
    return response


class StrictCharField(serializers.CharField):
    """A CharField that refuses numbers and booleans instead of turning them into text."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return str(super().to_internal_value(data))


class UserOut(serializers.Serializer[Any]):
    """The schema of a user as the protocol shows it (`realtime.frames.user_json`)."""

    id = serializers.IntegerField()
    username = serializers.CharField()


class TokenRequest(serializers.Serializer[Any]):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=1024, trim_whitespace=False)


class TokenView(APIView):
    """Exchange a username and password for a JWT access token."""

    permission_classes = [AllowAny]
    authentication_classes: list[Any] = []

    def get_authenticate_header(self, request: Request) -> str:
        # Wrong credentials are a 401 (with this header), not a 403.
        return "Bearer"

    @extend_schema(
        request=TokenRequest,
        responses=inline_serializer(
            "Token", {"access": serializers.CharField(), "expires_in": serializers.IntegerField()}
        ),
    )
    def post(self, request: Request) -> Response:
        form = TokenRequest(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            user = login_authenticate(
                request=request._request,
                username=form.validated_data["username"],
                password=form.validated_data["password"],
            )
        except LoginLimited as exc:
            raise exceptions.Throttled(exc.seconds, LoginLimited.summary) from None
        if user is None:
            raise exceptions.AuthenticationFailed("Wrong username or password.")
        access, ttl = token_issue(user=user)
        return Response({"access": access, "expires_in": ttl})


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except Exception:
        return False


async def _layer_round_trip() -> None:
    layer = channel_layer()
    channel = await layer.new_channel(prefix="healthz.")
    await layer.send(channel, {"type": "healthz.ping"})
    await asyncio.wait_for(layer.receive(channel), timeout=2)


def _channel_layer_ok() -> bool:
    try:
        async_to_sync(_layer_round_trip)()
        return True
    except Exception:
        return False


def healthz(request: HttpRequest) -> JsonResponse:
    """200 when the database and the channel layer answer, 503 naming what failed."""
    checks = {
        "db": "ok" if _database_ok() else "failed",
        "channel_layer": "ok" if _channel_layer_ok() else "failed",
    }
    healthy = all(value == "ok" for value in checks.values())
    return JsonResponse(checks, status=200 if healthy else 503)
