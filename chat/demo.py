"""Demo rooms for `manage.py demo`."""

from __future__ import annotations

from typing import Any

from .models import Room
from .services import room_create, room_post_message


def seed(*, users: dict[str, Any]) -> None:
    """Two public rooms and one private room, with a first message; idempotent."""
    rooms = [
        ("lobby", "Lobby", False, []),
        ("random", "Random", False, []),
        ("staff", "Staff only", True, ["admin", "alice"]),
    ]
    for slug, name, private, members in rooms:
        if Room.objects.filter(slug=slug).exists():
            continue
        room = room_create(
            slug=slug,
            name=name,
            is_private=private,
            creator=users["admin"],
            member_ids=[users[name].pk for name in members],
        )
        room_post_message(room=room, user=users["admin"], body=f"Welcome to {name}!")
