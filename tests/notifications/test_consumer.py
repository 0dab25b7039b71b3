"""The notifications socket as a client sees it: greeting, backlog, live pushes, ack, read."""

from __future__ import annotations

from typing import Any

import pytest
from channels.db import database_sync_to_async

from notifications.models import Notification
from notifications.services import notifications_requeue, notify
from tests.conftest import Connect
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

PATH = "/ws/notifications/"


async def _notifications(client: Any, count: int) -> list[dict[str, Any]]:
    return [await client.receive_type("notification") for _ in range(count)]


async def test_offline_user_gets_all_200_in_order_once_each_when_acked(
    connect: Connect, user: Any
) -> None:
    created = [
        (await notify(users=user, kind="order", title=f"Order {n}")).ids[0] for n in range(200)
    ]
    client = await connect(PATH, user)
    assert await client.receive() == {"type": "hello", "unread": 200, "backlog": 200}
    frames = await _notifications(client, 200)
    assert [frame["id"] for frame in frames] == created
    assert [frame["title"] for frame in frames] == [f"Order {n}" for n in range(200)]
    assert frames[0]["kind"] == "order" and frames[0]["read"] is False
    assert isinstance(frames[0]["created"], int) and frames[0]["data"] == {}
    assert await client.nothing()
    await client.send({"action": "ack", "ids": created, "ref": "a1"})
    assert await client.receive() == {"type": "ack", "ids": created, "ref": "a1"}
    await client.close()

    again = await connect(PATH, user)
    assert await again.receive() == {"type": "hello", "unread": 200, "backlog": 0}
    assert await again.nothing()
    acked = await database_sync_to_async(
        Notification.objects.filter(status=Notification.Status.ACKED).count
    )()
    assert acked == 200


async def test_live_notification_reaches_every_tab(connect: Connect, user: Any) -> None:
    tabs = [await connect(PATH, user), await connect(PATH, user)]
    for tab in tabs:
        assert (await tab.receive())["type"] == "hello"
    sent = await notify(users=user, kind="friend_request", title="bob wants to be friends")
    for tab in tabs:
        frame = await tab.receive_type("notification")
        assert frame["id"] == sent.ids[0] and frame["title"] == "bob wants to be friends"
        assert await tab.nothing()


async def test_unacked_notification_comes_again_after_reconnect(
    connect: Connect, user: Any
) -> None:
    client = await connect(PATH, user)
    await client.receive_type("hello")
    sent = await notify(users=user, kind="price_drop", title="Cheaper now")
    assert (await client.receive_type("notification"))["id"] == sent.ids[0]
    await client.close()
    again = await connect(PATH, user)
    assert await again.receive() == {"type": "hello", "unread": 1, "backlog": 1}
    assert (await again.receive())["id"] == sent.ids[0]


async def test_redelivered_while_connected_until_acked(
    connect: Connect, user: Any, settings: Any
) -> None:
    settings.NOTIFY_REDELIVER_SECONDS = 0.2
    settings.NOTIFY_TICK_SECONDS = 0.05
    client = await connect(PATH, user)
    await client.receive_type("hello")
    sent = await notify(users=user, kind="order", title="Order 1")
    first = await client.receive_type("notification")
    second = await client.receive_type("notification")
    assert first == second and first["id"] == sent.ids[0]
    row = await database_sync_to_async(Notification.objects.get)(pk=sent.ids[0])
    assert row.attempts >= 2 and row.status == Notification.Status.PENDING
    await client.send({"action": "ack", "ids": sent.ids})
    await client.receive_type("ack")
    # A redelivery that raced the ack came before its reply; after it, nothing comes.
    assert all(frame["type"] == "notification" for frame in client.pending)
    client.pending.clear()
    assert await client.nothing(timeout=0.6)


async def test_past_its_attempts_it_is_dead_lettered_and_a_requeue_delivers_it(
    connect: Connect, user: Any, settings: Any
) -> None:
    settings.NOTIFY_MAX_ATTEMPTS = 2
    sent = await notify(users=user, kind="system_alert", title="Maintenance tonight")
    for attempt in (1, 2):
        client = await connect(PATH, user)
        assert (await client.receive())["backlog"] == 1
        assert (await client.receive())["id"] == sent.ids[0]
        await client.close()
        row = await database_sync_to_async(Notification.objects.get)(pk=sent.ids[0])
        assert row.attempts == attempt
    client = await connect(PATH, user)
    assert await client.receive() == {"type": "hello", "unread": 1, "backlog": 0}
    row = await database_sync_to_async(Notification.objects.get)(pk=sent.ids[0])
    assert row.status == Notification.Status.DEAD and row.dead_reason == "attempts"
    assert row.dead_at is not None and row.last_attempt is not None

    assert await database_sync_to_async(notifications_requeue)(ids=sent.ids) == 1
    frame = await client.receive_type("notification")
    assert frame["id"] == sent.ids[0] and frame["title"] == "Maintenance tonight"
    await client.send({"action": "ack", "ids": sent.ids})
    assert (await client.receive_type("ack"))["ids"] == sent.ids
    row = await database_sync_to_async(Notification.objects.get)(pk=sent.ids[0])
    assert row.status == Notification.Status.ACKED and row.acked is not None


