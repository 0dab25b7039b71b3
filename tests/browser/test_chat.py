"""The chat room page in a real browser against real daphne processes.

Two users chat (presence, typing, read markers), user text stays text, and the
page keeps its history whole, each message once and in order, across a server
restart and across a link that drops while a message is in flight.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from typing import Any

from playwright.sync_api import Page, WebSocketRoute, expect

from chat.models import Message
from tests.factories import PASSWORD, RoomFactory, UserFactory
from tests.servers import Server

RESTART_TIMEOUT = 30_000  # ms: a process start plus a reconnect backoff of up to 15 s


def state(page: Page) -> Any:
    return expect(page.locator("#conn-state"))


def texts(page: Page) -> Any:
    return expect(page.locator("#messages .msg-text"))


def say(page: Page, text: str) -> None:
    page.fill("#message-input", text)
    page.press("#message-input", "Enter")


def seqs(page: Page) -> list[int]:
    return [
        int(seq)
        for seq in page.locator("#messages .msg").evaluate_all(
            "items => items.map(item => item.dataset.seq)"
        )
    ]


def api_post(server: Server, path: str, body: dict[str, Any], token: str | None = None) -> Any:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(
        f"{server.http}{path}", data=json.dumps(body).encode(), headers=headers, method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def test_two_users_see_each_other_type_and_talk(open_page: Callable[..., Page]) -> None:
    UserFactory(username="alice")
    UserFactory(username="bob")
    RoomFactory(slug="lobby", name="Lobby")
    alice = open_page("alice", "/rooms/lobby/")
    state(alice).to_have_attribute("data-state", "open")
    bob = open_page("bob", "/rooms/lobby/")
    state(bob).to_have_attribute("data-state", "open")

    for page in (alice, bob):
        expect(page.locator("#online .name")).to_have_text(["alice", "bob"])

    bob.locator("#message-input").press_sequentially("hi alice")
    expect(alice.locator("#typing")).to_have_text("bob is typing…")
    bob.press("#message-input", "Enter")
    texts(alice).to_have_text(["hi alice"])
    expect(alice.locator("#messages .author")).to_have_text(["bob"])
    expect(alice.locator("#typing")).to_have_text("")

    # Alice's page is in view, so it reports the read; bob sees it under his message.
    expect(bob.locator("#messages .msg").last.locator(".seen")).to_have_text("Seen by alice")

    say(alice, "hello bob")
    texts(bob).to_have_text(["hi alice", "hello bob"])
    texts(alice).to_have_text(["hi alice", "hello bob"])
    expect(bob.locator("#pending .msg")).to_have_count(0)

    bob.close()
    expect(alice.locator("#online .name")).to_have_text(["alice"])


def test_message_markup_is_shown_as_text(open_page: Callable[..., Page]) -> None:
    UserFactory(username="alice")
    UserFactory(username="bob")
    RoomFactory(slug="lobby", name="Lobby")
    alice = open_page("alice", "/rooms/lobby/")
    bob = open_page("bob", "/rooms/lobby/")
    state(bob).to_have_attribute("data-state", "open")
    evil = '<img src=x onerror="window.pwned = true"><b>bold</b> & <script>alert(1)</script>'

    say(alice, evil)

    for page in (alice, bob):
        texts(page).to_have_text([evil])
        expect(page.locator("#messages img, #messages b, #messages script")).to_have_count(0)
        assert page.evaluate("window.pwned") is None


def test_history_is_whole_after_a_server_restart(
    open_page: Callable[..., Page], site_server: Server, servers: Callable[..., Server]
) -> None:
    UserFactory(username="alice")
    UserFactory(username="bob")
    room = RoomFactory(slug="lobby", name="Lobby")
    page = open_page("alice", "/rooms/lobby/")
    state(page).to_have_attribute("data-state", "open")
    say(page, "before the restart")
    texts(page).to_have_text(["before the restart"])
    # A second process on the same database takes bob's posts while the first is down.
    other = servers()
    token = api_post(other, "/api/token/", {"username": "bob", "password": PASSWORD})["access"]

    site_server.stop()
    state(page).not_to_have_attribute("data-state", "open")
    for text in ("while down 1", "while down 2"):
        api_post(other, "/api/rooms/lobby/messages/", {"message": text}, token)
    restarted = servers(port=site_server.port)

    state(page).to_have_attribute("data-state", "open", timeout=RESTART_TIMEOUT)
    texts(page).to_have_text(["before the restart", "while down 1", "while down 2"])
    api_post(restarted, "/api/rooms/lobby/messages/", {"message": "after the restart"}, token)
    say(page, "alice is back")
    expected = ["before the restart", "while down 1", "while down 2", "after the restart"]
    texts(page).to_have_text([*expected, "alice is back"])
    assert seqs(page) == [1, 2, 3, 4, 5]
    assert list(room.messages.order_by("seq").values_list("body", flat=True)) == [
        *expected,
        "alice is back",
    ]


def test_message_sent_while_down_is_delivered_once(
    open_page: Callable[..., Page], site_server: Server, servers: Callable[..., Server]
) -> None:
    UserFactory(username="alice")
    room = RoomFactory(slug="lobby", name="Lobby")
    page = open_page("alice", "/rooms/lobby/")
    state(page).to_have_attribute("data-state", "open")
    site_server.stop()
    state(page).to_have_attribute("data-state", "reconnecting")

    say(page, "written offline")
    expect(page.locator("#pending .msg-text")).to_have_text(["written offline"])
    expect(page.locator("#pending .status")).to_have_text("Waiting for connection…")
    servers(port=site_server.port)

    state(page).to_have_attribute("data-state", "open", timeout=RESTART_TIMEOUT)
    texts(page).to_have_text(["written offline"])
    expect(page.locator("#pending .msg")).to_have_count(0)
    assert Message.objects.filter(room=room, body="written offline").count() == 1


class LossyLink:
    """Relays a page's chat socket, losing the first `send`'s ack and broadcast with the link.

    On the next connection it holds the greeting's history back until the page
    has resent, so the test sees the resend whatever the timing.
    """

    def __init__(self) -> None:
        self.sends: list[dict[str, Any]] = []
        self.connections = 0
        self.held: list[str | bytes] = []

    def __call__(self, ws: WebSocketRoute) -> None:
        self.connections += 1
        reconnected = self.connections > 1
        server = ws.connect_to_server()
        open_ = [True]

        def to_server(message: str | bytes) -> None:
            if json.loads(message).get("action") == "send":
                self.sends.append(json.loads(message))
                for held in self.held:
                    ws.send(held)
                self.held.clear()
            server.send(message)

        def to_page(message: str | bytes) -> None:
            frame = json.loads(message)
            if not open_[0]:
                return
            if not reconnected and frame.get("type") in ("ack", "message"):
                if frame["type"] == "ack":
                    open_[0] = False
                    ws.close(code=1012)
                return
            if reconnected and len(self.sends) < 2 and frame.get("type") == "history":
                self.held.append(message)
                return
            ws.send(message)

        ws.on_message(to_server)
        server.on_message(to_page)


def test_unacked_message_is_resent_once_after_the_link_drops(
    open_page: Callable[..., Page],
) -> None:
    """The server stores the message but its ack and broadcast are lost with the link:
    the page resends the same client_id, and the message shows (and is stored) once."""
    UserFactory(username="alice")
    room = RoomFactory(slug="lobby", name="Lobby")
    page = open_page("alice", "/rooms/lobby/")
    link = LossyLink()
    page.route_web_socket("**/ws/chat/**", link)
    page.reload()
    state(page).to_have_attribute("data-state", "open")

    say(page, "lost ack")

    texts(page).to_have_text(["lost ack"])
    expect(page.locator("#pending .msg")).to_have_count(0)
    assert link.connections == 2
    assert [frame["message"] for frame in link.sends] == ["lost ack", "lost ack"]
    assert link.sends[0]["client_id"] == link.sends[1]["client_id"]
    assert Message.objects.filter(room=room, body="lost ack").count() == 1


def test_refused_as_unauthenticated_goes_to_login(open_page: Callable[..., Page]) -> None:
    UserFactory(username="alice")
    RoomFactory(slug="lobby", name="Lobby")
    page = open_page("alice", "/rooms/lobby/")
    page.route_web_socket("**/ws/chat/**", lambda ws: ws.close(code=4401))
    page.reload()
    page.wait_for_url("**/login/?next=%2Frooms%2Flobby%2F")
    expect(page.locator("input[name=username]")).to_be_visible()


def test_a_missed_broadcast_is_fetched_when_the_seq_jumps(
    open_page: Callable[..., Page], site_server: Server
) -> None:
    UserFactory(username="alice")
    UserFactory(username="bob")
    RoomFactory(slug="lobby", name="Lobby")
    page = open_page("alice", "/rooms/lobby/")
    asked: list[dict[str, Any]] = []

    def drop_seq_2(ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()

        def to_server(message: str | bytes) -> None:
            if json.loads(message).get("action") == "history":
                asked.append(json.loads(message))
            server.send(message)

        def to_page(message: str | bytes) -> None:
            frame = json.loads(message)
            if not (frame.get("type") == "message" and frame.get("seq") == 2):
                ws.send(message)

        ws.on_message(to_server)
        server.on_message(to_page)

    page.route_web_socket("**/ws/chat/**", drop_seq_2)
    page.reload()
    state(page).to_have_attribute("data-state", "open")
    token = api_post(site_server, "/api/token/", {"username": "bob", "password": PASSWORD})
    for text in ("one", "two", "three"):
        api_post(site_server, "/api/rooms/lobby/messages/", {"message": text}, token["access"])

    texts(page).to_have_text(["one", "two", "three"])
    assert seqs(page) == [1, 2, 3]
    assert [(frame.get("after"), frame.get("before")) for frame in asked] == [(1, None)]


def test_load_older_pages_back_through_history(open_page: Callable[..., Page]) -> None:
    alice = UserFactory(username="alice")
    room = RoomFactory(slug="lobby", name="Lobby", last_seq=60)
    Message.objects.bulk_create(
        Message(room=room, user=alice, seq=seq, body=f"message {seq}") for seq in range(1, 61)
    )
    page = open_page("alice", "/rooms/lobby/")
    texts(page).to_have_count(50)
    expect(page.locator("#messages .msg-text").first).to_have_text("message 11")

    page.click("#load-older")

    texts(page).to_have_text([f"message {seq}" for seq in range(1, 61)])
    expect(page.locator("#load-older")).to_be_hidden()


def test_a_burst_over_the_rate_limit_is_stored_and_shown_in_the_order_written(
    open_page: Callable[..., Page],
) -> None:
    """30 messages at once against a burst of 20: the 10 over it wait, and none jumps the queue."""
    UserFactory(username="alice")
    room = RoomFactory(slug="lobby", name="Lobby")
    alice = open_page("alice", "/rooms/lobby/")
    state(alice).to_have_attribute("data-state", "open")
    burst = [f"burst {n}" for n in range(1, 31)]
    alice.evaluate(
        """texts => {
            const input = document.getElementById('message-input');
            const form = document.getElementById('composer');
            for (const text of texts) {
                input.value = text;
                form.requestSubmit();
            }
        }""",
        burst,
    )
    texts(alice).to_have_text(burst, timeout=20_000)
    expect(alice.locator("#pending .msg")).to_have_count(0)
    stored = Message.objects.filter(room=room).order_by("seq")
    assert [message.body for message in stored] == burst
    assert seqs(alice) == [message.seq for message in stored]
