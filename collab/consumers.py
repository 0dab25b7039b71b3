"""`/ws/collab/<doc_id>/`: parse, authorize, call collab services."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser

from realtime import errors
from realtime.consumers import RealtimeConsumer, action
from realtime.db import db_parallel, db_turn
from realtime.errors import Refuse, invalid
from realtime.fields import int_field, text_field
from realtime.frames import Frame
from realtime.ratelimit import rate_take

from . import peers, services
from .models import MAX_ID, Document
from .ot import OP_MAX_COMPONENTS
from .selectors import doc_may_read

# The work of transforming an op grows with its components: clients send more as several ops.
_MAX_COMPONENTS = OP_MAX_COMPONENTS
_LIMITED_ACTIONS = frozenset({"op", "cursor"})


def _document_for(doc_id: int, user: AbstractBaseUser) -> Document:
    found = Document.objects.filter(pk=doc_id).only("pk", "owner_id", "access")
    document = found.first() if doc_id <= MAX_ID else None
    if document is None:
        raise Refuse(errors.NOT_FOUND)
    if not doc_may_read(document=document, user=user):
        raise Refuse(errors.FORBIDDEN)
    return document


def _components(frame: Frame) -> list[Any]:
    ops = frame.get("ops")
    if not isinstance(ops, list) or not ops:
        raise invalid("`ops` must be a non-empty list of components")
    if len(ops) > _MAX_COMPONENTS:
        raise invalid(f"`ops` must have at most {_MAX_COMPONENTS} components")
    return ops


class CollabConsumer(RealtimeConsumer):
    """One shared document: greeting with text and peers, then ops and cursors."""

    endpoint = "collab"
    document_id: int
    # The version the greeting carried: broadcasts at or below it are already in it.
    greeted_version: int = -1

    async def admit(self) -> None:
        doc_id = int(self.scope["url_route"]["kwargs"]["doc_id"])
        document = await db_parallel(_document_for)(doc_id, self.user)
        self.document_id = document.pk
        self.target = str(document.pk)

    async def reauthorize(self) -> None:
        await db_parallel(_document_for)(self.document_id, self.user)

    async def on_open(self) -> None:
        self.hold()
        await self.join(services.doc_group(self.document_id))
        hello = await db_parallel(peers.peer_join)(
            document_id=self.document_id, user=self.user, socket_id=self.socket_id
        )
        self.greeted_version = hello["version"]
        await self.send_frame(hello)
        self.release(seen_upto=hello["version"])

    def push(self, text: str, position: int | None = None) -> None:
        """Queue a frame, dropping ops the greeting already holds.

        `release()` skips those that came in while the greeting was read; one
        published before this socket joined can still reach this process's
        hub afterwards (another socket here had subscribed the group).
        """
        if position is not None and position <= self.greeted_version:
            return
        super().push(text, position)

    async def rate_take(self, action_name: str) -> int:
        """`op` and `cursor` share collab's own per-user bucket; the rest the default one."""
        if action_name not in _LIMITED_ACTIONS:
            return await super().rate_take(action_name)
        return await rate_take(
            key=f"collab:{self.user.pk}",
            rate=settings.COLLAB_RATE_PER_SECOND,
            burst=settings.COLLAB_RATE_BURST,
        )

    @action("op")
    async def op(self, frame: Frame) -> Frame:
        version = int_field(frame, "version", minimum=0)
        components = _components(frame)
        op_id = text_field(frame, "op_id", max_length=services.OP_ID_MAX_LENGTH, required=False)
        assert version is not None
        # One op per user and per document at a time in this process: the rest
        # wait here, not on the database's lock in a thread of the pool.
        async with db_turn(self._user_turn, f"collab-doc:{self.document_id}"):
            commit = await db_parallel(services.doc_apply_op)(
                document_id=self.document_id,
                user=self.user,
                socket_id=self.socket_id,
                base_version=version,
                components=components,
                op_id=op_id,
            )
        return {"type": "ack", "version": commit.version, "op_id": op_id}

    @action("cursor")
    async def cursor(self, frame: Frame) -> None:
        position = int_field(frame, "position", minimum=0)
        selection_end = int_field(frame, "selection_end", required=False, minimum=0)
        version = int_field(frame, "version", required=False, minimum=0)
        assert position is not None
        async with db_turn(self._user_turn):
            await db_parallel(peers.peer_move_cursor)(
                document_id=self.document_id,
                user=self.user,
                socket_id=self.socket_id,
                position=position,
                selection_end=selection_end,
                version=version,
            )

    @action("sync")
    async def sync(self, frame: Frame) -> Frame:
        version = int_field(frame, "version", minimum=0)
        assert version is not None
        async with db_turn(self._user_turn):
            return await db_parallel(services.doc_ops_since)(
                document_id=self.document_id, version=version
            )

    @property
    def _user_turn(self) -> str:
        """The turn all of a user's collab frames share in this process."""
        return f"collab-user:{self.user.pk}"
