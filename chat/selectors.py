"""Reads of chat: which rooms a user may enter, history pages, and their wire shapes."""

from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import Q, QuerySet

from realtime.frames import Frame, encode, to_ms, user_json

from .models import Message, Room

HISTORY_ON_CONNECT = 50
SINCE_MAX = 1000
# Bytes of messages in one history frame: well under daphne's 1 MiB cap on a
# WebSocket message (larger frames would not be sent at all). A page cut short
# says `has_more`, and the client asks for the rest.
HISTORY_MAX_BYTES = 512 * 1024


def rooms_visible_to(*, user: AbstractBaseUser) -> QuerySet[Room]:
    """Public rooms and the private rooms `user` is a member of."""
    return Room.objects.filter(Q(is_private=False) | Q(members=user)).distinct().order_by("name")


def room_may_enter(*, room: Room, user: AbstractBaseUser) -> bool:
    return not room.is_private or room.members.filter(pk=user.pk).exists()


def room_json(room: Room) -> Frame:
    return {
        "slug": room.slug,
        "name": room.name,
        "is_private": room.is_private,
        "last_seq": room.last_seq,
    }


def message_json(message: Message, *, room_slug: str) -> Frame:
    """A `<message>` of PROTOCOL.md."""
    return {
        "type": "message",
        "id": message.pk,
        "seq": message.seq,
        "room": room_slug,
        "user": user_json(message.user),
        "message": message.body,
        "client_id": message.client_id,
        "timestamp": to_ms(message.created),
    }


def room_history(
    *, room: Room, before: int | None = None, after: int | None = None, limit: int = 50
) -> tuple[list[Frame], bool]:
    """A page of messages, oldest first, and whether more lie beyond it.

    `after`: the first `limit` with seq > after. `before`: the last `limit` with
    seq < before. Neither: the newest `limit`.
    """
    messages = Message.objects.filter(room=room).select_related("user")
    if after is not None:  # oldest first: keep the start of the page
        page = list(messages.filter(seq__gt=after).order_by("seq")[: limit + 1])
    else:  # newest first: keep the newest, then turn the page oldest first
        if before is not None:
            messages = messages.filter(seq__lt=before)
        page = list(messages.order_by("-seq")[: limit + 1])
    has_more = len(page) > limit
    frames = _within_bytes([message_json(m, room_slug=room.slug) for m in page[:limit]])
    has_more = has_more or len(frames) < min(len(page), limit)
    return (frames if after is not None else frames[::-1]), has_more


def _within_bytes(frames: list[Frame]) -> list[Frame]:
    """The leading frames whose encoded size stays within HISTORY_MAX_BYTES (at least one)."""
    total = 0
    for count, frame in enumerate(frames):
        total += len(encode(frame).encode()) + 1
        if total > HISTORY_MAX_BYTES and count:
            return frames[:count]
    return frames
