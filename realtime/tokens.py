"""JWT access tokens (HS256, claims `sub`, `exp` and `gen`) for sockets and the REST API.

`gen` is the user's token generation when the token was issued: a password
change or a "log out everywhere" raises it, and every token issued before is
void from then on (realtime.models.Credentials).

Tokens are issued with PyJWT and checked here: every socket's handshake
checks one, on the event loop, and PyJWT's general decoder (any algorithm,
any key type, options merged per call) costs several times what the one
algorithm this project issues needs.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import time
from dataclasses import dataclass
from typing import Any

import jwt
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from .models import Credentials

ALGORITHM = "HS256"
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")


class InvalidToken(Exception):
    """The token is malformed, badly signed, expired, revoked, or names no active user."""


@dataclass(frozen=True)
class TokenClaims:
    """What a valid token says: whose it is, its generation and when it expires."""

    user_id: int
    generation: int
    expires: float


def token_generation(user: AbstractBaseUser) -> int:
    """The user's current token generation (0 until it first rises).

    Reads the `realtime_credentials` row, which `users_active` loads with the user.
    """
    credentials = getattr(user, "realtime_credentials", None)
    return credentials.token_generation if credentials is not None else 0


def token_issue(*, user: AbstractBaseUser, ttl_seconds: int | None = None) -> tuple[str, int]:
    """A signed access token for `user` and its lifetime in seconds. Sync: reads the generation."""
    ttl = ttl_seconds if ttl_seconds is not None else settings.JWT_TTL_SECONDS
    now = int(time.time())
    generation = (
        Credentials.objects.filter(user_id=user.pk)
        .values_list("token_generation", flat=True)
        .first()
    )
    claims = {"sub": str(user.pk), "iat": now, "exp": now + ttl, "gen": generation or 0}
    return jwt.encode(claims, settings.JWT_SECRET, algorithm=ALGORITHM), ttl


def token_subject(token: str) -> int:
    """The user id a well-signed, unexpired token names. Touches no database."""
    return token_claims(token).user_id


def token_claims(token: str) -> TokenClaims:
    """The claims of a well-signed, unexpired token. Touches no database.

    Only what `token_issue` makes passes: the header must name HS256 (no other
    algorithm, "none" least of all), the signature must match the secret,
    `exp` must be a number in the future, `nbf` (if present) in the past, and
    `sub` a user id. `iat` is informational (RFC 7519 4.1.6): a clock a little
    ahead on the issuing host does not void a token.
    """
    try:
        header, payload, signature = token.split(".")
        signed = f"{header}.{payload}".encode("ascii")
        expected = hmac.new(settings.JWT_SECRET.encode(), signed, hashlib.sha256).digest()
        if not hmac.compare_digest(expected, _b64decode(signature)):
            raise InvalidToken("bad signature")
        fields = _json_object(header)
        if fields.get("alg") != ALGORITHM:
            raise InvalidToken("not an HS256 token")
        if "crit" in fields:  # extensions that must be understood: none are (RFC 7515 4.1.11)
            raise InvalidToken("critical header extensions are not supported")
        claims = _json_object(payload)
        now = time.time()
        if not (_is_number(claims.get("exp")) and claims["exp"] > now):
            raise InvalidToken("expired or without exp")
        if "nbf" in claims and not (_is_number(claims["nbf"]) and claims["nbf"] <= now):
            raise InvalidToken("not valid yet")
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject.isascii() or not subject.isdigit():
            raise InvalidToken("sub is not a user id")
        generation = claims.get("gen", 0)
        if not isinstance(generation, int) or isinstance(generation, bool) or generation < 0:
            raise InvalidToken("gen is not a generation")
        return TokenClaims(user_id=int(subject), generation=generation, expires=claims["exp"])
    except (ValueError, UnicodeError, binascii.Error) as exc:
        raise InvalidToken(f"malformed token: {exc}") from exc


def _b64decode(segment: str) -> bytes:
    """base64url without padding; any other character is an error, not skipped."""
    if not _BASE64URL.fullmatch(segment):
        raise InvalidToken("not base64url")
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _json_object(segment: str) -> dict[str, Any]:
    value = json.loads(_b64decode(segment))
    if not isinstance(value, dict):
        raise InvalidToken("not a JSON object")
    return value


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def users_active(user_ids: list[int]) -> list[AbstractBaseUser | InvalidToken]:
    """The active user of each id (with its token generation), or InvalidToken. Sync, one query."""
    found = {
        user.pk: user
        for user in get_user_model()
        .objects.filter(pk__in=set(user_ids), is_active=True)
        .select_related("realtime_credentials")
    }
    return [found.get(user_id) or InvalidToken("no such user") for user_id in user_ids]


def token_check_user(claims: TokenClaims, user: AbstractBaseUser) -> None:
    """Raise InvalidToken if the token was issued before the user's credentials last changed."""
    if claims.generation != token_generation(user):
        raise InvalidToken("revoked: the credentials changed since it was issued")


def token_user(token: str) -> AbstractBaseUser:
    """The active user a token names. Sync: touches the database."""
    claims = token_claims(token)
    user = users_active([claims.user_id])[0]
    if isinstance(user, InvalidToken):
        raise user
    token_check_user(claims, user)
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
