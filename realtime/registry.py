"""The connection registry and presence, shared by every app.

All functions here are sync (they run in the ORM thread) and take the user's
row lock, so that the per-user cap and presence ("first socket of this user
here" / "last one gone") are decided one socket at a time across processes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

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


def _lock_user(user_id: int) -> None:
    get_user_model().objects.select_for_update().filter(pk=user_id).first()


def connection_open(*, sock: Socket, user: AbstractBaseUser) -> None:
    """Record an open socket; announce the user on its target if it is their first there.

    Raises Refuse(4429) when the user or the IP is over its socket cap.
    """
    now = timezone.now()
    with transaction.atomic():
        _lock_user(user.pk)
        counts = _open_counts(user.pk, sock)
        if counts["of_user"] >= settings.MAX_SOCKETS_PER_USER:
            raise errors.Refuse(errors.TOO_MANY, "too many sockets for this user")
        if sock.ip and counts["from_ip"] >= settings.MAX_SOCKETS_PER_IP:
            raise errors.Refuse(errors.TOO_MANY, "too many sockets from this address")
        first_here = not counts["user_here"]
        Connection.objects.create(
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
        if first_here and sock.presence_group:
            joined = user_json(user)
            transaction.on_commit(lambda: presence_announce(sock.presence_group, "joined", joined))


def _open_counts(user_id: int, sock: Socket) -> dict[str, int]:
    """The user's open sockets, those from the socket's address, the user's on its target."""
    mine = Q(user_id=user_id)
    here = mine & Q(endpoint=sock.endpoint, target=sock.target)
    if not sock.ip:
        counts = Connection.objects.filter(mine).aggregate(
            of_user=Count("pk"), user_here=Count("pk", filter=here)
        )
        return {**counts, "from_ip": 0}
    return Connection.objects.filter(mine | Q(ip=sock.ip)).aggregate(
        of_user=Count("pk", filter=mine),
        from_ip=Count("pk", filter=Q(ip=sock.ip)),
        user_here=Count("pk", filter=here),
    )


def connection_close(*, socket_id: str) -> bool:
    """Forget a socket; announce the user left its target if it was their last there.

    Returns False when the socket was not registered (already swept).
    """
    with transaction.atomic():
        row = Connection.objects.filter(id=socket_id).select_related("user").first()
        if row is None:
            return False
        _lock_user(row.user_id)
        if not Connection.objects.filter(id=socket_id).delete()[0]:
            return False
        if row.presence_group and not _here(row.user_id, row.endpoint, row.target).exists():
            left = user_json(row.user)
            transaction.on_commit(lambda: presence_announce(row.presence_group, "left", left))
    return True


def _here(user_id: int, endpoint: str, target: str) -> QuerySet[Connection]:
    return Connection.objects.filter(user_id=user_id, endpoint=endpoint, target=target)


def online_users(*, endpoint: str, target: str) -> list[Frame]:
    """Distinct users with at least one open socket on `target`, by username."""
    rows = (
        Connection.objects.filter(endpoint=endpoint, target=target)
        .values_list("user_id", f"user__{get_user_model().USERNAME_FIELD}")
        .distinct()
        .order_by(f"user__{get_user_model().USERNAME_FIELD}")
    )
    return [{"id": user_id, "username": username} for user_id, username in rows]


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
    return sum(connection_close(socket_id=socket_id) for socket_id in list(stale))
