"""`/ws/notifications/`: the connected user's notifications, at least once."""

from __future__ import annotations

import time

from django.conf import settings

from realtime.consumers import RealtimeConsumer, action
from realtime.db import db_parallel
from realtime.errors import invalid
from realtime.fields import int_list_field
from realtime.frames import Frame, encode
from realtime.hub import get_hub
from realtime.ratelimit import rate_take

from . import services
from .delivery import delivery_greeting
from .fanout import batch_decode
from .redelivery import redelivery_forget, redelivery_pushed, redelivery_watch
from .selectors import unread_count


class _UserListener:
    """Hears the user's own group: notifications (position = id) and `unread` frames."""

    def __init__(self, consumer: NotificationConsumer) -> None:
        self.consumer = consumer
        self.socket_id = consumer.socket_id

    def push(self, text: str, position: int | None = None) -> None:
        self.consumer.offer(position, text)


class _BatchListener(_UserListener):
    """Hears `notifications.all`: picks this user's copy out of each batch envelope."""

    def push(self, text: str, position: int | None = None) -> None:
        mine = batch_decode(text).frame_for(self.consumer.user.pk)
        if mine is not None:
            self.consumer.offer(*mine)


class NotificationConsumer(RealtimeConsumer):
    """Greets with the unread count and the backlog, then pushes live ones; ack and read."""

    endpoint = "notifications"

    async def admit(self) -> None:
        # Any signed-in user may open their own inbox: nothing to refuse. The state
        # is set here, not in on_open(), because on_close() needs it whenever the
        # socket was registered.
        self.inflight: dict[int, float] = {}
        # Frames heard while the greeting is being sent, as (notification id or None, text).
        self.heard: list[tuple[int | None, str]] | None = []
        self.listeners = [
            (services.user_group(self.user.pk), _UserListener(self)),
            (services.ALL_GROUP, _BatchListener(self)),
        ]

    async def on_open(self) -> None:
        hub = get_hub()
        for group, listener in self.listeners:
            await hub.join(group, listener)
        unread, backlog = await db_parallel(delivery_greeting)(user_id=self.user.pk)
        # Sent directly, in order, and not through the outbox: a long backlog is not
        # a slow client.
        await self._send_now(encode({"type": "hello", "unread": unread, "backlog": len(backlog)}))
        for pending_id, text in backlog:
            await self._send_now(text)
            self.inflight[pending_id] = time.monotonic()
        heard, self.heard = self.heard or [], None
        sent = {notification_id for notification_id, _ in backlog}
        count_changed = False
        for notification_id, text in heard:
            if notification_id is None:
                count_changed = True
            elif notification_id not in sent:
                self.offer(notification_id, text)
        if count_changed:
            # An `unread` frame heard during the greeting may predate the backlog.
            unread = await db_parallel(unread_count)(user_id=self.user.pk)
            await self.send_frame({"type": "unread", "unread": unread})
        redelivery_watch(self)

    async def on_close(self) -> None:
        hub = get_hub()
        for group, listener in self.listeners:
            await hub.leave(group, listener)
        redelivery_forget(self)

    async def _send_now(self, text: str) -> None:
        if not self.closed:
            await self.base_send({"type": "websocket.send", "text": text})

    def offer(self, notification_id: int | None, text: str) -> None:
        """Push a frame heard from a group; notifications are then awaited for their ack."""
        if self.heard is not None:
            self.heard.append((notification_id, text))
            return
        self.push(text)
        if notification_id is not None:
            self.inflight[notification_id] = time.monotonic()
            redelivery_pushed(notification_id)

    async def rate_take(self, action_name: str) -> int:
        # Acks and reads have their own bucket: chatting fast must not delay delivery.
        return await rate_take(
            key=f"notify:{self.user.pk}",
            rate=settings.RATE_LIMIT_PER_SECOND,
            burst=settings.RATE_LIMIT_BURST,
        )

    @action("ack")
    async def ack(self, frame: Frame) -> Frame:
        ids = int_list_field(frame, "ids")
        mine = await db_parallel(services.notifications_ack)(user=self.user, ids=ids)
        for notification_id in mine:
            self.inflight.pop(notification_id, None)
        return {"type": "ack", "ids": mine}

    @action("read")
    async def read(self, frame: Frame) -> Frame:
        everything = "all" in frame and frame["all"] is not None
        if everything and frame.get("ids") is not None:
            raise invalid("give `ids` or `all`, not both")
        if everything and frame["all"] is not True:
            raise invalid("`all` must be true")
        ids = None if everything else int_list_field(frame, "ids")
        unread = await db_parallel(services.notifications_mark_read)(
            user=self.user, ids=ids, everything=everything, socket_id=self.socket_id
        )
        for notification_id in list(self.inflight) if everything else ids or []:
            self.inflight.pop(notification_id, None)
        return {"type": "ack", "unread": unread}
