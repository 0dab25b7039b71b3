"""The base consumer every endpoint builds on.

It owns what PROTOCOL.md says of every socket: the handshake refusals and
their close codes, the registry entry and presence, action dispatch with the
error envelope and `ref` echo, `ping`, the frame-size limit, the per-user rate
limit, and the outbox that broadcasts and replies share (so their order holds).
An app subclass declares `endpoint`, `admit()`, `on_open()` and its actions.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Generator
from typing import Any, ClassVar

from channels.consumer import AsyncConsumer, get_handler_name
from channels.exceptions import StopConsumer
from django.conf import settings

from . import errors
from .batching import Batched
from .errors import FrameError, Refuse
from .fields import ref_of
from .frames import Frame, encode, error_frame
from .hub import get_hub
from .process import PROCESS_ID, process_ensure_started
from .ratelimit import message_rate_take
from .registry import Socket, connections_close, connections_open

log = logging.getLogger(__name__)

# Sockets that open or close together are recorded together.
_register = Batched(connections_open)
_unregister = Batched(connections_close)

Handler = Callable[[Any, Frame], Awaitable[Frame | None]]


def action(*names: str) -> Callable[[Handler], Handler]:
    """Mark a consumer method as the handler of the client actions `names`.

    The handler gets the parsed frame and returns the reply frame (its `ref`
    is added) or None; it raises FrameError for an error reply.
    """

    def mark(handler: Handler) -> Handler:
        handler.action_names = names  # type: ignore[attr-defined]
        return handler

    return mark


class Resumed:
    """Awaits the rest of a coroutine already started by hand and suspended at `waiting_on`."""

    def __init__(self, coro: Coroutine[Any, Any, Any], waiting_on: Any) -> None:
        self.coro = coro
        self.waiting_on = waiting_on

    def __await__(self) -> Generator[Any, Any, None]:
        coro, step = self.coro, self.waiting_on
        while True:
            try:
                sent = yield step
            except BaseException as exc:  # cancelled while waiting: pass it in
                try:
                    step = coro.throw(exc)
                except StopIteration:
                    return
            else:
                try:
                    step = coro.send(sent)
                except StopIteration:
                    return


class RealtimeConsumer(AsyncConsumer):
    """Base of the four endpoints. Broadcasts reach it through the process hub."""

    endpoint: ClassVar[str] = ""
    actions: ClassVar[dict[str, str]] = {}
    unlimited_actions: ClassVar[frozenset[str]] = frozenset({"ping"})

    user: Any
    target: str = ""
    presence_group: str = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        found: dict[str, str] = {}
        for klass in reversed(cls.__mro__):
            for attr, value in vars(klass).items():
                for name in getattr(value, "action_names", ()):
                    found[name] = attr
        cls.actions = found

    # --- hooks for apps -------------------------------------------------------

    async def admit(self) -> None:
        """Check the path and query, load the target, authorize. Raise Refuse to refuse."""

    async def on_open(self) -> None:
        """The socket is accepted and registered: join groups, send the greeting."""

    async def on_close(self) -> None:
        """The socket closed (groups are left and the registry updated by the base)."""

    async def rate_take(self, action_name: str) -> int:
        """Milliseconds until this action may run; 0 to run it now."""
        return await message_rate_take(self.user.pk)

    # --- lifecycle ------------------------------------------------------------

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Run the socket: one event at a time from the server, each to its handler.

        Channels' own loop also listens on a channel-layer channel per socket and
        makes a task per event; here broadcasts come through the process hub
        instead, so the socket needs neither (less memory per idle socket, less
        work per client frame).
        """
        self.scope = scope
        self.channel_layer = None
        self.base_send = send
        try:
            while True:
                await self.dispatch(await receive())
        except StopConsumer:
            pass

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Run the handler of an ASGI event.

        Channels' own dispatch first closes stale ORM connections on its one
        ORM thread, a thread round trip per client frame. Every ORM call here
        goes through `db_parallel`, which does that on its own thread around
        each call, so the round trip is skipped.
        """
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"no handler for message type {message['type']}")
        await handler(message)

    async def websocket_connect(self, message: dict[str, Any]) -> None:
        self.socket_id = uuid.uuid4().hex
        self.user = self.scope["user"]
        self.groups: set[str] = set()
        # Frames waiting behind a send that suspended; None while nothing waits
        # (the usual case: an idle socket holds no queue).
        self.outbox: deque[str] | None = None
        self.writer: asyncio.Task[None] | None = None
        self.closed = False
        self.registered = False
        self.held: list[tuple[str, int | None]] | None = None
        self.floor: int | None = None
        self.limited_in_a_row = 0
        self.outbox_limit = settings.MAX_OUTBOX_FRAMES
        try:
            if "refusal" in self.scope:
                raise Refuse(self.scope["refusal"])
            await self.admit()
            await process_ensure_started()
            await _register((self._socket(), self.user))
            self.registered = True
        except Refuse as refusal:
            await self._accept_and_close(refusal.code)
            return
        except Exception:
            log.exception("handshake failed on %s", self.endpoint)
            await self._accept_and_close(errors.SERVER_ERROR)
            return
        await self.base_send({"type": "websocket.accept"})
        try:
            await self.on_open()
        except Exception:
            log.exception("opening %s failed", self.endpoint)
            await self.close(errors.SERVER_ERROR)

    async def websocket_disconnect(self, message: dict[str, Any]) -> None:
        self.closed = True
        if self.writer is not None:
            self.writer.cancel()
        hub = get_hub()
        for group in list(self.groups):
            await hub.leave(group, self)
        if self.registered:
            try:
                await _unregister(self.socket_id)
            except Exception:
                log.exception("could not unregister socket %s", self.socket_id)
            await self.on_close()
        raise StopConsumer()

    def _socket(self) -> Socket:
        client = self.scope.get("client") or (None, None)
        return Socket(
            id=self.socket_id,
            endpoint=self.endpoint,
            target=self.target,
            ip=client[0],
            process=PROCESS_ID,
            presence_group=self.presence_group,
        )

    async def _accept_and_close(self, code: int) -> None:
        self.closed = True
        await self.base_send({"type": "websocket.accept"})
        await self.base_send({"type": "websocket.close", "code": code})

    async def close(self, code: int = 1000) -> None:
        """Close the socket with `code` (queued frames are dropped)."""
        if self.closed:
            return
        self.closed = True
        self.outbox = None
        try:
            await self.base_send({"type": "websocket.close", "code": code})
        except Exception:  # the server closed it first
            log.debug("closing socket %s failed", self.socket_id, exc_info=True)

    # --- groups and sending ---------------------------------------------------

    async def join(self, group: str) -> None:
        """Receive every frame broadcast to `group` from now on."""
        self.groups.add(group)
        await get_hub().join(group, self)

    async def leave(self, group: str) -> None:
        self.groups.discard(group)
        await get_hub().leave(group, self)

    def hold(self) -> None:
        """Queue broadcasts aside until `release()`: lets a greeting go out first."""
        self.held = []

    def release(self, *, seen_upto: int | None = None) -> None:
        """Send the held broadcasts, skipping those at or below `seen_upto` (already sent).

        Broadcasts at or below `seen_upto` that are still on their way (published
        before the greeting was read, delivered after it) are skipped later too.
        """
        held, self.held = self.held or [], None
        self.floor = seen_upto
        for text, position in held:
            self.push(text, position)

    def push(self, text: str, position: int | None = None) -> None:
        """Queue one encoded broadcast; never blocks. A socket that stops reading is dropped."""
        if self.closed:
            return
        if position is not None and self.floor is not None and position <= self.floor:
            return
        if self.held is not None:
            self.held.append((text, position))
            return
        self.send_text(text)

    def send_text(self, text: str) -> None:
        """Queue one encoded frame of this socket's own (a reply, a greeting), past any hold."""
        if self.closed:
            return
        if self.outbox is not None:  # a send is suspended: queue behind it
            if len(self.outbox) >= self.outbox_limit:
                log.warning("dropping slow socket %s", self.socket_id)
                self.outbox = None
                asyncio.get_running_loop().create_task(self.close(errors.SLOW_CONSUMER))
                return
            self.outbox.append(text)
            return
        # Nothing queued: send now. The server's send rarely suspends (daphne's
        # never does), so this usually finishes here without a task per frame.
        sending = self.base_send({"type": "websocket.send", "text": text})
        try:
            waiting_on = sending.send(None)
        except StopIteration:
            return
        except Exception:
            log.debug("send to socket %s failed", self.socket_id, exc_info=True)
            return
        self.outbox = deque()
        self.writer = asyncio.get_running_loop().create_task(
            self._drain(Resumed(sending, waiting_on))
        )

    async def _drain(self, unfinished: Awaitable[None]) -> None:
        try:
            await unfinished
            while self.outbox and not self.closed:
                await self.base_send({"type": "websocket.send", "text": self.outbox.popleft()})
        except Exception:
            # The server closed the link meanwhile (uvicorn's keepalive, say); the
            # disconnect event follows and cleans up.
            log.debug("send to socket %s failed", self.socket_id, exc_info=True)
        finally:
            self.writer = None
            self.outbox = None

    async def send_frame(self, frame: Frame) -> None:
        """Send one frame to this socket only, after anything already queued.

        Not held by `hold()`: a greeting sent while broadcasts are held goes first.
        """
        self.send_text(encode(frame))

    # --- client frames --------------------------------------------------------

    async def websocket_receive(self, message: dict[str, Any]) -> None:
        if self.closed:
            return
        text = message.get("text")
        if text is None:
            size = len(message.get("bytes") or b"")
            if size > settings.MAX_FRAME_BYTES:
                await self.close(errors.FRAME_TOO_LARGE)
            else:
                await self.send_frame(error_frame("bad_json", "frames must be text"))
            return
        if (
            len(text) * 4 > settings.MAX_FRAME_BYTES
            and len(text.encode()) > settings.MAX_FRAME_BYTES
        ):
            await self.close(errors.FRAME_TOO_LARGE)
            return
        try:
            frame = json.loads(text)
        except ValueError:
            frame = None
        if not isinstance(frame, dict):
            await self.send_frame(error_frame("bad_json", "a frame must be a JSON object"))
            return
        await self._run_action(frame)

    async def _run_action(self, frame: Frame) -> None:
        ref = ref_of(frame)
        name = frame.get("action")
        method = self.actions.get(name) if isinstance(name, str) else None
        if method is None:
            await self.send_frame(
                error_frame("unknown_action", f"no action {name!r} on this endpoint", ref)
            )
            return
        assert isinstance(name, str)
        if name not in self.unlimited_actions and not await self._within_rate(name, ref):
            return
        try:
            reply = await getattr(self, method)(frame)
        except FrameError as exc:
            await self.send_frame(error_frame(exc.code, exc.message, ref, **exc.extra))
            return
        except Exception:
            log.exception("action %s failed on %s", name, self.endpoint)
            await self.send_frame(
                error_frame("internal", "the server failed; nothing was applied", ref)
            )
            return
        if reply is not None:
            if ref is not None:
                reply["ref"] = ref
            await self.send_frame(reply)

    async def _within_rate(self, name: str, ref: str | int | None) -> bool:
        wait_ms = await self.rate_take(name)
        if not wait_ms:
            self.limited_in_a_row = 0
            return True
        self.limited_in_a_row += 1
        if self.limited_in_a_row >= settings.RATE_LIMIT_FLOOD_CLOSE:
            await self.close(errors.TOO_MANY)
            return False
        await self.send_frame(
            error_frame("rate_limited", "too many messages; slow down", ref, retry_after_ms=wait_ms)
        )
        return False

    @action("ping")
    async def ping(self, frame: Frame) -> Frame:
        return {"type": "pong"}


class NotFoundConsumer(RealtimeConsumer):
    """Any WebSocket path no app serves: refused with 4404 (after auth, like the rest)."""

    endpoint = "none"

    async def admit(self) -> None:
        raise Refuse(errors.NOT_FOUND)
