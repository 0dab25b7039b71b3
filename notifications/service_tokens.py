"""Service tokens: create (the secret is returned once), revoke, and recognise one in use.

A secret is `rts_` and 43 URL-safe characters (256 random bits); only its
SHA-256 is stored, so a copy of the database does not hold a usable token.
Each use, and each refusal of a known token, is logged with the token's name
and id, never its secret.
"""

from __future__ import annotations

import hashlib
import logging
import secrets

from django.contrib.auth.base_user import AbstractBaseUser
from django.utils import timezone

from .models import ServiceToken

PREFIX = "rts_"
NAME_MAX_LENGTH = ServiceToken._meta.get_field("name").max_length or 100
# Longer than any secret this module makes: such a header is refused without hashing it.
SECRET_MAX_LENGTH = 100

logger = logging.getLogger(__name__)


class ServiceTokenInvalid(ValueError):
    """A service token cannot be created as asked (its name)."""


def is_service_secret(value: str) -> bool:
    """Whether a bearer credential is meant as a service token (a JWT never starts so)."""
    return value.startswith(PREFIX)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def service_token_create(
    *,
    name: str,
    created_by: AbstractBaseUser | None = None,
    scope: str = ServiceToken.Scope.PUBLISH,
) -> tuple[ServiceToken, str]:
    """Store a new token; returns it and its secret, which is never available again."""
    name = name.strip()
    if not name or len(name) > NAME_MAX_LENGTH:
        raise ServiceTokenInvalid(f"The name must be 1-{NAME_MAX_LENGTH} characters.")
    if scope not in ServiceToken.Scope.values:
        raise ServiceTokenInvalid(f"Unknown scope {scope!r}.")
    secret = PREFIX + secrets.token_urlsafe(32)
    token = ServiceToken.objects.create(
        name=name,
        scope=scope,
        key_hash=_digest(secret),
        created_by_id=created_by.pk if created_by is not None else None,
    )
    logger.info("service token %r (#%d) created, scope %s", token.name, token.pk, token.scope)
    return token, secret


def service_tokens_revoke(*, ids: list[int]) -> int:
    """Revoke the tokens `ids` (those not revoked yet); they are refused from the next request."""
    revoking = ServiceToken.objects.filter(pk__in=ids, revoked_at__isnull=True)
    names = list(revoking.values_list("pk", "name"))
    count = revoking.update(revoked_at=timezone.now())
    for pk, name in names:
        logger.info("service token %r (#%d) revoked", name, pk)
    return count


def service_token_use(secret: str, *, scope: str, action: str) -> ServiceToken | None:
    """The live token `secret` names if it holds `scope`, its use recorded; else None. Sync.

    `action` says what it is used for, for the log. Recording is one UPDATE
    of `last_used`.
    """
    if not is_service_secret(secret) or len(secret) > SECRET_MAX_LENGTH:
        return None
    token = ServiceToken.objects.filter(key_hash=_digest(secret)).first()
    if token is None:
        logger.warning("unknown service token refused: %s", action)
        return None
    if token.revoked or token.scope != scope:
        why = "revoked" if token.revoked else f"scope {token.scope}"
        logger.warning("service token %r (#%d) refused (%s): %s", token.name, token.pk, why, action)
        return None
    token.last_used = timezone.now()
    ServiceToken.objects.filter(pk=token.pk).update(last_used=token.last_used)
    logger.info("service token %r (#%d) used: %s", token.name, token.pk, action)
    return token
