"""notify() and the delivery-state services: what they store and what they push."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from notifications import services
from notifications.delivery import delivery_greeting, delivery_retry
from notifications.models import Notification
from notifications.services import NotifyInvalid, notify
from tests.factories import UserFactory

from .factories import NotificationFactory

Status = Notification.Status


def _pushed(callbacks: list[Any], install_layer: Any) -> list[dict[str, Any]]:
    """Run the captured on-commit sends against a fake layer; the messages they sent."""
    sent: list[dict[str, Any]] = []

    async def group_send(group: str, message: dict[str, Any]) -> None:
        sent.append({"group": group, **message, "frame": json.loads(message["text"])})

    install_layer(group_send)
    for callback in callbacks:
        callback()
    return sent


@pytest.fixture
def layer_spy(monkeypatch: Any) -> Any:
    def install(group_send: Any) -> None:
        class Layer:
            pass

        layer = Layer()
        layer.group_send = group_send  # type: ignore[attr-defined]
        monkeypatch.setattr("realtime.broadcast.channel_layer", lambda: layer)

    return install


def test_notify_stores_one_row_per_active_recipient(db: None) -> None:
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    gone = UserFactory(username="gone", is_active=False)
    sent = notify(users=[bob, alice.pk, gone, 10**9], kind="order", title="Hi", data={"n": 1})
    rows = list(Notification.objects.order_by("recipient_id"))
    assert [row.recipient_id for row in rows] == [alice.pk, bob.pk]
    assert sent.ids == [row.pk for row in rows]
    assert all(row.status == Status.PENDING and row.attempts == 0 for row in rows)
    assert rows[0].data == {"n": 1} and rows[0].read is False


def test_pushed_only_after_the_commit_and_not_at_all_on_rollback(
    db: None, django_capture_on_commit_callbacks: Any, layer_spy: Any
) -> None:
    alice = UserFactory(username="alice")
    with django_capture_on_commit_callbacks() as callbacks:
        notify(users=alice, kind="order", title="Hi")
    sent = _pushed(callbacks, layer_spy)
    assert [message["group"] for message in sent] == [services.user_group(alice.pk)]
    assert sent[0]["frame"]["title"] == "Hi" and sent[0]["position"] == sent[0]["frame"]["id"]

    with django_capture_on_commit_callbacks() as callbacks:
        try:
            with transaction.atomic():
                notify(users=alice, kind="order", title="Never")
                raise RuntimeError("the order failed")
        except RuntimeError:
            pass
    assert callbacks == []
    assert not Notification.objects.filter(title="Never").exists()


def test_a_broadcast_is_one_layer_message_and_constant_queries(
    db: None, django_capture_on_commit_callbacks: Any, layer_spy: Any
) -> None:
    UserFactory.create_batch(5)
    with CaptureQueriesContext(connection) as few:
        notify(users="all", kind="system_alert", title="A")
    UserFactory.create_batch(60)
    with (
        django_capture_on_commit_callbacks() as callbacks,
        CaptureQueriesContext(connection) as many,
    ):
        sent = notify(users="all", kind="system_alert", title="B")
    assert len(sent.ids) == 65
    assert len(many.captured_queries) == len(few.captured_queries)
    messages = _pushed(callbacks, layer_spy)
    assert [message["group"] for message in messages] == [services.ALL_GROUP]
    assert messages[0]["frame"]["type"] == "notification_batch"


def test_a_short_list_is_pushed_per_user(
    db: None, django_capture_on_commit_callbacks: Any, layer_spy: Any, settings: Any
) -> None:
    settings.NOTIFY_DIRECT_MAX = 3
    users = UserFactory.create_batch(3)
    with django_capture_on_commit_callbacks() as callbacks:
        notify(users=users, kind="order", title="A")
    groups = [message["group"] for message in _pushed(callbacks, layer_spy)]
    assert groups == [services.user_group(user.pk) for user in users]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"kind": "Order!"}, "kind"),
        ({"kind": ""}, "kind"),
        ({"title": "  "}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"body": "x" * 2001}, "body"),
        ({"data": ["not", "an", "object"]}, "data"),
        ({"data": {"blob": "x" * 9000}}, "data"),
        ({"data": {"nan": float("nan")}}, "data"),
        ({"users": "everyone"}, "users"),
    ],
)
def test_bad_fields_are_refused_and_nothing_is_stored(
    db: None, fields: dict[str, Any], field: str
) -> None:
    alice = UserFactory(username="alice")
    arguments = {"users": alice, "kind": "order", "title": "Hi", **fields}
    with pytest.raises(NotifyInvalid) as refused:
        notify(**arguments)
    assert refused.value.field == field
    assert not Notification.objects.exists()


@pytest.mark.django_db(transaction=True)
async def test_async_callers_await_notify() -> None:
    alice = await database_sync_to_async(UserFactory)(username="alice")
    pending = notify(users=alice, kind="order", title="From async")
    with pytest.raises(RuntimeError):
        _ = pending.ids
    sent = await pending
    assert len(sent.ids) == 1
    with pytest.raises(NotifyInvalid):
        notify(users=alice, kind="BAD", title="x")
    stored = await database_sync_to_async(Notification.objects.get)(pk=sent.ids[0])
    assert stored.title == "From async"


def test_ack_takes_only_the_users_own_ids(db: None) -> None:
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    mine, theirs = NotificationFactory(recipient=alice), NotificationFactory(recipient=bob)
    assert services.notifications_ack(user=alice, ids=[theirs.pk, mine.pk, 10**9]) == [mine.pk]
    theirs.refresh_from_db()
    mine.refresh_from_db()
    assert theirs.status == Status.PENDING and mine.status == Status.ACKED


def test_read_marks_acks_and_tells_the_other_sockets(
    db: None, django_capture_on_commit_callbacks: Any, layer_spy: Any
) -> None:
    alice = UserFactory(username="alice")
    first, second = NotificationFactory(recipient=alice), NotificationFactory(recipient=alice)
    with django_capture_on_commit_callbacks() as callbacks:
        unread = services.notifications_mark_read(user=alice, ids=[first.pk], socket_id="s1")
    assert unread == 1
    first.refresh_from_db()
    assert first.read and first.status == Status.ACKED
    [message] = _pushed(callbacks, layer_spy)
    assert message["exclude"] == "s1"
    assert message["frame"] == {"type": "unread", "unread": 1, "ids": [first.pk]}
    with django_capture_on_commit_callbacks() as callbacks:
        assert services.notifications_mark_read(user=alice, ids=[first.pk]) == 1
    assert callbacks == []  # nothing changed, nothing said
    assert services.notifications_mark_read(user=alice, everything=True) == 0
    second.refresh_from_db()
    assert second.read


def test_expire_moves_the_old_and_the_worn_out_to_dead_letters(db: None, settings: Any) -> None:
    settings.NOTIFY_MAX_ATTEMPTS = 3
    now = timezone.now()
    old = NotificationFactory(first_attempt=now - timedelta(days=2), attempts=1)
    worn = NotificationFactory(attempts=3, first_attempt=now, last_attempt=now - timedelta(hours=1))
    just_tried = NotificationFactory(attempts=3, first_attempt=now, last_attempt=now)
    never_tried = NotificationFactory(created=now - timedelta(days=30))
    assert services.notifications_expire() == 2
    states = {row.pk: (row.status, row.dead_reason) for row in Notification.objects.all()}
    assert states[old.pk] == (Status.DEAD, "age")
    assert states[worn.pk] == (Status.DEAD, "attempts")
    # Still within its ack timeout; and an offline user's unpushed rows never expire.
    assert states[just_tried.pk] == (Status.PENDING, "")
    assert states[never_tried.pk] == (Status.PENDING, "")


def test_greeting_counts_attempts_and_skips_what_is_spent(db: None, settings: Any) -> None:
    settings.NOTIFY_MAX_ATTEMPTS = 2
    alice = UserFactory(username="alice")
    fresh = NotificationFactory(recipient=alice)
    spent = NotificationFactory(recipient=alice, attempts=2)
    stale = NotificationFactory(
        recipient=alice, attempts=1, first_attempt=timezone.now() - timedelta(days=2)
    )
    NotificationFactory(recipient=alice, status=Status.ACKED, read=True)
    unread, backlog = delivery_greeting(user_id=alice.pk)
    assert unread == 3
    assert [notification_id for notification_id, _ in backlog] == [fresh.pk]
    fresh.refresh_from_db()
    spent.refresh_from_db()
    stale.refresh_from_db()
    assert fresh.attempts == 1 and fresh.first_attempt is not None
    assert (spent.status, spent.dead_reason) == (Status.DEAD, "attempts")
    assert (stale.status, stale.dead_reason) == (Status.DEAD, "age")


def test_requeue_and_discard(
    db: None, django_capture_on_commit_callbacks: Any, layer_spy: Any
) -> None:
    alice = UserFactory(username="alice")
    dead = NotificationFactory(recipient=alice, status=Status.DEAD, dead_reason="age", attempts=5)
    other = NotificationFactory(recipient=alice, status=Status.DEAD, dead_reason="attempts")
    acked = NotificationFactory(recipient=alice, status=Status.ACKED)
    with django_capture_on_commit_callbacks() as callbacks:
        assert services.notifications_requeue(ids=[dead.pk, acked.pk]) == 1
    dead.refresh_from_db()
    assert (dead.status, dead.attempts, dead.dead_reason) == (Status.PENDING, 0, "")
    [pushed] = _pushed(callbacks, layer_spy)
    assert pushed["frame"]["id"] == dead.pk
    with django_capture_on_commit_callbacks() as callbacks:
        assert services.notifications_discard(ids=[other.pk, acked.pk]) == 1
    assert not Notification.objects.filter(pk=other.pk).exists()
    [told] = _pushed(callbacks, layer_spy)
    assert told["frame"] == {"type": "unread", "unread": 2}


def test_greeting_and_redelivery_queries_do_not_grow_with_the_backlog(db: None) -> None:
    alice = UserFactory(username="alice")

    def queries(count: int) -> tuple[int, int]:
        Notification.objects.all().delete()
        ids = [NotificationFactory(recipient=alice).pk for _ in range(count)]
        with CaptureQueriesContext(connection) as greeting:
            delivery_greeting(user_id=alice.pk)
        with CaptureQueriesContext(connection) as retry:
            assert len(delivery_retry(due=set(ids), pushed=set(ids))) == count
        return len(greeting.captured_queries), len(retry.captured_queries)

    assert queries(3) == queries(300)


def test_requeueing_a_broadcasts_dead_letters_is_one_batch(
    db: None, django_capture_on_commit_callbacks: Any, layer_spy: Any, settings: Any
) -> None:
    settings.NOTIFY_DIRECT_MAX = 1
    UserFactory.create_batch(3)
    ids = notify(users="all", kind="system_alert", title="Outage").ids
    Notification.objects.update(status=Status.DEAD, dead_reason="attempts")
    with django_capture_on_commit_callbacks() as callbacks:
        assert services.notifications_requeue(ids=ids) == 3
    [message] = _pushed(callbacks, layer_spy)
    assert message["group"] == services.ALL_GROUP
    assert message["frame"]["ids"] == [[ids[0], 3]]
