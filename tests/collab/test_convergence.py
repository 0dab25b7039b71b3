"""Property: clients with random edits and random delivery all converge to the server text.

The server is the real service (`doc_apply_op`, `doc_ops_since`) on the test
database; the clients are `collab.client.CollabClient`, the Python twin of
the browser's state machine. The network between them is simulated: each
client's frames reach the server in order, but what the server sends a
client arrives in any order (broadcasts and acks take different paths when
several server processes are involved), and a client may lose its
connection at any time, losing what was on the wire both ways.

Every inserted character is unique (some outside the BMP), so the outcome
can be checked exactly: the final text holds each inserted character once,
unless some client deleted it, and never a deleted one. A client can only
delete what it saw, so an insert that landed inside a range someone else
deleted concurrently survives.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collab import client as client_module
from collab import services
from collab.client import CollabClient
from collab.models import Document, DocumentOp
from collab.ot import apply, components_to_op
from realtime.errors import FrameError
from tests.factories import UserFactory

from .factories import DocumentFactory

pytestmark = pytest.mark.django_db


@dataclass
class Sim:
    """N clients, one server (the services), the wires between them."""

    doc: Document
    users: list[Any]
    published: list[tuple[str, dict[str, Any], str | None]]
    clients: list[CollabClient] = field(default_factory=list)
    sockets: list[str] = field(default_factory=list)
    up: list[list[dict[str, Any]]] = field(default_factory=list)
    down: list[list[dict[str, Any]]] = field(default_factory=list)
    next_char: int = 0
    inserted: set[str] = field(default_factory=set)
    deleted: set[str] = field(default_factory=set)

    def add_client(self) -> None:
        self.clients.append(CollabClient())
        self.sockets.append("")
        self.up.append([])
        self.down.append([])
        self.connect(len(self.clients) - 1)

    def connect(self, index: int) -> None:
        """A new socket for client `index`: its greeting, then whatever the client resends."""
        self.sockets[index] = uuid.uuid4().hex
        self.doc.refresh_from_db()
        hello = {
            "type": "hello",
            "client": self.sockets[index],
            "version": self.doc.version,
            "content": self.doc.content,
        }
        self.clients[index].receive(hello)
        self.pump_out(index)

    def drop(self, index: int) -> None:
        """The connection breaks: frames on the wire are lost both ways."""
        self.clients[index].on_close()
        self.up[index].clear()
        self.down[index].clear()
        self.connect(index)

    def pump_out(self, index: int) -> None:
        self.up[index].extend(self.clients[index].take_frames())

    def fresh_text(self, size: int) -> str:
        chars = []
        for _ in range(size):
            n = self.next_char
            self.next_char += 1
            # Every other character is outside the BMP (a surrogate pair in JS).
            chars.append(chr(0x4E00 + n) if n % 2 == 0 else chr(0x20000 + n))
        self.inserted.update(chars)
        return "".join(chars)

    def edit(self, index: int, where: int, size: int, delete: bool) -> None:
        client = self.clients[index]
        length = len(client.text)
        position = where % (length + 1)
        if delete and length:
            position = min(position, length - 1)
            count = 1 + size % min(4, length - position)
            self.deleted.update(client.text[position : position + count])
            client.splice(position, count, "")
        else:
            client.splice(position, 0, self.fresh_text(1 + size % 3))
        self.pump_out(index)

    def serve(self, index: int) -> None:
        """The server handles the oldest frame client `index` sent."""
        if not self.up[index]:
            return
        frame = self.up[index].pop(0)
        user = self.users[index % len(self.users)]
        try:
            if frame["action"] == "sync":
                reply = services.doc_ops_since(document_id=self.doc.pk, version=frame["version"])
            else:
                commit = services.doc_apply_op(
                    document_id=self.doc.pk,
                    user=user,
                    socket_id=self.sockets[index],
                    base_version=frame["version"],
                    components=frame["ops"],
                    op_id=frame["op_id"],
                )
                reply = {"type": "ack", "version": commit.version, "op_id": frame["op_id"]}
        except FrameError as exc:
            # As the consumer answers; a client that cannot repair it is `broken` (checked below).
            reply = {"type": "error", "code": exc.code, "message": exc.message, **exc.extra}
            if "ref" in frame:
                reply["ref"] = frame["ref"]
        self.down[index].append(reply)
        for _group, published, exclude in self.published:
            for other, socket in enumerate(self.sockets):
                if socket != exclude:
                    self.down[other].append(published)
        self.published.clear()

    def deliver(self, index: int, pick: int) -> None:
        """Any one of the frames on the way to client `index` arrives (order is not kept)."""
        wire = self.down[index]
        if wire:
            self.clients[index].receive(wire.pop(pick % len(wire)))
            self.pump_out(index)

    def settle(self) -> None:
        """Deliver everything; a client still missing a version asks for `sync`."""
        for _ in range(10_000):
            busy = False
            for index, client in enumerate(self.clients):
                if self.up[index]:
                    self.serve(index)
                    busy = True
                elif self.down[index]:
                    self.deliver(index, 0)
                    busy = True
                elif client.arrived:
                    self.up[index].append(client.sync_frame())
                    busy = True
            if not busy:
                return
        raise AssertionError("the simulation did not settle")


steps = st.lists(
    st.tuples(
        st.sampled_from(["edit", "edit", "delete", "serve", "serve", "deliver", "deliver", "drop"]),
        st.integers(0, 3),
        st.integers(0, 1000),
        st.integers(0, 1000),
    ),
    max_size=80,
)


@pytest.fixture
def published(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, Any], str | None]]:
    """What the services broadcast, caught as they publish it."""
    frames: list[tuple[str, dict[str, Any], str | None]] = []

    def capture(group: str, frame: dict[str, Any], *, exclude: str | None = None, **_: Any) -> None:
        frames.append((group, frame, exclude))

    monkeypatch.setattr(services, "publish", capture)
    return frames


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    initial=st.lists(st.sampled_from("abcdefgh"), unique=True, max_size=8).map("".join),
    clients=st.integers(2, 4),
    plan=steps,
)
def test_clients_converge_to_the_server_text(
    published: list[tuple[str, dict[str, Any], str | None]],
    initial: str,
    clients: int,
    plan: list[tuple[str, int, int, int]],
) -> None:
    run_and_check(published, initial, clients, plan)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    initial=st.lists(st.sampled_from("abcdefgh"), unique=True, max_size=8).map("".join),
    clients=st.integers(2, 4),
    plan=steps,
)
def test_clients_converge_when_the_server_bounds_are_tiny(
    published: list[tuple[str, dict[str, Any], str | None]],
    tiny_bounds: None,
    initial: str,
    clients: int,
    plan: list[tuple[str, int, int, int]],
) -> None:
    """Ops split to two components, refused as stale past 3 steps, `sync` two ops a page."""
    run_and_check(published, initial, clients, plan)


@pytest.fixture
def tiny_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    from django.conf import settings as django_settings

    monkeypatch.setattr(django_settings, "COLLAB_MAX_TRANSFORM_WORK", 3)
    monkeypatch.setattr(django_settings, "COLLAB_SYNC_MAX_OPS", 2)
    monkeypatch.setattr(client_module, "OP_MAX_COMPONENTS", 2)
    # Others keep committing while an op is refused: let it retry as long as it takes.
    monkeypatch.setattr(client_module, "MAX_REBASES", 10_000)


def run_and_check(
    published: list[tuple[str, dict[str, Any], str | None]],
    initial: str,
    clients: int,
    plan: list[tuple[str, int, int, int]],
) -> None:
    users = [UserFactory(username="alice"), UserFactory(username="bob")]
    sim = Sim(
        doc=DocumentFactory(content=initial, owner=users[0]), users=users, published=published
    )
    sim.inserted.update(initial)
    for _ in range(clients):
        sim.add_client()
    for kind, who, a, b in plan:
        index = who % clients
        if kind in ("edit", "delete"):
            sim.edit(index, a, b, delete=kind == "delete")
        elif kind == "serve":
            sim.serve(index)
        elif kind == "deliver":
            sim.deliver(index, a)
        else:
            sim.drop(index)
    sim.settle()

    sim.doc.refresh_from_db()
    for client in sim.clients:
        assert client.broken is None
        assert client.idle
        assert client.version == sim.doc.version
        assert client.text == sim.doc.content
    text = sim.doc.content
    assert len(set(text)) == len(text), "no character is doubled"
    assert set(text) == sim.inserted - sim.deleted
    # The op log replays to the stored text: each version was committed once, in order.
    replayed = initial
    for components in DocumentOp.objects.filter(document=sim.doc).values_list("ops", flat=True):
        replayed = apply(replayed, components_to_op(components, len(replayed)))
    assert replayed == text
