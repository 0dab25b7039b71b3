"""Hostile frames on every socket: an error frame or a documented close, and nothing left behind.

Generated frames (any JSON, any text, any bytes, deep nesting, huge numbers,
wrong types, U+0000, lone surrogates) go to each endpoint. After each, a
`ping` gets its `pong` or the socket was closed with a code of its own; every
frame the server sent could go out as UTF-8 and carries a documented error
code, never `internal`; and once the socket is gone, so are its registry row,
its hub memberships and with them its presence.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from channels.db import database_sync_to_async
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from chat.models import Room
from dashboards.demo import seed
from dashboards.models import Dashboard
from realtime.asgi import application
from realtime.consumers import RealtimeConsumer
from realtime.hub import get_hub
from realtime.models import Connection
from tests.collab.factories import DocumentFactory
from tests.conftest import Client, Connect, _Communicator, token_for
from tests.factories import RoomFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

# Closes a frame may cause by design: too large, and sustained flooding.
CLOSE_CODES = {4009, 4429}
ERROR_CODES = {
    "bad_json",
    "unknown_action",
    "invalid",
    "rate_limited",
    "forbidden",
    "stale_version",
}
ACTIONS = ["send", "sendMessage", "history", "typing", "read", "ack", "op", "cursor", "sync"]
ACTIONS += ["snapshot", "ping", "refresh"]
FIELDS = ["message", "client_id", "before", "after", "limit", "typing", "last_seq", "ids", "all"]
FIELDS += ["version", "ops", "op_id", "position", "selection_end", "token"]

ODD_TEXT = ["", " ", "\x00", "a\x00b", "\ud800", "\udfff", "x\udc00y", "\ud83d\ude00", "\u2028"]
ODD_TEXT += ["x" * 5000, "NaN", "null", "-0"]
ODD_NUMBERS = [0, -1, 2**31, 2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 10**30, -(10**30)]

texts = st.one_of(
    st.text(st.characters(exclude_categories=()), max_size=20), st.sampled_from(ODD_TEXT)
)
numbers = st.one_of(
    st.integers(min_value=-5, max_value=100),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.sampled_from(ODD_NUMBERS),
    st.floats(),
)
json_values = st.recursive(
    st.none() | st.booleans() | numbers | texts,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=10,
)
components = st.fixed_dictionaries(
    {"type": st.sampled_from(["insert", "delete", "retain"]) | json_values},
    optional={"position": numbers | json_values, "text": texts, "length": numbers},
)
field_values = st.one_of(
    json_values, st.lists(numbers, min_size=1, max_size=4), st.lists(components, max_size=3)
)
action_frames = st.fixed_dictionaries(
    {"action": st.sampled_from(ACTIONS) | json_values},
    optional={"ref": json_values, **dict.fromkeys(FIELDS, field_values)},
)


def _nested(opening: str, depth: int) -> str:
    return opening * depth


# A frame as the server receives it: ("text", str) or ("bytes", bytes).
frames = st.one_of(
    action_frames.map(lambda frame: ("text", json.dumps(frame))),
    json_values.map(lambda value: ("text", json.dumps(value))),
    texts.map(lambda text: ("text", text)),
    st.binary(max_size=64).map(lambda data: ("bytes", data)),
    st.integers(1, 70_000).map(lambda depth: ("text", _nested("[", depth))),
    st.integers(1, 12_000).map(lambda depth: ("text", _nested('{"a":', depth))),
    # Valid JSON nested about as deep as the parser takes: it reaches the handler.
    st.integers(900, 1_100).map(
        lambda depth: ("text", '{"action":"ping","x":' + "[" * depth + "]" * depth + "}")
    ),
    st.integers(1, 6_000).map(
        lambda digits: ("text", '{"action":"ping","ref":' + "7" * digits + "}")
    ),
)


async def _open(path: str, user: Any) -> Client:
    token = await database_sync_to_async(token_for)(user)
    communicator = _Communicator(application, f"{path}?token={token}")
    connected, _ = await communicator.connect(timeout=5)
    assert connected
    client = Client(communicator)
    await client.receive()  # the greeting's first frame
    return client


async def _probe(client: Client, n: int) -> int | None:
    """Ping; None when the pong comes, or the close code if the server closed first.

    Every frame on the way must be one a real server could send, with a
    documented error code.
    """
    await client.ws.send_to(text_data=json.dumps({"action": "ping", "ref": f"probe-{n}"}))
    while True:
        message = await client.ws.receive_output(timeout=10)
        if message["type"] == "websocket.close":
            return int(message.get("code", 1000))
        text = message["text"]
        text.encode("utf-8")  # raises if a lone surrogate slipped into a reply
        frame = json.loads(text)
        if frame.get("type") == "error":
            assert frame["code"] in ERROR_CODES, frame
        if frame == {"type": "pong", "ref": f"probe-{n}"}:
            return None


async def _nothing_left() -> None:
    assert await database_sync_to_async(Connection.objects.count)() == 0
    assert not any(get_hub().members.values()), get_hub().members


Setup = Callable[[Any], Awaitable[str]]


async def _chat(user: Any) -> str:
    await database_sync_to_async(Room.objects.get_or_create)(slug="lobby", name="Lobby")
    return "/ws/chat/lobby/"


async def _notifications(user: Any) -> str:
    return "/ws/notifications/"


async def _collab(user: Any) -> str:
    document = await database_sync_to_async(DocumentFactory)(content="hello", owner=user)
    return f"/ws/collab/{document.pk}/"


def _seed_dashboards() -> None:
    if not Dashboard.objects.exists():
        seed(users={})


async def _dashboards(user: Any) -> str:
    await database_sync_to_async(_seed_dashboards)()
    return "/ws/dashboards/business/"


ENDPOINTS: dict[str, Setup] = {
    "chat": _chat,
    "notifications": _notifications,
    "collab": _collab,
    "dashboards": _dashboards,
}


@pytest.fixture
def generous_limits(settings: Any) -> None:
    """Limits high enough that the frames reach their handlers, not only the rate limiter."""
    settings.RATE_LIMIT_PER_SECOND = settings.COLLAB_RATE_PER_SECOND = 1_000_000.0
    settings.RATE_LIMIT_BURST = settings.COLLAB_RATE_BURST = 1_000_000


async def _exercise(endpoint: str, sent: list[tuple[str, Any]]) -> None:
    """Send each frame to a new socket of `endpoint`, probe it after each, then close it."""
    user = await database_sync_to_async(UserFactory)()
    client = await _open(await ENDPOINTS[endpoint](user), user)
    try:
        for n, (kind, data) in enumerate(sent):
            await client.ws.send_input({"type": "websocket.receive", kind: data})
            closed = await _probe(client, n)
            if closed is not None:
                assert closed in CLOSE_CODES
                break
    finally:
        await client.ws.disconnect(timeout=5)
    await _nothing_left()


@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS))
@hypothesis_settings(
    max_examples=40,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(sent=st.lists(frames, min_size=1, max_size=3))
async def test_any_frame_leaves_the_socket_usable_or_closed_cleanly(
    endpoint: str, sent: list[tuple[str, Any]], generous_limits: None
) -> None:
    await _exercise(endpoint, sent)


HUGE = 10**30
# Frames that once answered `internal` or killed the socket, on every endpoint.
KNOWN: list[Any] = [
    "[" * 60_000,
    '{"a":' * 12_000,
    {"action": "read", "last_seq": HUGE},
    {"action": "history", "before": HUGE},
    {"action": "history", "after": -HUGE},
    {"action": "read", "ids": [HUGE]},
    {"action": "ack", "ids": [HUGE, -HUGE]},
    {"action": "op", "version": HUGE, "ops": [{"type": "insert", "position": HUGE, "text": "x"}]},
    {"action": "cursor", "position": HUGE, "selection_end": HUGE, "version": HUGE},
    {"action": "sync", "version": HUGE},
    {"action": "send", "message": "a\u0000b", "client_id": "\u0000"},
    {"action": "send", "message": "hi", "client_id": "\ud800", "ref": "\ud800"},
    {"action": "op", "version": 0, "ops": [], "op_id": "\u0000"},
    {"action": "ping", "ref": "\udfff"},
    {"action": ["ping"]},
    {"action": "x" * 60_000},
    '{"action": "ping", "ref": 1e999}',
]


@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS))
async def test_known_hostile_frames(endpoint: str, generous_limits: None) -> None:
    sent = [("text", frame if isinstance(frame, str) else json.dumps(frame)) for frame in KNOWN]
    await _exercise(endpoint, sent)


async def test_deeply_nested_frame_is_bad_json(connect: Connect, user: Any) -> None:
    await database_sync_to_async(RoomFactory)(slug="lobby")
    client = await connect("/ws/chat/lobby/", user)
    await client.receive_type("history")
    await client.send("[" * 60_000)
    assert (await client.receive_type("error"))["code"] == "bad_json"
    await client.send({"action": "ping", "ref": 1})
    assert (await client.receive_type("pong"))["ref"] == 1
    await client.close()
    await _nothing_left()


async def _room_with_observer(connect: Connect, other_user: Any) -> Client:
    await database_sync_to_async(RoomFactory)(slug="lobby")
    observer = await connect("/ws/chat/lobby/", other_user)
    await observer.receive_type("history")
    await observer.receive_until("presence", lambda frame: "joined" in frame)  # its own
    return observer


async def _left(observer: Client, user: Any) -> bool:
    frame = await observer.receive_until("presence", lambda frame: "left" in frame)
    return bool(frame["left"] == [{"id": user.pk, "username": user.username}])


async def _rows_of(user: Any) -> int:
    return await database_sync_to_async(Connection.objects.filter(user=user).count)()


async def test_a_handler_that_raises_closes_with_4500_and_leaves_nothing(
    connect: Connect, user: Any, other_user: Any, monkeypatch: Any
) -> None:
    observer = await _room_with_observer(connect, other_user)
    client = await connect("/ws/chat/lobby/", user)
    await client.receive_type("history")
    await observer.receive_until("presence", lambda frame: "joined" in frame)  # the user's

    async def broken(consumer: Any, message: Any) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(RealtimeConsumer, "websocket_receive", broken)
    await client.send({"action": "ping"})
    assert await client.closed_with() == 4500
    assert await _left(observer, user)
    assert await _rows_of(user) == 0
    await observer.close()
    await _nothing_left()


async def test_a_socket_cancelled_mid_frame_leaves_nothing(
    connect: Connect, user: Any, other_user: Any, monkeypatch: Any
) -> None:
    """As when the server gives up on a socket whose client left during a slow frame."""
    observer = await _room_with_observer(connect, other_user)
    client = await connect("/ws/chat/lobby/", user)
    await client.receive_type("history")
    await observer.receive_until("presence", lambda frame: "joined" in frame)  # the user's
    entered = asyncio.Event()

    async def stuck(consumer: Any, message: Any) -> None:
        entered.set()
        await asyncio.Event().wait()

    monkeypatch.setattr(RealtimeConsumer, "websocket_receive", stuck)
    await client.send({"action": "ping"})
    await asyncio.wait_for(entered.wait(), timeout=5)
    client.ws.future.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await client.ws.future
    assert await _left(observer, user)
    assert await _rows_of(user) == 0
    await observer.close()
    await _nothing_left()
