"""Changes that can end access, however they are made (admin, REST, commands, the ORM).

Users (connected here): a password change voids the user's tokens and closes
their sockets (4401), and so do deactivation, deletion and logout (the
sockets of that session); a change of the staff or superuser flag has their
sockets check their access again.

Targets (each app calls `access_follows()` for its model in `ready()`):
saving or deleting a room, document or dashboard, or removing users from its
members, has the sockets on it check their access again.

`QuerySet.update()`, `bulk_update()` and raw SQL send no signals: code that
changes access that way calls `realtime.access.users_revoked()` or
`access_changed()` itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.signals import user_logged_out
from django.db import models
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_save
from django.http import HttpRequest

from .access import access_changed, credentials_revoke, users_revoked

# The fields of a user that decide access (absent ones are skipped: a custom user model).
_WATCHED = ("password", "is_active", "is_staff", "is_superuser")
_BEFORE = "_realtime_access_before"
_CLEARED = "_realtime_access_cleared"


def _watched_fields(sender: type[AbstractBaseUser]) -> list[str]:
    names = {f.name for f in sender._meta.concrete_fields}
    return [name for name in _WATCHED if name in names]


def _remember(
    sender: type[AbstractBaseUser],
    instance: AbstractBaseUser,
    update_fields: frozenset[str] | None = None,
    raw: bool = False,
    **kwargs: Any,
) -> None:
    """Before a user is saved: what its access fields were (one query; skipped if none change)."""
    fields = _watched_fields(sender)
    if raw or instance.pk is None or instance._state.adding:
        return
    if update_fields is not None:
        fields = [name for name in fields if name in update_fields]
    if fields:
        before = sender._default_manager.filter(pk=instance.pk).values(*fields).first()
        setattr(instance, _BEFORE, before)


def _announce_user_change(
    sender: type[AbstractBaseUser], instance: AbstractBaseUser, **kwargs: Any
) -> None:
    """After a user is saved: end or re-check access as the change requires (after the commit)."""
    before = instance.__dict__.pop(_BEFORE, None)
    if not before:
        return
    now = {name: getattr(instance, name) for name in before}
    if "password" in before and before["password"] != now["password"]:
        credentials_revoke(user_id=instance.pk)
    elif before.get("is_active") and not now.get("is_active"):
        users_revoked(user_ids=[instance.pk])
    elif any(before[name] != now[name] for name in ("is_staff", "is_superuser") if name in now):
        access_changed(user_ids=[instance.pk])


def _announce_user_deleted(
    sender: type[AbstractBaseUser], instance: AbstractBaseUser, **kwargs: Any
) -> None:
    users_revoked(user_ids=[instance.pk])


def _announce_logout(
    sender: Any, request: HttpRequest, user: AbstractBaseUser | None, **kwargs: Any
) -> None:
    """A logout closes the sockets opened with that session (4401)."""
    session_key = getattr(request, "session", None) and request.session.session_key
    if user is not None and session_key:
        users_revoked(user_ids=[user.pk], session_key=session_key)


def connect() -> None:
    """Connect the handlers (RealtimeConfig.ready)."""
    user_model = get_user_model()
    pre_save.connect(_remember, sender=user_model, dispatch_uid="realtime.access.remember")
    post_save.connect(
        _announce_user_change, sender=user_model, dispatch_uid="realtime.access.user_saved"
    )
    post_delete.connect(
        _announce_user_deleted, sender=user_model, dispatch_uid="realtime.access.user_deleted"
    )
    user_logged_out.connect(_announce_logout, dispatch_uid="realtime.access.logout")


def access_follows(
    model: type[models.Model],
    *,
    endpoint: str,
    target: Callable[[Any], str],
    members: str | None = None,
) -> None:
    """Re-check the sockets on a row of `model` when it changes (after the commit).

    `target(row)` is the registry target of sockets on that row (a slug, an
    id). Saving a row (not creating it) or deleting it re-checks every socket
    on it, under its old target too if that changed; removing users from the
    many-to-many field `members` (from either side), or clearing it,
    re-checks those users' sockets on it.
    """
    uid = f"realtime.access.{model._meta.label_lower}"

    def before_save(sender: Any, instance: Any, raw: bool = False, **kwargs: Any) -> None:
        if raw or instance._state.adding or instance.pk is None:
            return
        old = sender._default_manager.filter(pk=instance.pk).first()
        if old is not None:
            instance.__dict__[_BEFORE] = target(old)

    def saved(sender: Any, instance: Any, created: bool, raw: bool = False, **kwargs: Any) -> None:
        old = instance.__dict__.pop(_BEFORE, None)
        if not created and not raw:
            access_changed(endpoint=endpoint, targets={target(instance), old or target(instance)})

    def deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
        access_changed(endpoint=endpoint, targets=[target(instance)])

    pre_save.connect(before_save, sender=model, weak=False, dispatch_uid=f"{uid}.before")
    post_save.connect(saved, sender=model, weak=False, dispatch_uid=f"{uid}.saved")
    post_delete.connect(deleted, sender=model, weak=False, dispatch_uid=f"{uid}.deleted")
    if members is not None:
        through = getattr(model, members).through
        m2m_changed.connect(
            _members_changed(model, endpoint, target, members),
            sender=through,
            weak=False,
            dispatch_uid=f"{uid}.members",
        )


def _members_changed(
    model: type[models.Model], endpoint: str, target: Callable[[Any], str], members: str
) -> Callable[..., None]:
    """The m2m_changed handler of `model.<members>`: users removed lose access."""

    def changed(
        instance: Any, action: str, reverse: bool, pk_set: set[Any] | None, **kwargs: Any
    ) -> None:
        if not reverse:  # instance is the target row, pk_set user ids
            if action in ("post_remove", "post_clear"):
                users = None if action == "post_clear" else pk_set or set()
                access_changed(endpoint=endpoint, targets=[target(instance)], user_ids=users)
            return
        # From the user's side: instance is the user, pk_set the target rows.
        if action == "pre_clear":
            rows = model._default_manager.filter(**{members: instance})
            instance.__dict__[_CLEARED] = [target(row) for row in rows]
        elif action in ("post_remove", "post_clear"):
            if action == "post_clear":
                targets = instance.__dict__.pop(_CLEARED, [])
            else:
                targets = [target(row) for row in model._default_manager.filter(pk__in=pk_set)]
            if targets:
                access_changed(endpoint=endpoint, targets=targets, user_ids=[instance.pk])

    return changed
