"""The base consumer every endpoint builds on.

It owns what PROTOCOL.md says of every socket: the handshake refusals and
their close codes, the registry entry and presence, action dispatch with the
error envelope and `ref` echo, `ping`, the frame-size limit, the per-user rate
limit, and the outbox that broadcasts and replies share (so their order holds).
An app subclass declares `endpoint`, `admit()`, `on_open()` and its actions.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Generator
from typing import Any, ClassVar

from channels.consumer import AsyncConsumer, get_handler_name
from channels.exceptions import StopConsumer
from django.conf import settings
from django.db import InterfaceError, OperationalError
from redis import RedisError

from . import errors
from .access import access_forget, access_listen, access_mark, access_watch
from .batching import Batched
from .errors import FrameError, Refuse
from .fields import ref_of, text_field
from .frames import Frame, encode, error_frame
from .handshake import Credential, user_active
from .hub import get_hub
from .process import PROCESS_ID, process_ensure_started
from .ratelimit import message_rate_take
from .registry import Socket, connections_close, connections_open
from .tokens import InvalidToken, token_check_user, token_claims, token_generation

log = logging.getLogger(__name__)

# What an action raises when the database or Redis cannot be reached (or the
# database refused a transaction that may pass when retried): `unavailable`.
SERVICE_AWAY = (OperationalError, InterfaceError, RedisError, ConnectionError)

# Sockets that open or close together are recorded together.
_register = Batched(connections_open)
_unregister = Batched(connections_close)

Handler = Callable[[Any, Frame], Awaitable[Frame | None]]

# Access checks under way (a reference keeps each task alive until it ends).
_settling: set[asyncio.Task[None]] = set()


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
    # How the socket authenticated (set at connect, replaced by `refresh`).
    credential: Credential | None = None
    session_digest: str | None = None
    # Broadcasts held while access is checked again, and that check's end.
    suspended: list[tuple[str, int | None]] | None = None
    rechecked: asyncio.Future[None] | None = None
    settling: int = 0
    expiry: asyncio.TimerHandle | None = None

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

    async def reauthorize(self) -> None:
        """Check again that `self.user` (just reloaded) may use the target; raise Refuse if not.

        Runs when an announced change of access may concern this socket
        (realtime.access); the socket sends nothing until it returns.
        """

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

        Whatever ends the socket, its cleanup runs once: a handler that raised
        (or a cancellation by the server) closes it with 4500 and then runs the
        disconnect handler, which leaves the registry, the hub's groups and
        presence; a disconnect handler that raised itself is not run again.
        """
        self.scope = scope
        self.channel_layer = None
        self.base_send = send
        message: dict[str, Any] = {}
        cancelled: asyncio.CancelledError | None = None
        try:
            while True:
                message = await receive()
                await self.dispatch(message)
        except StopConsumer:
            return
        except Exception:
            log.exception("socket failed on %s", self.endpoint)
        except asyncio.CancelledError as exc:
            cancelled = exc
        if message and message.get("type") != "websocket.disconnect":
            await self.close(errors.SERVER_ERROR)
            with contextlib.suppress(StopConsumer):
                await self.websocket_disconnect(
                    {"type": "websocket.disconnect", "code": errors.SERVER_ERROR}
                )
        if cancelled is not None:
            raise cancelled

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
        self.credential = self.scope.get("credential")
        self.session_digest = self.credential.session_digest if self.credential else None
        try:
            if "refusal" in self.scope:
                raise Refuse(self.scope["refusal"])
            await access_listen()
            mark = access_mark()
            await self.admit()
            await process_ensure_started()
            await _register((self._socket(), self.user))
            self.registered = True
            self._expire_at(self.credential.expires if self.credential else None)
            access_watch(self, mark)
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
        if self.registered:
            access_forget(self)
        if self.expiry is not None:
            self.expiry.cancel()
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
        if self.suspended is not None:
            self.suspended.append((text, position))
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
        except Exception:  # any failure to parse (nested too deep, a number too long)
            frame = None
        if not isinstance(frame, dict):
            await self.send_frame(error_frame("bad_json", "a frame must be a JSON object"))
            return
        await self._run_action(frame)

    async def _run_action(self, frame: Frame) -> None:
        """Run the frame's action and send its reply; any failure is answered with an error."""
        if self.rechecked is not None:  # access is being checked again: wait for the verdict
            await asyncio.shield(self.rechecked)
            if self.closed:
                return
        ref = ref_of(frame)
        name = frame.get("action")
        method = self.actions.get(name) if isinstance(name, str) else None
        if method is None:
            message = (
                f"no action {name[:64]!r} on this endpoint"
                if isinstance(name, str)
                else "`action` must be a string"
            )
            await self.send_frame(error_frame("unknown_action", message, ref))
            return
        assert isinstance(name, str)
        try:
            if name not in self.unlimited_actions and not await self._within_rate(name, ref):
                return
            reply = await getattr(self, method)(frame)
            if reply is not None:
                if ref is not None:
                    reply["ref"] = ref
                await self.send_frame(reply)  # encoded here: a reply that cannot be is `internal`
        except FrameError as exc:
            await self.send_frame(error_frame(exc.code, exc.message, ref, **exc.extra))
        except SERVICE_AWAY as exc:
            log.warning("action %s on %s: %s", name, self.endpoint, type(exc).__name__)
            await self.send_frame(
                error_frame(
                    "unavailable",
                    "a service this action needs is away; nothing was applied, send it again",
                    ref,
                    retry_after_ms=settings.UNAVAILABLE_RETRY_MS,
                )
            )
        except Exception:
            log.exception("action %s failed on %s", name, self.endpoint)
            await self.send_frame(
                error_frame("internal", "the server failed; nothing was applied", ref)
            )

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

    @action("refresh")
    async def refresh(self, frame: Frame) -> Frame:
        """Extend a token-authenticated socket's life with a new token of the same user."""
        token = text_field(frame, "token", max_length=4096)
        assert token is not None
        if self.credential is None or self.credential.kind != "token":
            raise errors.invalid("`token`: this socket is signed in with a session, not a token")
        try:
            claims = token_claims(token)
            if claims.user_id != self.user.pk:
                raise InvalidToken("another user's token")
            token_check_user(claims, await user_active(claims.user_id))
        except InvalidToken:
            raise errors.invalid("`token` is not a valid token of this socket's user") from None
        self.credential = Credential("token", claims.expires, generation=claims.generation)
        self._expire_at(claims.expires)
        return {"type": "refreshed", "expires_in": max(0, int(claims.expires - time.time()))}

    # --- access for the life of the socket (realtime.access) -------------------

    def _expire_at(self, expires: float | None) -> None:
        """Close the socket with 4401 when its credential expires (Unix seconds)."""
        if self.expiry is not None:
            self.expiry.cancel()
            self.expiry = None
        if expires is None:
            return
        loop = asyncio.get_running_loop()
        self.expiry = loop.call_later(max(0.0, expires - time.time()), self._expired)

    def _expired(self) -> None:
        self.expiry = None
        self.access_changed(errors.NOT_AUTHENTICATED)

    def access_changed(self, close_code: int | None) -> None:
        """Access may have ended: send nothing more until it is settled.

        With `close_code` the socket closes with it; without, the user is
        reloaded and the app's `reauthorize()` decides. Frames the client sends
        meanwhile wait for the verdict. Called on the event loop; never blocks.
        """
        if self.closed:
            return
        loop = asyncio.get_running_loop()
        if self.suspended is None:
            self.suspended = []
        if self.rechecked is None:
            self.rechecked = loop.create_future()
        self.settling += 1
        task = loop.create_task(self._settle_access(close_code))
        _settling.add(task)
        task.add_done_callback(_settling.discard)

    async def _settle_access(self, close_code: int | None) -> None:
        try:
            if close_code is None:
                close_code = await self._recheck()
        finally:
            if close_code is not None:
                await self.close(close_code)
            self.settling -= 1
            if not self.settling:
                self._resume()

    async def _recheck(self) -> int | None:
        """The close code if the socket lost its access, else None."""
        try:
            user = await user_active(self.user.pk)
            credential = self.credential
            if credential is not None and credential.generation not in (
                None,
                token_generation(user),
            ):
                raise InvalidToken("revoked")
            self.user = user
            await self.reauthorize()
        except InvalidToken:
            return errors.NOT_AUTHENTICATED
        except Refuse as refusal:
            return refusal.code
        except Exception:
            log.exception("checking access again failed on %s", self.endpoint)
            return errors.SERVER_ERROR
        return None

    def _resume(self) -> None:
        """Send what was held while access was checked (nothing if the socket closed)."""
        held, self.suspended = self.suspended or [], None
        rechecked, self.rechecked = self.rechecked, None
        if rechecked is not None and not rechecked.done():
            rechecked.set_result(None)
        for text, position in held:
            self.push(text, position)


class NotFoundConsumer(RealtimeConsumer):
    """Any WebSocket path no app serves: refused with 4404 (after auth, like the rest)."""

    endpoint = "none"

    async def admit(self) -> None:
        raise Refuse(errors.NOT_FOUND)