async def test_everyone_gets_their_own_copy_of_a_broadcast(
    connect: Connect, user: Any, other_user: Any
) -> None:
    carol = await database_sync_to_async(UserFactory)(username="carol")
    clients = {}
    for person in (user, other_user, carol):
        clients[person.pk] = await connect(PATH, person)
        await clients[person.pk].receive_type("hello")
    sent = await notify(users="all", kind="system_alert", title="Deploy at noon")
    rows = await database_sync_to_async(
        lambda: dict(Notification.objects.values_list("recipient_id", "pk"))
    )()
    assert sorted(rows.values()) == sorted(sent.ids)
    for user_id, client in clients.items():
        frame = await client.receive_type("notification")
        assert frame["id"] == rows[user_id] and frame["title"] == "Deploy at noon"
        assert await client.nothing()


async def test_a_large_list_goes_as_one_batch_and_only_to_its_recipients(
    connect: Connect, user: Any, other_user: Any, settings: Any
) -> None:
    settings.NOTIFY_DIRECT_MAX = 1
    carol = await database_sync_to_async(UserFactory)(username="carol")
    alice, bob, outsider = (
        await connect(PATH, user),
        await connect(PATH, other_user),
        await connect(PATH, carol),
    )
    for client in (alice, bob, outsider):
        await client.receive_type("hello")
    sent = await notify(users=[user, other_user], kind="price_drop", title="Sale")
    assert (await alice.receive_type("notification"))["id"] == sent.ids[0]
    assert (await bob.receive_type("notification"))["id"] == sent.ids[1]
    assert await outsider.nothing()


async def test_reading_in_one_tab_updates_the_others(connect: Connect, user: Any) -> None:
    one, two = await connect(PATH, user), await connect(PATH, user)
    for tab in (one, two):
        await tab.receive_type("hello")
    sent = await notify(users=user, kind="order", title="A")
    await notify(users=user, kind="order", title="B")
    await one.send({"action": "read", "ids": sent.ids, "ref": 1})
    assert await one.receive_type("ack") == {"type": "ack", "unread": 1, "ref": 1}
    assert await two.receive_type("unread") == {"type": "unread", "unread": 1, "ids": sent.ids}
    await two.send({"action": "read", "all": True})
    assert (await two.receive_type("ack"))["unread"] == 0
    assert await one.receive_type("unread") == {"type": "unread", "unread": 0, "all": True}
    assert await two.nothing()


async def test_acks_and_reads_of_others_ids_change_nothing_and_leak_nothing(
    connect: Connect, user: Any, other_user: Any
) -> None:
    theirs = (await notify(users=other_user, kind="order", title="Secret order")).ids[0]
    mine = (await notify(users=user, kind="order", title="Mine")).ids[0]
    client = await connect(PATH, user)
    await client.receive_type("notification")
    await client.send({"action": "ack", "ids": [theirs, 10**9, mine]})
    assert (await client.receive_type("ack"))["ids"] == [mine]
    await client.send({"action": "read", "ids": [theirs]})
    assert (await client.receive_type("ack"))["unread"] == 1
    row = await database_sync_to_async(Notification.objects.get)(pk=theirs)
    assert row.status == Notification.Status.PENDING and row.read is False
    assert all("Secret" not in str(frame) for frame in client.seen)
    bob = await connect(PATH, other_user)
    assert (await bob.receive())["unread"] == 1
    assert (await bob.receive())["id"] == theirs


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("not json", "bad_json"),
        ("[1, 2]", "bad_json"),
        ({"action": "nope", "ref": "r"}, "unknown_action"),
        ({"action": "ack", "ref": "r"}, "invalid"),
        ({"action": "ack", "ids": [], "ref": "r"}, "invalid"),
        ({"action": "ack", "ids": ["1"], "ref": "r"}, "invalid"),
        ({"action": "ack", "ids": [True], "ref": "r"}, "invalid"),
        ({"action": "ack", "ids": list(range(1001)), "ref": "r"}, "invalid"),
        ({"action": "read", "ref": "r"}, "invalid"),
        ({"action": "read", "all": False, "ref": "r"}, "invalid"),
        ({"action": "read", "all": "yes", "ref": "r"}, "invalid"),
        ({"action": "read", "all": True, "ids": [1], "ref": "r"}, "invalid"),
    ],
)
async def test_malformed_frames_get_the_error_envelope(
    connect: Connect, user: Any, frame: Any, code: str
) -> None:
    client = await connect(PATH, user)
    await client.receive_type("hello")
    await client.send(frame)
    error = await client.receive_type("error")
    assert error["code"] == code and error["message"]
    if isinstance(frame, dict):
        assert error["ref"] == "r"
    await client.send({"action": "ping"})
    assert (await client.receive())["type"] == "pong"


async def test_unauthenticated_socket_is_refused(connect: Connect) -> None:
    client = await connect(PATH)
    assert await client.closed_with() == 4401
