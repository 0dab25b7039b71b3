"""Reads of chat: which rooms a user may enter, history pages, and their wire shapes."""

from __future__ import annotations

from functools import reduce
from operator import or_

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
    return rooms_may_enter(entering=[(room, user)])[0]


def rooms_may_enter(*, entering: list[tuple[Room, AbstractBaseUser]]) -> list[bool]:
    """For each (room, user): may the user enter the room? One query for all private rooms."""
    private = [(room.pk, user.pk) for room, user in entering if room.is_private]
    members: set[tuple[int, int]] = set()
    if private:
        rows = Room.members.through.objects.filter(
            room_id__in={room_id for room_id, _ in private},
            user_id__in={user_id for _, user_id in private},
        ).values_list("room_id", "user_id")
        members = set(rows)
    return [not room.is_private or (room.pk, user.pk) in members for room, user in entering]


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
        return _page(page, limit, room_slug=room.slug)
    if before is not None:
        messages = messages.filter(seq__lt=before)
    page = list(messages.order_by("-seq")[: limit + 1])
    frames, has_more = _page(page, limit, room_slug=room.slug)
    return frames[::-1], has_more


def rooms_recent_history(
    *, last_seqs: dict[Room, int], limit: int
) -> dict[Room, tuple[list[Frame], bool]]:
    """`room_history(room=room, limit=limit)` of many rooms, `last_seqs` their newest seqs.

    Seqs have no gaps unless messages were deleted, so the newest `limit` of
    all rooms come in one query by seq range; a room whose range holds fewer
    than that (a deleted message) is read again on its own.
    """
    # A room whose seq never moved has no messages (posting moves it): nothing to read.
    pages: dict[Room, tuple[list[Frame], bool]] = {
        room: ([], False) for room, last_seq in last_seqs.items() if last_seq == 0
    }
    floors = {
        room: max(0, last_seq - limit - 1) for room, last_seq in last_seqs.items() if last_seq
    }
    if not floors:
        return pages
    ranges = [Q(room_id=room.pk, seq__gt=floor) for room, floor in floors.items()]
    newest: dict[int, list[Message]] = {room.pk: [] for room in floors}
    rows = Message.objects.filter(reduce(or_, ranges)).select_related("user").order_by("-seq")
    for message in rows:
        newest[message.room_id].append(message)
    for room, floor in floors.items():
        page = newest[room.pk][: limit + 1]
        if len(page) <= limit and floor > 0:  # a gap: older messages may fill the page
            pages[room] = room_history(room=room, limit=limit)
            continue
        frames, has_more = _page(page, limit, room_slug=room.slug)
        pages[room] = (frames[::-1], has_more)
    return pages


def _page(rows: list[Message], limit: int, *, room_slug: str) -> tuple[list[Frame], bool]:
    """The frames of up to `limit` of `rows` (in their order) within the byte cap; more beyond?"""
    frames = _within_bytes([message_json(m, room_slug=room_slug) for m in rows[:limit]])
    return frames, len(rows) > limit or len(frames) < min(len(rows), limit)


def _within_bytes(frames: list[Frame]) -> list[Frame]:
    """The leading frames whose encoded size stays within HISTORY_MAX_BYTES (at least one)."""
    total = 0
    for count, frame in enumerate(frames):
        total += len(encode(frame).encode()) + 1
        if total > HISTORY_MAX_BYTES and count:
            return frames[:count]
    return frames
