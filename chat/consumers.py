"""`/ws/chat/<room_slug>/`: parse, authorize, call chat services."""

from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser

from realtime import errors
from realtime.consumers import RealtimeConsumer, action
from realtime.db import db_parallel
from realtime.errors import Refuse, invalid
from realtime.fields import bool_field, int_field, text_field
from realtime.frames import Frame, user_json
from realtime.registry import online_users

from . import services
from .models import Room
from .selectors import HISTORY_ON_CONNECT, SINCE_MAX, room_history, room_may_enter


def _room_for(slug: str, user: AbstractBaseUser) -> Room:
    room = Room.objects.filter(slug=slug).first()
    if room is None:
        raise Refuse(errors.NOT_FOUND)
    if not room_may_enter(room=room, user=user):
        raise Refuse(errors.FORBIDDEN)
    return room


def _greeting(room: Room, user: AbstractBaseUser, since: int | None) -> tuple[Frame, Frame]:
    last_seq = Room.objects.values_list("last_seq", flat=True).get(pk=room.pk)
    hello = {
        "type": "hello",
        "room": {"slug": room.slug, "name": room.name},
        "user": user_json(user),
        "online": online_users(endpoint="chat", target=room.slug),
        "last_seq": last_seq,
    }
    if since is None:
        messages, has_more = room_history(room=room, limit=HISTORY_ON_CONNECT)
    else:
        messages, has_more = room_history(room=room, after=since, limit=SINCE_MAX)
    return hello, {"type": "history", "messages": messages, "has_more": has_more}


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
        self.room = await db_parallel(_room_for)(slug, self.user)
        self.target = self.room.slug
        self.presence_group = services.room_group(self.room)

    async def on_open(self) -> None:
        self.hold()
        await self.join(services.room_group(self.room))
        hello, history = await db_parallel(_greeting)(self.room, self.user, self.since)
        await self.send_frame(hello)
        await self.send_frame(history)
        # Everything up to the greeting's last_seq is in the history, or older
        # than `since`, or beyond its cut (has_more): either way not to be pushed.
        seqs = [message["seq"] for message in history["messages"]]
        self.release(seen_upto=max([hello["last_seq"], *seqs]))

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
