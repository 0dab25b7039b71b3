"""Services of the sockets open on a document: joining, cursors, leaving.

Peers are rows (models.Peer), so every server process sees the same list.
A cursor is stored at the version its client reported it on; whoever reads
it moves it through the ops committed since, with text-unicode's position
transform (the peer's own ops carry its cursor past what it inserted). That
is the same as moving every stored cursor through every commit, without
writing each cursor on each commit.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.db.models.functions import Length

from realtime.broadcast import publish
from realtime.errors import FrameError, invalid
from realtime.frames import Frame, user_json

from .history import Committed, committed_since
from .models import Document, Peer
from .ot import Budget, WorkExceeded, transform_position
from .selectors import doc_may_edit, peer_json, user_color, user_with_color
from .services import doc_group


def move_position(position: int, ops: list[Committed], *, after: int, client: str) -> int:
    """Move a cursor that was at `position` on version `after` through the later `ops`."""
    for committed in ops:
        if committed.version > after:
            own = committed.client == client
            position = transform_position(position, committed.op, is_own_op=own)
    return position


def _moved(peers: list[Peer], document: Document) -> list[Frame]:
    """`peers` as `<peer>` frames, their cursors moved to `document.version`.

    The peers must have been read before the document, so none is newer.
    Cursors older than the ops kept, or further behind than
    COLLAB_MAX_TRANSFORM_WORK lets a read move them, stay where they were,
    within the text.
    """
    if not peers:
        return []
    length = len(document.content)
    oldest = min(peer.version for peer in peers)
    try:
        since = committed_since(
            document_id=document.pk,
            after=oldest,
            version=document.version,
            length=length,
            budget=Budget(settings.COLLAB_MAX_TRANSFORM_WORK),
        )
    except WorkExceeded:
        since = None  # as for cursors older than the log: a greeting must stay cheap
    ops = since.ops if since is not None else []
    result = []
    for peer in peers:
        client = peer.connection_id
        position = move_position(peer.position, ops, after=peer.version, client=client)
        end = peer.selection_end
        if end is not None:
            end = min(move_position(end, ops, after=peer.version, client=client), length)
        result.append(
            peer_json(
                client=client, user=peer.user, position=min(position, length), selection_end=end
            )
        )
    return result


def peer_join(*, document_id: int, user: AbstractBaseUser, socket_id: str) -> Frame:
    """Record this socket as a peer, tell the others, and return its `hello` frame.

    The socket's registry row must exist (the base consumer made it). The
    other peers are read before the document, so that no stored cursor is
    newer than the version the greeting carries.
    """
    with transaction.atomic():
        others = list(
            Peer.objects.filter(document_id=document_id)
            .exclude(connection_id=socket_id)
            .select_related("user")
        )
        document = Document.objects.get(pk=document_id)
        Peer.objects.create(
            connection_id=socket_id,
            document_id=document_id,
            user_id=user.pk,
            version=document.version,
        )
        frame = {
            "type": "peer_joined",
            **peer_json(client=socket_id, user=user, position=0, selection_end=None),
            "version": document.version,
        }
        publish(doc_group(document_id), frame, exclude=socket_id)
        peers = _moved(others, document)
    return {
        "type": "hello",
        "doc": {"id": document.pk, "title": document.title, "access": document.access},
        "version": document.version,
        "content": document.content,
        "user": user_with_color(user),
        "client": socket_id,
        "can_edit": doc_may_edit(document=document, user=user),
        "peers": peers,
    }


def peer_move_cursor(
    *,
    document_id: int,
    user: AbstractBaseUser,
    socket_id: str,
    position: int,
    selection_end: int | None,
    version: int | None,
) -> None:
    """Store this socket's cursor and send it to the others, at the current version.

    `version` is the document version the positions refer to (default: the
    current one). Raises FrameError: `stale_version` for a version not held
    or not reached, `invalid` for a position past the end of that text.
    """
    current, length = (
        Document.objects.filter(pk=document_id)
        .annotate(length=Length("content"))
        .values_list("version", "length")
        .get()
    )
    version = current if version is None else version
    if version > current:
        raise FrameError(
            "stale_version",
            f"version {version} is ahead of the document (version {current})",
            version=current,
        )
    try:
        since = committed_since(
            document_id=document_id,
            after=version,
            version=current,
            length=length,
            budget=Budget(settings.COLLAB_MAX_TRANSFORM_WORK),
        )
    except WorkExceeded:
        raise FrameError(
            "stale_version", f"version {version} is too far behind to move to", version=current
        ) from None
    if since is None:
        raise FrameError(
            "stale_version", f"version {version} is older than the ops kept", version=current
        )
    for name, value in (("position", position), ("selection_end", selection_end)):
        if value is not None and value > since.base_length:
            raise invalid(f"`{name}` {value} is past the end of the text ({since.base_length})")
    position = move_position(position, since.ops, after=version, client=socket_id)
    if selection_end is not None:
        selection_end = move_position(selection_end, since.ops, after=version, client=socket_id)
    if not Peer.objects.filter(pk=socket_id).update(
        position=position, selection_end=selection_end, version=current
    ):
        return  # the socket is closing
    frame = {
        "type": "cursor",
        "client": socket_id,
        "user": user_json(user),
        "color": user_color(user.pk),
        "position": position,
        "selection_end": selection_end,
        "version": current,
    }
    publish(doc_group(document_id), frame, exclude=socket_id)


def peer_left_announce(*, peer: Peer) -> None:
    """Tell the others on the document that this socket is gone (after the commit)."""
    user = get_user_model().objects.filter(pk=peer.user_id).first()
    frame = {
        "type": "peer_left",
        "client": peer.connection_id,
        "user": user_json(user) if user is not None else None,
    }
    publish(doc_group(peer.document_id), frame)
