"""The client side of the collab protocol, without I/O: the twin of static/collab/client.js.

Jupiter style, as PROTOCOL.md describes: one op in flight, later edits
composed into a buffer; every server op (in version order) is transformed
against both and applied; the ack of the op in flight sends the buffer.
Frames may arrive out of version order (broadcasts from different server
processes, an ack before the op it was transformed past), so they wait in
`arrived` until the versions before them are in. After a reconnect, the
unacked op is resent as it was first sent (same base version and op_id).

The server bounds the work of one op: an op of more than OP_MAX_COMPONENTS
components is sent as several, and an op refused with `stale_version` (too
far behind to transform) is caught up with `sync` and sent again, same
op_id, from the version the client has reached. A `sync` reply with
`has_more` is followed by the next `sync`.

The tests and the benchmark drive it over real sockets; the caller moves
frames: `receive(frame)` in, `take_frames()` out.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from .ot import (
    OP_MAX_COMPONENTS,
    Op,
    apply,
    components_to_op,
    compose,
    op_length_change,
    op_to_components,
    transform,
)

Frame = dict[str, Any]

# Times in a row an op may be refused as too far behind before the client gives up.
MAX_REBASES = 10

# Error codes after which the same op is sent again once `retry_after_ms` has passed.
RETRY_LATER = frozenset({"rate_limited", "unavailable"})


@dataclass
class InFlight:
    """The op sent and not yet acknowledged: as it stands now, and the frame sent."""

    op: Op
    op_id: str
    frame: Frame
    # Refused as too far behind: the document's version then; resent once reached.
    stale_at: int | None = None


@dataclass
class CollabClient:
    """One client's view of a document (see the module docstring)."""

    text: str = ""
    version: int = 0
    client_id: str | None = None
    inflight: InFlight | None = None
    buffer: Op = field(default_factory=list)
    # Server events by version, waiting for the versions before them.
    arrived: dict[int, Frame] = field(default_factory=dict)
    outbox: list[Frame] = field(default_factory=list)
    online: bool = False
    # Set on an error this client cannot recover from without the server's text.
    broken: str | None = None
    # Milliseconds after which the op in flight should be resent (it was rate limited).
    retry_after_ms: int | None = None
    prefix: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    counter: int = 0
    greeted: bool = False
    # `stale_version` refusals of the op in flight since the last ack.
    rebases: int = 0

    # --- the connection ----------------------------------------------------------

    def on_hello(self, hello: Frame) -> None:
        """A (re)connect's greeting: take the text the first time; later, catch up and resend."""
        self.client_id = hello["client"]
        self.online = True
        if not self.greeted:
            self.greeted = True
            self.text, self.version = hello["content"], hello["version"]
            return
        if hello["version"] > self.version:
            self.outbox.append({"action": "sync", "version": self.version})
        if self.inflight is not None:
            self.outbox.append(self.inflight.frame)
        self._flush()

    def on_close(self) -> None:
        """The socket closed: keep everything, send nothing until the next hello."""
        self.online = False

    def take_frames(self) -> list[Frame]:
        """The frames to send now, in order."""
        frames, self.outbox = self.outbox, []
        return frames

    @property
    def idle(self) -> bool:
        """Nothing in flight, nothing buffered, nothing waiting for an earlier version."""
        return self.inflight is None and not self.buffer and not self.arrived

    # --- local edits ---------------------------------------------------------------

    def edit(self, op: Op) -> None:
        """Apply a local edit (an op on the current text) and send or buffer it."""
        self.text = apply(self.text, op)
        self.buffer = compose(self.buffer, op)
        self._flush()

    def splice(self, position: int, deleted: int, inserted: str) -> None:
        """Delete `deleted` code points at `position`, then insert `inserted` there."""
        components: list[Frame] = []
        if deleted:
            components.append({"type": "delete", "position": position, "length": deleted})
        if inserted:
            components.append({"type": "insert", "position": position, "text": inserted})
        self.edit(components_to_op(components, len(self.text)))

    def _flush(self) -> None:
        if not self.online or self.inflight is not None or not self.buffer:
            return
        self.counter += 1
        op_id = f"{self.prefix}-{self.counter}"
        op, self.buffer = _cut(self.buffer, self._server_length())
        frame = {
            "action": "op",
            "version": self.version,
            "ops": op_to_components(op),
            "op_id": op_id,
            "ref": op_id,
        }
        self.inflight = InFlight(op=op, op_id=op_id, frame=frame)
        self.outbox.append(frame)

    def _server_length(self) -> int:
        """The length of the server's text at this client's version."""
        length = len(self.text) - op_length_change(self.buffer)
        if self.inflight is not None:
            length -= op_length_change(self.inflight.op)
        return length

    def resend(self) -> None:
        """Send the op in flight again (after a `rate_limited` reply)."""
        self.retry_after_ms = None
        if self.inflight is not None and self.online:
            self.outbox.append(self.inflight.frame)

    # --- server frames -------------------------------------------------------------

    def receive(self, frame: Frame) -> None:
        """Take one server frame (any type; those of no concern here are ignored)."""
        kind = frame.get("type")
        if kind == "hello":
            self.on_hello(frame)
        elif kind == "op":
            self._arrive(frame)
        elif kind == "ack":
            self._arrive({"version": frame["version"], "ack": True, "op_id": frame.get("op_id")})
        elif kind == "ops":
            for entry in frame["ops"]:
                self._arrive(entry)
            if frame.get("has_more") and not self.broken:
                self.outbox.append(self.sync_frame())
        elif kind == "error":
            self._error(frame)

    def sync_frame(self) -> Frame:
        """A `sync` from this client's version (ask for it when a gap does not fill)."""
        return {"action": "sync", "version": self.version}

    def _error(self, frame: Frame) -> None:
        inflight = self.inflight
        mine = inflight is not None and frame.get("ref") == inflight.op_id
        if frame["code"] in RETRY_LATER and mine:
            self.retry_after_ms = int(frame.get("retry_after_ms") or 1)
        elif frame["code"] == "stale_version" and mine and self._may_rebase(frame):
            assert inflight is not None
            inflight.stale_at = int(frame["version"])
            self.rebases += 1
            if self.version < inflight.stale_at:
                self.outbox.append(self.sync_frame())
            self._rebase()
        elif mine or frame["code"] == "stale_version":
            self.broken = f"{frame['code']}: {frame['message']}"

    def _may_rebase(self, frame: Frame) -> bool:
        """True when a `stale_version` for the op in flight can be repaired by catching up."""
        version = frame.get("version")
        return (
            self.inflight is not None
            and isinstance(version, int)
            and version >= self.inflight.frame["version"]
            and self.rebases < MAX_REBASES
        )

    def _rebase(self) -> None:
        """Send the op refused as too far behind again, once this client has caught up.

        The op in flight has been transformed past every server op applied
        since it was sent, so it is sent as it stands, from this version,
        with the same op_id (the server had not committed it).
        """
        inflight = self.inflight
        if inflight is None or inflight.stale_at is None or self.version < inflight.stale_at:
            return
        inflight.stale_at = None
        first, later = _cut(inflight.op, self._server_length())
        if later:
            self.buffer = compose(later, self.buffer)
        inflight.op = first
        inflight.frame = {
            **inflight.frame,
            "version": self.version,
            "ops": op_to_components(first),
        }
        if self.online:
            self.outbox.append(inflight.frame)

    def _arrive(self, event: Frame) -> None:
        version = event["version"]
        if version <= self.version or version in self.arrived:
            return  # already applied (a sync and a broadcast can both bring it)
        self.arrived[version] = event
        while (ready := self.arrived.pop(self.version + 1, None)) is not None:
            inflight = self.inflight
            if inflight is not None and (ready.get("ack") or ready.get("op_id") == inflight.op_id):
                self.inflight = None
                self.rebases = 0
                self.version += 1
                self._flush()
            elif ready.get("ack"):
                self.broken = f"an ack for version {self.version + 1} with no op in flight"
                return
            else:
                self._apply_remote(ready["ops"])
        self._rebase()

    def _apply_remote(self, components: list[Frame]) -> None:
        op = components_to_op(components, self._server_length())
        if self.inflight is not None:
            mine = self.inflight.op
            self.inflight.op = transform(mine, op, "right")
            op = transform(op, mine, "left")
        if self.buffer:
            buffered = self.buffer
            self.buffer = transform(buffered, op, "right")
            op = transform(op, buffered, "left")
        self.text = apply(self.text, op)
        self.version += 1


def _cut(op: Op, length: int) -> tuple[Op, Op]:
    """`op` (on a text of `length`) as its first OP_MAX_COMPONENTS components, and the rest."""
    wire = op_to_components(op)
    if len(wire) <= OP_MAX_COMPONENTS:
        return op, []
    first = components_to_op(wire[:OP_MAX_COMPONENTS], length)
    return first, components_to_op(wire[OP_MAX_COMPONENTS:], length + op_length_change(first))
