"""`/ws/chat/<room_slug>/`: parse, authorize, call chat services."""

from __future__ import annotations

from copy import copy

from django.contrib.auth.base_user import AbstractBaseUser

from realtime import errors
from realtime.batching import Batched
from realtime.consumers import RealtimeConsumer, action
from realtime.db import db_parallel
from realtime.errors import Refuse, invalid
from realtime.fields import bool_field, int_field, text_field
from realtime.frames import Frame, encode, encode_with, user_json
from realtime.registry import online_users_on

from . import services
from .models import Room
from .selectors import (
    HISTORY_ON_CONNECT,
    SINCE_MAX,
    room_history,
    rooms_may_enter,
    rooms_recent_history,
)


def _rooms_to_enter(entering: list[tuple[str, AbstractBaseUser]]) -> list[Room | Refuse]:
    """For each (slug, user): the room if the user may enter it, else the refusal. Sync."""
    rooms = Room.objects.in_bulk({slug for slug, _user in entering}, field_name="slug")
    found = [(rooms[slug], user) for slug, user in entering if slug in rooms]
    allowed = iter(rooms_may_enter(entering=found))
    outcomes: list[Room | Refuse] = []
    for slug, _user in entering:
        if slug not in rooms:
            outcomes.append(Refuse(errors.NOT_FOUND))
        elif next(allowed):
            outcomes.append(copy(rooms[slug]))  # each socket its own (posting moves last_seq)
        else:
            outcomes.append(Refuse(errors.FORBIDDEN))
    return outcomes


# (room, user, since) of a socket just opened.
Opening = tuple[Room, AbstractBaseUser, int | None]


def _greetings(opening: list[Opening]) -> list[tuple[str, str, int] | Exception]:
    """The encoded hello and history of each socket, and the newest seq they account for. Sync.

    Sockets opening on one room share its queries and its encoded history.
    """
    rooms = {room for room, _user, _since in opening}
    last_seqs = dict(
        Room.objects.filter(pk__in=[room.pk for room in rooms]).values_list("pk", "last_seq")
    )
    online = {
        slug: encode(users)
        for slug, users in online_users_on(
            endpoint="chat", targets={room.slug for room in rooms}
        ).items()
    }
    recent = rooms_recent_history(
        last_seqs={room: last_seqs[room.pk] for room in rooms if room.pk in last_seqs},
        limit=HISTORY_ON_CONNECT,
    )
    histories: dict[tuple[Room, int | None], tuple[str, int]] = {}
    greetings: list[tuple[str, str, int] | Exception] = []
    for room, user, since in opening:
        if room.pk not in last_seqs:
            greetings.append(Room.DoesNotExist(f"room {room.pk} is gone"))
            continue
        history = histories.get((room, since))
        if history is None:
            if since is None:
                messages, has_more = recent[room]
            elif since >= last_seqs[room.pk]:  # a resume with nothing new: no query
                messages, has_more = [], False
            else:
                messages, has_more = room_history(room=room, after=since, limit=SINCE_MAX)
            frame = {"type": "history", "messages": messages, "has_more": has_more}
            newest = max([last_seqs[room.pk], *(message["seq"] for message in messages)])
            history = histories[(room, since)] = (encode(frame), newest)
        hello = {
            "type": "hello",
            "room": {"slug": room.slug, "name": room.name},
            "user": user_json(user),
            "last_seq": last_seqs[room.pk],
        }
        greetings.append((encode_with(hello, online=online[room.slug]), *history))
    return greetings


# Sockets that connect together are admitted and greeted together.
_room_to_enter = Batched(_rooms_to_enter)
_greeting = Batched(_greetings)


class ChatConsumer(RealtimeConsumer):
    """One chat room: history on connect, then live messages, presence, typing, reads."""

    endpoint = "chat"
    room: Room

    async def admit(self) -> None:
        since = self.scope["query"].get("since")
        try:
            self.since = None if since is None else int(since)
        except ValueError:
            raise Refuse(errors.BAD_HANDSHAKE) from None
        if self.since is not None and self.since < 0:
            raise Refuse(errors.BAD_HANDSHAKE)
        slug = self.scope["url_route"]["kwargs"]["room_slug"]
        self.room = await _room_to_enter((slug, self.user))
        self.target = self.room.slug
        self.presence_group = services.room_group(self.room)

    async def reauthorize(self) -> None:
        self.room = await _room_to_enter((self.room.slug, self.user))

    async def on_open(self) -> None:
        self.hold()
        await self.join(services.room_group(self.room))
        hello, history, seen_upto = await _greeting((self.room, self.user, self.since))
        self.send_text(hello)
        self.send_text(history)
        # Everything up to the greeting's last_seq is in the history, or older
        # than `since`, or beyond its cut (has_more): either way not to be pushed.
        self.release(seen_upto=seen_upto)

    @action("send", "sendMessage")
    async def send_message(self, frame: Frame) -> Frame:
        body = text_field(frame, "message", max_length=services.MESSAGE_MAX_LENGTH)
        client_id = text_field(
            frame, "client_id", max_length=services.CLIENT_ID_MAX_LENGTH, required=False
        )
        assert body is not None
        message, _created = await db_parallel(services.room_post_message)(
            room=self.room, user=self.user, body=body, client_id=client_id
        )
        return {"type": "ack", "id": message.pk, "client_id": message.client_id}

    @action("history")
    async def history(self, frame: Frame) -> Frame:
        before = int_field(frame, "before", required=False, minimum=0)
        after = int_field(frame, "after", required=False, minimum=0)
        limit = int_field(frame, "limit", required=False, minimum=1, maximum=100, default=50)
        if before is not None and after is not None:
            raise invalid("give `before` or `after`, not both")
        assert limit is not None
        messages, has_more = await db_parallel(room_history)(
            room=self.room, before=before, after=after, limit=limit
        )
        return {"type": "history", "messages": messages, "has_more": has_more}

    @action("typing")
    async def typing(self, frame: Frame) -> None:
        await services.room_typing(
            room=self.room,
            user=self.user,
            typing=bool_field(frame, "typing"),
            socket_id=self.socket_id,
        )

    @action("read")
    async def read(self, frame: Frame) -> None:
        last_seq = int_field(frame, "last_seq", minimum=0)
        assert last_seq is not None
        await db_parallel(services.room_mark_read)(
            room=self.room, user=self.user, last_seq=last_seq
        )
