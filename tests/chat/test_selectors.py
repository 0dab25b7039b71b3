"""Chat reads: the newest page of many rooms at once matches each room's own page."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chat import services
from chat.models import Message, Room
from chat.selectors import room_history, rooms_may_enter, rooms_recent_history
from tests.factories import RoomFactory, UserFactory

pytestmark = pytest.mark.django_db


def _rooms_with(counts: list[int]) -> list[Room]:
    user = UserFactory()
    rooms = []
    for index, count in enumerate(counts):
        room = RoomFactory(slug=f"r{index}")
        for n in range(count):
            services.room_post_message(room=room, user=user, body=f"{room.slug} {n}")
        rooms.append(room)
    return rooms


def _last_seqs(rooms: list[Room]) -> dict[Room, int]:
    return {room: Room.objects.get(pk=room.pk).last_seq for room in rooms}


def test_the_newest_page_of_many_rooms_is_each_rooms_own_page() -> None:
    rooms = _rooms_with([0, 3, 5, 6, 12])
    pages = rooms_recent_history(last_seqs=_last_seqs(rooms), limit=5)
    for room in rooms:
        assert pages[room] == room_history(room=room, limit=5)
    assert [m["seq"] for m in pages[rooms[4]][0]] == [8, 9, 10, 11, 12]
    assert [pages[room][1] for room in rooms] == [False, False, False, True, True]


def test_a_deleted_message_does_not_shorten_the_page() -> None:
    (room,) = _rooms_with([10])
    Message.objects.filter(room=room, seq=8).delete()
    messages, has_more = rooms_recent_history(last_seqs=_last_seqs([room]), limit=5)[room]
    assert [m["seq"] for m in messages] == [5, 6, 7, 9, 10]
    assert has_more


def test_messages_newer_than_the_given_last_seq_are_kept_in_the_page() -> None:
    (room,) = _rooms_with([8])
    pages = rooms_recent_history(last_seqs={room: 6}, limit=5)  # two posted since
    assert [m["seq"] for m in pages[room][0]] == [4, 5, 6, 7, 8]


def test_many_rooms_cost_one_query(django_assert_num_queries: Any) -> None:
    rooms = _rooms_with([4, 7, 9, 2])
    last_seqs = _last_seqs(rooms)
    with django_assert_num_queries(1):
        rooms_recent_history(last_seqs=last_seqs, limit=5)


def test_rooms_without_messages_cost_no_query(django_assert_num_queries: Any) -> None:
    empty = _rooms_with([0, 0])
    last_seqs = _last_seqs(empty)
    with django_assert_num_queries(0):
        pages = rooms_recent_history(last_seqs=last_seqs, limit=5)
    assert pages == {room: ([], False) for room in empty}


def test_empty_rooms_beside_others_keep_their_own_pages(django_assert_num_queries: Any) -> None:
    rooms = _rooms_with([0, 3, 0, 7])
    last_seqs = _last_seqs(rooms)
    with django_assert_num_queries(1):
        pages = rooms_recent_history(last_seqs=last_seqs, limit=5)
    for room in rooms:
        assert pages[room] == room_history(room=room, limit=5)


def test_private_rooms_admit_their_members_only() -> None:
    alice, bob = UserFactory(), UserFactory()
    public = RoomFactory(slug="public")
    private = RoomFactory(slug="private", is_private=True, members=[alice])
    with CaptureQueriesContext(connection) as queries:
        allowed = rooms_may_enter(
            entering=[(public, bob), (private, alice), (private, bob), (public, alice)]
        )
    assert allowed == [True, True, False, True]
    assert len(queries) == 1
