"""The storage side of pushing notifications to sockets: attempts and dead letters.

Sync functions (the consumer and the per-process redelivery loop run them in
the ORM thread). Every push of a stored notification counts as an attempt; a
pending notification is pushed again only while it has attempts and age left,
else it moves to the dead-letter queue instead.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import DateTimeField, F, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from realtime.frames import encode

from .models import Notification
from .selectors import notification_json, unread_count
from .services import chunks

Status = Notification.Status
Reason = Notification.DeadReason


def _verdict(row: Notification, now: datetime) -> str:
    """ "" to push the row again, else the reason it is dead."""
    if row.attempts >= settings.NOTIFY_MAX_ATTEMPTS:
        return Reason.ATTEMPTS
    max_age = timedelta(seconds=settings.NOTIFY_MAX_AGE_SECONDS)
    if row.first_attempt is not None and row.first_attempt < now - max_age:
        return Reason.AGE
    return Reason.NONE


def attempts_record(ids: Iterable[int], now: datetime) -> None:
    """Count one push of each notification in `ids` (acked meanwhile or not: it was pushed)."""
    first = Coalesce(F("first_attempt"), Value(now), output_field=DateTimeField())
    for chunk in chunks(sorted(set(ids))):
        Notification.objects.filter(pk__in=chunk).update(
            attempts=F("attempts") + 1, last_attempt=now, first_attempt=first
        )


def _sort_out(rows: list[Notification], now: datetime) -> list[Notification]:
    """Dead-letter the rows that are out of attempts or age; return the others, counted."""
    keep: list[Notification] = []
    dead: dict[str, list[int]] = {}
    for row in rows:
        reason = _verdict(row, now)
        if reason:
            dead.setdefault(reason, []).append(row.pk)
        else:
            keep.append(row)
    for reason, ids in dead.items():
        for chunk in chunks(ids):
            Notification.objects.filter(pk__in=chunk, status=Status.PENDING).update(
                status=Status.DEAD, dead_reason=reason, dead_at=now
            )
    attempts_record((row.pk for row in keep), now)
    return keep


def delivery_greeting(*, user_id: int) -> tuple[int, list[tuple[int, str]]]:
    """What a socket of `user_id` sends on connect: the unread count and its backlog.

    The backlog is every pending notification the user may still be pushed,
    oldest first, as `(id, encoded frame)`; each counts an attempt.
    """
    now = timezone.now()
    with transaction.atomic():
        pending = Notification.objects.filter(recipient_id=user_id, status=Status.PENDING)
        keep = _sort_out(list(pending.order_by("pk")), now)
        unread = unread_count(user_id=user_id)
    return unread, [(row.pk, encode(notification_json(row))) for row in keep]


def delivery_retry(*, due: set[int], pushed: set[int]) -> dict[int, str]:
    """One tick of a process's redelivery loop.

    `pushed`: ids this process pushed live since the last tick (counted as
    attempts). `due`: ids a local socket has not acked within the timeout.
    Returns the encoded frames of those to push again; the others were acked,
    read, discarded or dead-lettered meanwhile.
    """
    now = timezone.now()
    with transaction.atomic():
        attempts_record(pushed - due, now)
        rows: list[Notification] = []
        for chunk in chunks(sorted(due)):
            rows += Notification.objects.filter(pk__in=chunk, status=Status.PENDING)
        keep = _sort_out(rows, now)
    return {row.pk: encode(notification_json(row)) for row in keep}
