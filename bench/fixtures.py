"""Bench data, written straight into the bench database: users, a staff user, rooms.

Run as `python -m bench.fixtures` with the server's environment (DATABASE_URL,
PASSWORD_HASHERS); reads `{"users": N, "rooms": [slug, ...], "migrate": bool}`
on stdin and prints `{"users": [id, ...], "staff": id, "rooms": [slug, ...]}`.
Idempotent: users and rooms that exist are reused. Tokens are not made here:
the orchestrator signs them itself with the server's JWT_SECRET, so 10,000
sockets need no 10,000 logins.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

USER_PREFIX = "bench-"
STAFF_USERNAME = "bench-staff"
PASSWORD = "bench-password"


def _users(count: int) -> tuple[list[int], int]:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password

    User = get_user_model()
    names = [f"{USER_PREFIX}{index:05d}" for index in range(count)]
    # One hash for every user: hashing 10,000 passwords one by one takes minutes.
    password = make_password(PASSWORD)
    existing = dict(
        User.objects.filter(username__startswith=USER_PREFIX).values_list("username", "pk")
    )
    missing = [name for name in [*names, STAFF_USERNAME] if name not in existing]
    User.objects.bulk_create(
        [
            User(username=name, password=password, is_staff=name == STAFF_USERNAME)
            for name in missing
        ],
        batch_size=1000,
    )
    User.objects.filter(username=STAFF_USERNAME).update(is_staff=True)
    ids = dict(User.objects.filter(username__startswith=USER_PREFIX).values_list("username", "pk"))
    return [ids[name] for name in names], ids[STAFF_USERNAME]


def _rooms(slugs: list[str]) -> None:
    from chat.models import Room

    existing = set(Room.objects.filter(slug__in=slugs).values_list("slug", flat=True))
    Room.objects.bulk_create(
        [Room(slug=slug, name=slug) for slug in slugs if slug not in existing], batch_size=1000
    )


def _forget_sockets() -> None:
    """Registry rows left by an earlier bench server (killed, not stopped) would count."""
    from realtime.models import Connection, ServerProcess

    Connection.objects.all().delete()
    ServerProcess.objects.all().delete()


def build(spec: dict[str, Any]) -> dict[str, Any]:
    """Migrate if asked, then make sure the users and rooms of `spec` exist."""
    from django.core.management import call_command

    if spec.get("migrate"):
        call_command("migrate", interactive=False, verbosity=0)
    user_ids, staff_id = _users(int(spec.get("users", 0)))
    _rooms(list(spec.get("rooms", [])))
    _forget_sockets()
    return {"users": user_ids, "staff": staff_id, "rooms": list(spec.get("rooms", []))}


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "realtime.settings")
    import django

    django.setup()
    spec = json.loads(sys.stdin.read() or "{}")
    print(json.dumps(build(spec)))


if __name__ == "__main__":
    main()
