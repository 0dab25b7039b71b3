"""The connection registry and presence, shared by every app.

All functions here are sync (they run on an ORM thread) and take the users'
row locks, so that the per-user cap and presence ("first socket of this user
here" / "last one gone") are decided one socket at a time across processes.
Opening and closing take lists: sockets that connect or leave together are
recorded in one transaction.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.ipv6 import clean_ipv6_address

from . import errors
from .frames import Frame, user_json
from .models import Connection, ServerProcess
from .presence import presence_announce


@dataclass(frozen=True)
class Socket:
    """What the registry records of one socket."""

    id: str
    endpoint: str
    target: str
    ip: str | None
    process: str
    presence_group: str = ""


def _lock_users(user_ids: set[int]) -> None:
    """Take the row locks of these users, in id order (so two batches never deadlock)."""
    list(
        get_user_model()
        .objects.select_for_update()
        .filter(pk__in=user_ids)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def connections_open(
    opening: list[tuple[Socket, AbstractBaseUser]],
) -> list[errors.Refuse | None]:
    """Record many opening sockets in one transaction: None for each recorded, or its refusal.

    The caps and "first socket of this user here" are decided in order, each
    socket seeing those before it, under the row locks of all their users.
    """
    now = timezone.now()
    users = {user.pk: user for _sock, user in opening}
    ips = [_as_stored(sock.ip) for sock, _user in opening]
    with transaction.atomic():
        _lock_users(set(users))
        here, from_ip = _open_counts(set(users), {ip for ip in ips if ip})
        of_user: Counter[int] = Counter()
        for (user_id, _endpoint, _target), count in here.items():
            of_user[user_id] += count
        outcomes: list[errors.Refuse | None] = []
        rows: list[Connection] = []
        joined: dict[tuple[str, int], Frame] = {}
        for (sock, user), ip in zip(opening, ips, strict=True):
            refusal = _over_cap(of_user[user.pk], from_ip[ip] if ip else 0)
            outcomes.append(refusal)
            if refusal is not None:
                continue
            where = (user.pk, sock.endpoint, sock.target)
            if not here[where] and sock.presence_group:
                joined[(sock.presence_group, user.pk)] = user_json(user)
            here[where] += 1
            of_user[user.pk] += 1
            if ip:
                from_ip[ip] += 1
            rows.append(_row(sock, user, now))
        Connection.objects.bulk_create(rows)
        for (group, _user_id), user_frame in joined.items():
            transaction.on_commit(partial(presence_announce, group, "joined", user_frame))
    return outcomes


def _as_stored(ip: str | None) -> str | None:
    """An address as the database gives it back (IPv6 in its shortest form)."""
    return clean_ipv6_address(ip) if ip and ":" in ip else ip


def _over_cap(of_user: int, from_ip: int) -> errors.Refuse | None:
    if of_user >= settings.MAX_SOCKETS_PER_USER:
        return errors.Refuse(errors.TOO_MANY, "too many sockets for this user")
    if from_ip >= settings.MAX_SOCKETS_PER_IP:
        return errors.Refuse(errors.TOO_MANY, "too many sockets from this address")
    return None


def _row(sock: Socket, user: AbstractBaseUser, now: datetime) -> Connection:
    return Connection(
        id=sock.id,
        user_id=user.pk,
        endpoint=sock.endpoint,
        target=sock.target,
        presence_group=sock.presence_group,
        ip=sock.ip,
        process=sock.process,
        connected=now,
        last_seen=now,
    )


def _open_counts(
    user_ids: set[int], ips: set[str]
) -> tuple[Counter[tuple[int, str, str]], Counter[str]]:
    """Open sockets per (user, endpoint, target) of these users, and per one of these IPs."""
    here: Counter[tuple[int, str, str]] = Counter()
    rows = (
        Connection.objects.filter(user_id__in=user_ids)
        .values_list("user_id", "endpoint", "target")
        .annotate(count=Count("pk"))
        .order_by()
    )
    for user_id, endpoint, target, count in rows:
        here[(user_id, endpoint, target)] = count
    from_ip: Counter[str] = Counter()
    if ips:
        by_ip = Connection.objects.filter(ip__in=ips).values_list("ip").annotate(count=Count("pk"))
        from_ip.update(dict(by_ip.order_by()))
    return here, from_ip


def connections_close(socket_ids: list[str]) -> list[bool]:
    """Forget many sockets in one transaction; True for each one that was registered.

    A user's last socket on a target announces that they left it, once.
    """
    with transaction.atomic():
        found = Connection.objects.filter(id__in=set(socket_ids))
        _lock_users(set(found.values_list("user_id", flat=True)))
        # Under the locks: a sweep on another process may have removed some meanwhile.
        rows = list(found.select_related("user"))
        Connection.objects.filter(id__in=[row.id for row in rows]).delete()
        _announce_last_gone(rows)
    gone = {row.id for row in rows}
    return [socket_id in gone for socket_id in socket_ids]


def _announce_last_gone(closed: list[Connection]) -> None:
    """After the commit, announce each user whose last socket on a target is among `closed`."""
    with_presence = [row for row in closed if row.presence_group]
    if not with_presence:
        return
    still_here = set(
        Connection.objects.filter(user_id__in={row.user_id for row in with_presence})
        .values_list("user_id", "endpoint", "target")
        .distinct()
    )
    left: dict[tuple[str, int], Frame] = {}
    for row in with_presence:
        if (row.user_id, row.endpoint, row.target) not in still_here:
            left[(row.presence_group, row.user_id)] = user_json(row.user)
    for (group, _user_id), user_frame in left.items():
        transaction.on_commit(partial(presence_announce, group, "left", user_frame))


def online_users_on(*, endpoint: str, targets: set[str]) -> dict[str, list[Frame]]:
    """For each of `targets`: the distinct users with an open socket there, by username.

    One query for all of them."""
    username = f"user__{get_user_model().USERNAME_FIELD}"
    rows = (
        Connection.objects.filter(endpoint=endpoint, target__in=targets)
        .values_list("target", "user_id", username)
        .distinct()
        .order_by("target", username, "user_id")
    )
    online: dict[str, list[Frame]] = {target: [] for target in targets}
    for target, user_id, name in rows:
        online[target].append({"id": user_id, "username": name})
    return online


def process_heartbeat(*, process_id: str, hostname: str, pid: int, started: datetime) -> None:
    """Tell the others this process is alive, and that its sockets still are."""
    now = timezone.now()
    ServerProcess.objects.update_or_create(
        id=process_id,
        defaults={"last_heartbeat": now},
        create_defaults={
            "hostname": hostname,
            "pid": pid,
            "started": started,
            "last_heartbeat": now,
        },
    )
    Connection.objects.filter(process=process_id).update(last_seen=now)


def connections_sweep() -> int:
    """Remove sockets of dead processes (and any past CONNECTION_TTL); returns how many.

    Safe to run on every process at once: each row is removed, and announced, once.
    """
    now = timezone.now()
    timeout = min(settings.PROCESS_TIMEOUT_SECONDS, settings.CONNECTION_TTL_SECONDS)
    cutoff = now - timedelta(seconds=timeout)
    ServerProcess.objects.filter(last_heartbeat__lt=cutoff).delete()
    stale = Connection.objects.filter(last_seen__lt=cutoff).values_list("id", flat=True)
    return sum(connections_close(list(stale)))
