"""Every write of notifications, and every push that follows one.

`notify()` is the one way to create notifications. Rows are stored first and
pushed after the commit, to every open notifications socket of each recipient
on every process (see fanout.py for how one push reaches many users). The
other services change delivery state: ack, read, requeue, discard, expire.
"""

from __future__ import annotations

import asyncio
import functools
import json
import re
from collections.abc import Generator, Iterable
from datetime import timedelta
from typing import Any, Literal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from realtime.broadcast import group_name, publish
from realtime.db import db_parallel
from realtime.frames import Frame

from .fanout import batch_frame
from .models import Notification
from .selectors import notification_json, unread_count

ALL: Literal["all"] = "all"
ALL_GROUP = group_name("notifications", "all")
KIND_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
TITLE_MAX_LENGTH = 200
BODY_MAX_LENGTH = 2000
DATA_MAX_BYTES = 8 * 1024
# Bound the size of one INSERT or `IN (...)` (SQLite limits bound parameters).
CHUNK = 500

Recipients = AbstractBaseUser | int | Iterable[AbstractBaseUser | int] | Literal["all"]
Status = Notification.Status

_running: set[asyncio.Task[list[int]]] = set()


class NotifyInvalid(ValueError):
    """`notify()` was given a bad field; `field` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def user_group(user_id: int) -> str:
    """The group every notifications socket of one user listens on."""
    return group_name("notifications", "user", user_id)


def chunks(values: list[int]) -> Iterable[list[int]]:
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


class Notified:
    """What `notify()` returns: the new ids, in recipient id order.

    Awaitable, so async code writes `await notify(...)`; sync code reads `.ids`.
    """

    def __init__(
        self, ids: list[int] | None = None, task: asyncio.Task[list[int]] | None = None
    ) -> None:
        self._ids = ids
        self._task = task

    @property
    def ids(self) -> list[int]:
        if self._ids is None:
            raise RuntimeError("notify() was called from async code: await it first")
        return self._ids

    def __await__(self) -> Generator[Any, None, Notified]:
        if self._task is not None and self._ids is None:
            self._ids = yield from self._task.__await__()
        return self


def _check(*, kind: str, title: str, body: str, data: Frame) -> None:
    if not isinstance(kind, str) or not KIND_PATTERN.match(kind):
        raise NotifyInvalid("kind", "`kind` must be 1-32 of a-z, 0-9, _ (starting with a letter)")
    if not isinstance(title, str) or not title.strip() or len(title) > TITLE_MAX_LENGTH:
        raise NotifyInvalid("title", f"`title` must be 1-{TITLE_MAX_LENGTH} characters")
    if not isinstance(body, str) or len(body) > BODY_MAX_LENGTH:
        raise NotifyInvalid("body", f"`body` must be at most {BODY_MAX_LENGTH} characters")
    if not isinstance(data, dict):
        raise NotifyInvalid("data", "`data` must be a JSON object")
    try:
        size = len(json.dumps(data, allow_nan=False).encode())
    except (TypeError, ValueError):
        raise NotifyInvalid("data", "`data` must be JSON") from None
    if size > DATA_MAX_BYTES:
        raise NotifyInvalid("data", f"`data` must be at most {DATA_MAX_BYTES} bytes of JSON")


def notify(
    *, users: Recipients, kind: str, title: str, body: str = "", data: Frame | None = None
) -> Notified:
    """Notify one user, a list of users, or everyone (`users="all"`, active users).

    Sync callers: the rows are stored (inside the caller's transaction, if any)
    when this returns, and pushed once that transaction commits. Async callers:
    `await notify(...)`; the rows are stored in a worker thread in a transaction
    of their own (also when the result is never awaited). Raises NotifyInvalid
    for a bad field, at once in both cases.
    """
    data = {} if data is None else data
    _check(kind=kind, title=title, body=body, data=data)
    work = functools.partial(
        notifications_create, users=users, kind=kind, title=title, body=body, data=data
    )
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return Notified(ids=work())
    task = loop.create_task(db_parallel(work)())
    _running.add(task)  # a task nobody awaits must not be collected while it runs
    task.add_done_callback(_running.discard)
    return Notified(task=task)


def _recipient_ids(users: Recipients) -> list[int]:
    active = get_user_model().objects.filter(is_active=True)
    if isinstance(users, str):
        if users != ALL:
            raise NotifyInvalid("users", '`users` must be users, user ids, or "all"')
        return list(active.order_by("pk").values_list("pk", flat=True))
    if isinstance(users, AbstractBaseUser | int):
        users = [users]
    wanted = sorted({user if isinstance(user, int) else user.pk for user in users})
    found: list[int] = []
    for chunk in chunks(wanted):
        found += active.filter(pk__in=chunk).values_list("pk", flat=True)
    return sorted(found)


def notifications_create(
    *, users: Recipients, kind: str, title: str, body: str = "", data: Frame | None = None
) -> list[int]:
    """Store one notification per active recipient and push them after the commit (sync).

    Returns the new ids in recipient id order. Users that do not exist or are
    inactive are skipped.
    """
    data = {} if data is None else data
    _check(kind=kind, title=title, body=body, data=data)
    created = timezone.now()
    with transaction.atomic():
        recipients = _recipient_ids(users)
        rows = Notification.objects.bulk_create(
            [
                Notification(
                    recipient_id=user_id,
                    kind=kind,
                    title=title,
                    body=body,
                    data=data,
                    created=created,
                )
                for user_id in recipients
            ],
            batch_size=CHUNK,
        )
        _publish_alike(rows)
    return [row.pk for row in rows]


def notifications_publish(rows: list[Notification]) -> None:
    """Push stored rows to their recipients' sockets after the commit (any mix of rows)."""
    alike: dict[str, list[Notification]] = {}
    for row in rows:
        frame = notification_json(row)
        key = json.dumps({k: v for k, v in frame.items() if k != "id"}, sort_keys=True)
        alike.setdefault(key, []).append(row)
    for group in alike.values():
        _publish_alike(group)


def _publish_alike(rows: list[Notification]) -> None:
    """Push rows that differ only in id and recipient.

    More than NOTIFY_DIRECT_MAX recipients: one batch envelope for all of them
    (see fanout.py); else one push per recipient.
    """
    once = {row.recipient_id: row for row in rows}
    if len(once) <= settings.NOTIFY_DIRECT_MAX:
        for row in rows:
            publish(user_group(row.recipient_id), notification_json(row), position=row.pk)
        return
    pairs = sorted((user_id, row.pk) for user_id, row in once.items())
    publish(ALL_GROUP, batch_frame(frame=notification_json(rows[0]), pairs=pairs))
    taken = {row.pk for row in once.values()}
    for row in rows:
        if row.pk not in taken:  # a second row for one user cannot share the envelope
            publish(user_group(row.recipient_id), notification_json(row), position=row.pk)


def notifications_ack(*, user: AbstractBaseUser, ids: list[int]) -> list[int]:
    """Mark the user's notifications among `ids` delivered: never pushed again.

    Returns the ids that are the user's (acked now or before), sorted; ids of
    other users and unknown ids are ignored alike, so nothing leaks.
    """
    now = timezone.now()
    with transaction.atomic():
        mine = Notification.objects.filter(recipient_id=user.pk, pk__in=ids)
        mine.exclude(status=Status.ACKED).update(
            status=Status.ACKED, acked=now, dead_reason="", dead_at=None
        )
        return sorted(mine.values_list("pk", flat=True))


def notifications_mark_read(
    *,
    user: AbstractBaseUser,
    ids: list[int] | None = None,
    everything: bool = False,
    socket_id: str | None = None,
) -> int:
    """Mark the user's notifications `ids` (or all of them) read; returns the unread count.

    Reading implies delivery, so they are acked as well. The user's other
    sockets (all but `socket_id`) get `{"type": "unread", "unread", "ids" | "all"}`.
    """
    now = timezone.now()
    with transaction.atomic():
        mine = Notification.objects.filter(recipient_id=user.pk)
        if not everything:
            mine = mine.filter(pk__in=ids or [])
        changed = sorted(mine.filter(read=False).values_list("pk", flat=True))
        mine.filter(read=False).update(read=True)
        mine.exclude(status=Status.ACKED).update(
            status=Status.ACKED, acked=now, dead_reason="", dead_at=None
        )
        unread = unread_count(user_id=user.pk)
        if changed:
            frame: Frame = {"type": "unread", "unread": unread}
            if everything:
                frame["all"] = True
            else:
                frame["ids"] = changed
            publish(user_group(user.pk), frame, exclude=socket_id)
    return unread


def notifications_requeue(*, ids: list[int]) -> int:
    """Put dead (or pending) notifications back in the queue and push them now.

    Their attempts start again from zero. Returns how many were requeued.
    """
    with transaction.atomic():
        rows = list(
            Notification.objects.select_for_update()
            .filter(pk__in=ids)
            .exclude(status=Status.ACKED)
            .order_by("pk")
        )
        for row in rows:
            row.status, row.attempts, row.first_attempt = Status.PENDING, 0, None
            row.dead_reason, row.dead_at = Notification.DeadReason.NONE, None
        Notification.objects.bulk_update(
            rows,
            ["status", "attempts", "first_attempt", "dead_reason", "dead_at"],
            batch_size=CHUNK,
        )
        notifications_publish(rows)
    return len(rows)


def notifications_discard(*, ids: list[int]) -> int:
    """Delete undelivered notifications (pending or dead); recipients' badges follow.

    Returns how many were deleted.
    """
    with transaction.atomic():
        doomed = Notification.objects.filter(pk__in=ids).exclude(status=Status.ACKED)
        recipients = set(doomed.values_list("recipient_id", flat=True))
        deleted, _ = doomed.delete()
        for user_id in sorted(recipients):
            publish(
                user_group(user_id), {"type": "unread", "unread": unread_count(user_id=user_id)}
            )
    return deleted


def notifications_expire() -> int:
    """Move pending notifications past their attempts or age to the dead-letter queue.

    A row that used its last attempt is given the redelivery timeout to be acked
    first. Safe on every process at once; returns how many moved.
    """
    now = timezone.now()
    pending = Notification.objects.filter(status=Status.PENDING)
    too_old = pending.filter(
        first_attempt__lt=now - timedelta(seconds=settings.NOTIFY_MAX_AGE_SECONDS)
    )
    moved = too_old.update(status=Status.DEAD, dead_reason=Notification.DeadReason.AGE, dead_at=now)
    worn_out = pending.filter(
        attempts__gte=settings.NOTIFY_MAX_ATTEMPTS,
        last_attempt__lt=now - timedelta(seconds=settings.NOTIFY_REDELIVER_SECONDS),
    )
    moved += worn_out.update(
        status=Status.DEAD, dead_reason=Notification.DeadReason.ATTEMPTS, dead_at=now
    )
    return moved
