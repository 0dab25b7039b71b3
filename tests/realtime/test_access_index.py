"""The per-process index of sockets that access announcements are matched against."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from realtime import access


@dataclass(eq=False)
class _Sock:
    endpoint: str
    target: str
    user_id: int
    session_digest: str | None = None
    told: list[int | None] = field(default_factory=list)

    @property
    def user(self) -> Any:
        return type("U", (), {"pk": self.user_id})()

    def access_changed(self, close_code: int | None) -> None:
        self.told.append(close_code)


def _announcement(**fields: Any) -> dict[str, Any]:
    message = {"endpoint": None, "targets": None, "users": None, "close": None, "session": None}
    message.update(fields)
    return message


async def test_target_change_reaches_sockets_on_it_only() -> None:
    here = _Sock("chat", "lobby", 1)
    elsewhere = _Sock("chat", "other", 1)
    other_app = _Sock("collab", "lobby", 1)
    for sock in (here, elsewhere, other_app):
        access.access_watch(sock, access.access_mark())

    access._heard(_announcement(endpoint="chat", targets=["lobby"]))

    assert (here.told, elsewhere.told, other_app.told) == ([None], [], [])


async def test_member_removal_reaches_only_that_users_sockets_on_the_target() -> None:
    bob, alice = _Sock("chat", "lobby", 2), _Sock("chat", "lobby", 1)
    for sock in (bob, alice):
        access.access_watch(sock, access.access_mark())

    access._heard(_announcement(endpoint="chat", targets=["lobby"], users=[2]))

    assert (bob.told, alice.told) == ([None], [])


async def test_logout_reaches_only_sockets_of_that_session() -> None:
    page = _Sock("chat", "lobby", 1, session_digest=access.session_digest("k1"))
    other_tab = _Sock("chat", "lobby", 1, session_digest=access.session_digest("k2"))
    for sock in (page, other_tab):
        access.access_watch(sock, access.access_mark())

    access._heard(_announcement(users=[1], close=4401, session=access.session_digest("k1")))

    assert (page.told, other_tab.told) == ([4401], [])


async def test_a_change_heard_during_the_handshake_is_replayed_when_indexed() -> None:
    mark = access.access_mark()
    access._heard(_announcement(endpoint="chat", targets=["lobby"], users=[2]))
    access._heard(_announcement(endpoint="chat", targets=["other"]))
    bob = _Sock("chat", "lobby", 2)

    access.access_watch(bob, mark)

    assert bob.told == [None]


async def test_when_too_much_was_heard_during_the_handshake_the_socket_checks_anyway() -> None:
    mark = access.access_mark()
    for n in range(access._REMEMBERED + 1):
        access._heard(_announcement(endpoint="chat", targets=[f"room-{n}"]))
    bob = _Sock("chat", "lobby", 2)

    access.access_watch(bob, mark)

    assert bob.told == [None]


async def test_forgotten_sockets_hear_nothing() -> None:
    bob = _Sock("chat", "lobby", 2)
    access.access_watch(bob, access.access_mark())
    access.access_forget(bob)

    access._heard(_announcement(users=[2], close=4401))

    assert bob.told == []
    assert not access._index().by_user and not access._index().by_target
