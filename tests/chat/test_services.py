"""Chat services: seqs without gaps under concurrency, idempotency, read markers, query counts."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chat import services
from chat.models import Message, ReadMarker, Room
from realtime.errors import FrameError
from tests.factories import RoomFactory, UserFactory


@pytest.mark.django_db(transaction=True)
def test_concurrent_posts_get_consecutive_seqs() -> None:
    room = RoomFactory()
    users = [UserFactory() for _ in range(4)]
    failures: list[BaseException] = []

    def post_many(user: Any) -> None:
        try:
            for n in range(15):
                services.room_post_message(room=room, user=user, body=f"{user.pk}-{n}")
        except BaseException as exc:  # surfaced below
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=post_many, args=(user,)) for user in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not failures
    seqs = list(Message.objects.filter(room=room).order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, 61))
    assert Room.objects.get(pk=room.pk).last_seq == 60


@pytest.mark.django_db(transaction=True)
def test_concurrent_resends_of_one_client_id_store_one_message() -> None:
    room, user = RoomFactory(), UserFactory()
    ids: list[int] = []

    def resend() -> None:
        try:
            message, _ = services.room_post_message(room=room, user=user, body="x", client_id="k")
            ids.append(message.pk)
        finally:
            connection.close()

    threads = [threading.Thread(target=resend) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(ids) == 5 and len(set(ids)) == 1
    assert Message.objects.count() == 1


@pytest.mark.django_db
def test_client_id_is_per_user_and_room() -> None:
    room, other_room = RoomFactory(), RoomFactory()
    alice, bob = UserFactory(), UserFactory()
    first, created = services.room_post_message(room=room, user=alice, body="a", client_id="k")
    assert created
    _, created = services.room_post_message(room=room, user=bob, body="b", client_id="k")
    assert created
    _, created = services.room_post_message(room=other_room, user=alice, body="c", client_id="k")
    assert created
    again, created = services.room_post_message(room=room, user=alice, body="a", client_id="k")
    assert not created and again.pk == first.pk


@pytest.mark.django_db
@pytest.mark.parametrize("body", ["", "  \n ", "x" * 4001])
def test_post_refuses_bad_bodies(body: str) -> None:
    room = RoomFactory()
    with pytest.raises(FrameError):
        services.room_post_message(room=room, user=UserFactory(), body=body)
    assert Message.objects.count() == 0 and Room.objects.get(pk=room.pk).last_seq == 0


@pytest.mark.django_db
def test_read_marker_only_moves_forward_and_within_the_room() -> None:
    room, user = RoomFactory(), UserFactory()
    for n in range(3):
        services.room_post_message(room=room, user=user, body=str(n))
    assert services.room_mark_read(room=room, user=user, last_seq=2) == 2
    assert services.room_mark_read(room=room, user=user, last_seq=1) == 2
    assert services.room_mark_read(room=room, user=user, last_seq=99) == 3
    assert ReadMarker.objects.get(room=room, user=user).last_seq == 3


@pytest.mark.django_db
def test_post_message_query_count() -> None:
    """The hot path: a fixed number of queries, whatever the room's size."""
    room, user = RoomFactory(), UserFactory()
    services.room_post_message(room=room, user=user, body="warm")
    with CaptureQueriesContext(connection) as queries:
        services.room_post_message(room=room, user=user, body="x", client_id="c1")
    # idempotency look-up, savepoint, seq update, seq read, insert, release
    assert len(queries) <= 6, [q["sql"] for q in queries]
