"""Who may send notifications through the REST API: staff, and service tokens.

A service token (`Authorization: Bearer rts_...`, `manage.py notify_token`, or
the admin) is accepted by `POST /api/notifications/` alone: the view lists
ServiceTokenAuthentication, no other view does, and on any other method it
answers 401. Everywhere else the JWT authentication refuses it (401), and a
socket closes with 4401.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from rest_framework import authentication, exceptions
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from .models import ServiceToken
from .service_tokens import is_service_secret, service_token_use

SEND_PERMISSION = "notifications.add_notification"


def may_send(user: Any) -> bool:
    """Staff users, and users granted `notifications.add_notification`."""
    return bool(
        user is not None
        and user.is_authenticated
        and user.is_active
        and (user.is_staff or user.has_perm(SEND_PERMISSION))
    )


class ServicePrincipal:
    """`request.user` of a request made with a service token: not a user, and no one's rights.

    `rate_key` gives the token a rate budget of its own (realtime/throttling.py).
    """

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    pk = None
    id = None

    def __init__(self, token: ServiceToken) -> None:
        self.token = token
        self.rate_key = f"service:{token.pk}"

    def __str__(self) -> str:
        return f"service token {self.token}"

    def get_username(self) -> str:
        return str(self)

    def has_perm(self, perm: str, obj: Any = None) -> bool:
        return False


class ServiceTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer rts_...` on POST: the service token publishing notifications.

    Other bearer credentials are left to the next authentication class.
    """

    keyword = b"bearer"

    def authenticate(self, request: Request) -> tuple[ServicePrincipal, ServiceToken] | None:
        header = authentication.get_authorization_header(request).split()
        if len(header) != 2 or header[0].lower() != self.keyword:
            return None
        try:
            secret = header[1].decode("ascii")
        except UnicodeDecodeError:
            return None
        if not is_service_secret(secret):
            return None
        if request.method != "POST":
            raise exceptions.AuthenticationFailed("A service token may only publish notifications.")
        token = service_token_use(
            secret, scope=ServiceToken.Scope.PUBLISH, action=f"POST {request.path}"
        )
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked service token.")
        return ServicePrincipal(token), token

    def authenticate_header(self, request: Request) -> str:
        return "Bearer"


class CanSendNotifications(BasePermission):
    message = "Only staff or a service token may send notifications."

    def has_permission(self, request: Request, view: Any) -> bool:
        if isinstance(request.auth, ServiceToken):
            return request.auth.scope == ServiceToken.Scope.PUBLISH
        return may_send(request.user)


class ServiceTokenScheme(OpenApiAuthenticationExtension):
    """How the OpenAPI schema shows a service token: `Authorization: Bearer rts_...`."""

    target_class = ServiceTokenAuthentication
    name = "serviceToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return dict(
            build_bearer_security_scheme_object(header_name="Authorization", token_prefix="Bearer")
        )
