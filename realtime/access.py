"""Access that holds for the life of a socket.

A socket is authorized at its handshake. Whatever can end that access later
(a room membership, a document's access or editors, a staff flag, an account
deactivated or deleted, a password changed, a logout) is announced, after
its commit, on one group that every server process listens to. Each process
looks the announcement up in an index of its own sockets and hands it to the
sockets it can touch: they stop sending at once, then either close (4401:
the user or the credential is no longer valid) or check their access again
against the database and close with the code that check gives (4403, 4404).

The cost is on the change, not on the frames: no query per frame, one
channel-layer subscription per process, and a socket's index entries are
two set memberships.
"""

from __future__ import annotations

import asyncio
import hashlib
import weakref
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.models import Session
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from . import errors
from .broadcast import publish_event
from .hub import get_hub
from .models import Credentials

ACCESS_GROUP = "realtime.access"
ACCESS_EVENT = "hub.access"
# Announcements a process remembers for sockets still in their handshake.
_REMEMBERED = 256


class Watched(Protocol):
    """What the index needs of a socket."""

    endpoint: str
    target: str
    user: Any
    session_digest: str | None

    def access_changed(self, close_code: int | None) -> None:
        """Stop sending now; then close with `close_code`, or check access again if None."""


# --- announcing (sync, inside or outside a transaction) ----------------------


def access_changed(
    *,
    endpoint: str | None = None,
    targets: Iterable[str] | None = None,
    user_ids: Iterable[int] | None = None,
) -> None:
    """Have the matching open sockets check their access again, after the commit.

    `endpoint` with `targets`: the sockets on those targets (all their users,
    or only `user_ids`); `user_ids` alone: every socket of those users.
    """
    _announce(endpoint=endpoint, targets=targets, user_ids=user_ids, close=None)


def users_revoked(*, user_ids: Iterable[int], session_key: str | None = None) -> None:
    """Close every open socket of these users with 4401 after the commit.

    For accounts deactivated or deleted and credentials that changed. With
    `session_key`, only the sockets opened with that session (a logout).
    """
    _announce(
        user_ids=user_ids,
        close=errors.NOT_AUTHENTICATED,
        session=session_digest(session_key) if session_key else None,
    )


def credentials_revoke(*, user_id: int) -> None:
    """Void every token issued to the user so far and close their sockets (4401). Sync.

    Called when the password changes, and to log a user out everywhere.
    """
    raised = Credentials.objects.filter(user_id=user_id).update(
        token_generation=F("token_generation") + 1
    )
    if not raised:
        Credentials.objects.get_or_create(user_id=user_id, defaults={"token_generation": 1})
    users_revoked(user_ids=[user_id])


def user_logout_everywhere(*, user_id: int) -> int:
    """Void the user's tokens, close their sockets (4401) and end their sessions. Sync.

    Returns how many sessions were ended. Sessions are found by reading each
    unexpired one (Django keeps no index of sessions by user), so this is for
    an operator's occasional use, not a hot path; with a session engine
    other than the database one, only tokens and sockets are ended.
    """
    with transaction.atomic():
        credentials_revoke(user_id=user_id)
    if settings.SESSION_ENGINE != "django.contrib.sessions.backends.db":
        return 0
    ended = 0
    for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator():
        if str(session.get_decoded().get(SESSION_KEY)) == str(user_id):
            session.delete()
            ended += 1
    return ended


def session_digest(session_key: str) -> str:
    """What announcements carry instead of a session key (which is a credential)."""
    return hashlib.sha256(session_key.encode()).hexdigest()[:32]


def _announce(
    *,
    endpoint: str | None = None,
    targets: Iterable[str] | None = None,
    user_ids: Iterable[int] | None = None,
    close: int | None,
    session: str | None = None,
) -> None:
    publish_event(
        ACCESS_GROUP,
        {
            "type": ACCESS_EVENT,
            "endpoint": endpoint,
            "targets": None if targets is None else sorted(set(targets)),
            "users": None if user_ids is None else sorted(set(user_ids)),
            "close": close,
            "session": session,
        },
    )


# --- hearing (the event loop of a server process) -----------------------------


@dataclass
class _Index:
    """The sockets of one event loop by user and by (endpoint, target), and recent changes."""

    by_user: dict[int, set[Watched]] = field(default_factory=dict)
    by_target: dict[tuple[str, str], set[Watched]] = field(default_factory=dict)
    heard: int = 0
    recent: deque[tuple[int, dict[str, Any]]] = field(
        default_factory=lambda: deque(maxlen=_REMEMBERED)
    )
    listening: bool = False


_indexes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Index] = weakref.WeakKeyDictionary()


def _index() -> _Index:
    loop = asyncio.get_running_loop()
    index = _indexes.get(loop)
    if index is None:
        index = _indexes[loop] = _Index()
    return index


async def access_listen() -> None:
    """Subscribe this process to access announcements (once per event loop). Async only."""
    index = _index()
    if not index.listening:
        index.listening = True
        try:
            await get_hub().listen(ACCESS_GROUP, ACCESS_EVENT, _heard)
        except BaseException:
            index.listening = False
            raise


def access_mark() -> int:
    """A mark to give `access_watch` later: announcements heard after it are replayed."""
    return _index().heard


def access_watch(sock: Watched, since: int) -> None:
    """Index a socket whose handshake began at mark `since`.

    Announcements heard while it was being authorized (its check may have
    read the database before their commit) are handed to it now.
    """
    index = _index()
    index.by_user.setdefault(sock.user.pk, set()).add(sock)
    index.by_target.setdefault((sock.endpoint, sock.target), set()).add(sock)
    if index.heard == since:
        return
    missed = [message for serial, message in index.recent if serial > since]
    if index.heard - since > len(missed):  # some were forgotten: check to be sure
        sock.access_changed(None)
        return
    for message in missed:
        if sock in _matching(index, message, among={sock}):
            sock.access_changed(message.get("close"))


def access_forget(sock: Watched) -> None:
    """Remove a closed socket from the index."""
    index = _index()
    _discard(index.by_user, sock.user.pk, sock)
    _discard(index.by_target, (sock.endpoint, sock.target), sock)


def _discard(index: dict[Any, set[Watched]], key: Any, sock: Watched) -> None:
    members = index.get(key)
    if members is not None:
        members.discard(sock)
        if not members:
            del index[key]


def _heard(message: dict[str, Any]) -> None:
    """The hub's handler of an access announcement."""
    index = _index()
    index.heard += 1
    index.recent.append((index.heard, message))
    for sock in _matching(index, message):
        sock.access_changed(message.get("close"))


def _matching(
    index: _Index, message: dict[str, Any], among: set[Watched] | None = None
) -> list[Watched]:
    """The indexed sockets (or those of `among`) an announcement is about."""
    users = message.get("users")
    targets = message.get("targets")
    endpoint = message.get("endpoint")
    found: set[Watched] = set()
    if targets is not None and endpoint is not None:
        for target in targets:
            found.update(index.by_target.get((endpoint, target), ()))
        if users is not None:
            wanted = set(users)
            found = {sock for sock in found if sock.user.pk in wanted}
    elif users is not None:
        for user_id in users:
            found.update(index.by_user.get(user_id, ()))
    session = message.get("session")
    if session is not None:
        found = {sock for sock in found if sock.session_digest == session}
    if among is not None:
        found &= among
    return list(found)
