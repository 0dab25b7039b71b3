"""JWT access tokens (HS256, claims `sub` and `exp`) for sockets and the REST API."""

from __future__ import annotations

import time
from typing import Any

import jwt
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from rest_framework import authentication, exceptions
from rest_framework.request import Request

ALGORITHM = "HS256"


class InvalidToken(Exception):
    """The token is malformed, badly signed, expired, or names no active user."""


def token_issue(*, user: AbstractBaseUser, ttl_seconds: int | None = None) -> tuple[str, int]:
    """A signed access token for `user` and its lifetime in seconds."""
    ttl = ttl_seconds if ttl_seconds is not None else settings.JWT_TTL_SECONDS
    now = int(time.time())
    claims = {"sub": str(user.pk), "iat": now, "exp": now + ttl}
    return jwt.encode(claims, settings.JWT_SECRET, algorithm=ALGORITHM), ttl


def token_subject(token: str) -> int:
    """The user id a well-signed, unexpired token names. Touches no database."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token, settings.JWT_SECRET, algorithms=[ALGORITHM], options={"require": ["exp", "sub"]}
        )
        return int(claims["sub"])
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        raise InvalidToken(str(exc)) from exc


def users_active(user_ids: list[int]) -> list[AbstractBaseUser | InvalidToken]:
    """The active user of each id, or InvalidToken for an id that names none. Sync, one query."""
    found = {
        user.pk: user
        for user in get_user_model().objects.filter(pk__in=set(user_ids), is_active=True)
    }
    return [found.get(user_id) or InvalidToken("no such user") for user_id in user_ids]


def token_user(token: str) -> AbstractBaseUser:
    """The active user a token names. Sync: touches the database."""
    user = users_active([token_subject(token)])[0]
    if isinstance(user, InvalidToken):
        raise user
    return user


class BearerTokenAuthentication(authentication.BaseAuthentication):
    """DRF authentication by `Authorization: Bearer <jwt>`."""

    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[AbstractBaseUser, str] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Authorization header must be 'Bearer <token>'.")
        try:
            token = header[1].decode()
            return token_user(token), token
        except (InvalidToken, UnicodeDecodeError) as exc:
            raise exceptions.AuthenticationFailed("Invalid or expired token.") from exc

    def authenticate_header(self, request: Request) -> str:
        return self.keyword
