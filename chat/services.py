"""Every write of chat, and every push that follows one.

Services are sync (call them from async code through `realtime.db.db_parallel`).
They store, then publish after the commit: an ack or a broadcast always means
the row is durable.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, connection, transaction

from realtime.broadcast import group_name, publish, publish_now
from realtime.errors import FrameError
from realtime.frames import user_json

from .models import Message, ReadMarker, Room
from .selectors import message_json

MESSAGE_MAX_LENGTH = 4000
CLIENT_ID_MAX_LENGTH = 64


def room_group(room: Room) -> str:
    """The group every socket in `room` listens on."""
    return group_name("chat", room.pk)


def room_create(
    *,
    slug: str,
    name: str,
    creator: AbstractBaseUser,
    is_private: bool = False,
    member_ids: list[int] | None = None,
) -> Room:
    """Create a room; the creator is a member. Raises IntegrityError if the slug is taken."""
    with transaction.atomic():
        room = Room.objects.create(
            slug=slug, name=name, is_private=is_private, created_by_id=creator.pk
        )
        members = set(member_ids or []) | {creator.pk}
        room.members.set(get_user_model().objects.filter(pk__in=members))
    return room


def _check_body(body: str, client_id: str | None) -> None:
    if not body.strip():
        raise FrameError("invalid", "`message` must not be blank")
    if len(body) > MESSAGE_MAX_LENGTH:
        raise FrameError("invalid", f"`message` must be at most {MESSAGE_MAX_LENGTH} characters")
    if client_id is not None and len(client_id) > CLIENT_ID_MAX_LENGTH:
        raise FrameError(
            "invalid", f"`client_id` must be at most {CLIENT_ID_MAX_LENGTH} characters"
        )


def _existing(room: Room, user: AbstractBaseUser, client_id: str | None) -> Message | None:
    if client_id is None:
        return None
    return Message.objects.filter(room=room, user_id=user.pk, client_id=client_id).first()


def _next_seq(room: Room, user: AbstractBaseUser) -> int:
    """Take the room's next seq. The UPDATE holds the room's row lock until commit:
    posts to one room queue here, so seqs are handed out in commit order, without gaps.

    The same statement checks that `user` may still post (a private room's
    member), so access removed a moment ago holds without a query of its own.
    Raises FrameError (`forbidden`) or Room.DoesNotExist.
    """
    quote = connection.ops.quote_name
    table = quote(Room._meta.db_table)
    members = quote(Room.members.through._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET last_seq = last_seq + 1 WHERE id = %s AND (NOT is_private"
            f" OR EXISTS (SELECT 1 FROM {members} WHERE room_id = %s AND user_id = %s))"
            " RETURNING last_seq",
            [room.pk, room.pk, user.pk],
        )
        row = cursor.fetchone()
    if row is None:
        if Room.objects.filter(pk=room.pk).exists():
            raise FrameError("forbidden", "you are not a member of this room")
        raise Room.DoesNotExist(f"room {room.pk} is gone")
    return int(row[0])


def room_post_message(
    *, room: Room, user: AbstractBaseUser, body: str, client_id: str | None = None
) -> tuple[Message, bool]:
    """Store a message with the room's next seq, then broadcast it to the room.

    Idempotent on `client_id` per user and room: a repeat returns the first
    message and `created=False`, and broadcasts nothing. Raises FrameError
    (`invalid`) for a blank or over-long body.
    """
    _check_body(body, client_id)
    try:
        with transaction.atomic():
            seq = _next_seq(room, user)
            message = Message.objects.create(
                room=room, seq=seq, user_id=user.pk, body=body, client_id=client_id
            )
            message.user = user  # type: ignore[assignment]
            publish(room_group(room), message_json(message, room_slug=room.slug), position=seq)
    except IntegrityError:
        # A resend of a stored client_id (or the same one racing in from another
        # socket): nothing was stored, the seq was not taken; the first one stands.
        first = _existing(room, user, client_id)
        if first is None:
            raise
        return first, False
    room.last_seq = seq
    return message, True


def room_mark_read(*, room: Room, user: AbstractBaseUser, last_seq: int) -> int:
    """Move the user's read marker forward (never back, never past the newest message)."""
    with transaction.atomic():
        room_last = Room.objects.values_list("last_seq", flat=True).get(pk=room.pk)
        marker, _ = ReadMarker.objects.select_for_update().get_or_create(room=room, user_id=user.pk)
        target = min(max(marker.last_seq, last_seq), room_last)
        if target != marker.last_seq:
            marker.last_seq = target
            marker.save(update_fields=["last_seq", "updated"])
        publish(room_group(room), {"type": "read", "user": user_json(user), "last_seq": target})
    return target


async def room_typing(*, room: Room, user: AbstractBaseUser, typing: bool, socket_id: str) -> None:
    """Tell the others in the room that `user` started or stopped typing (nothing stored)."""
    frame = {"type": "typing", "user": user_json(user), "typing": typing}
    await publish_now(room_group(room), frame, exclude=socket_id)
