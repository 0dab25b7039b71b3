"""Notifications across real daphne processes (and a management command) on one Redis."""

from __future__ import annotations

import asyncio
import json
import sys
import urllib.request
from typing import Any

import pytest
from channels.db import database_sync_to_async

from notifications.models import Notification
from tests.conftest import requires_redis, token_for
from tests.factories import UserFactory
from tests.servers import ROOT
from tests.wsclient import WsClient

pytestmark = [requires_redis, pytest.mark.multiprocess]


@pytest.fixture
def people(transactional_db: None) -> dict[str, Any]:
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    staff = UserFactory(username="staff", is_staff=True)
    return {
        "alice": alice,
        "bob": bob,
        "staff": staff,
        "tokens": {
            name: token_for(user)
            for name, user in (("alice", alice), ("bob", bob), ("staff", staff))
        },
    }


def post(url: str, token: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 201
        return json.loads(response.read())  # type: ignore[no-any-return]


async def open_inbox(server: Any, token: str) -> WsClient:
    client = await WsClient.open(f"{server.ws}/ws/notifications/?token={token}")
    assert (await client.receive())["type"] == "hello"
    return client


async def test_rest_post_on_one_process_reaches_a_socket_on_another(
    servers: Any, people: Any
) -> None:
    one, two = servers(), servers()
    alice = await open_inbox(one, people["tokens"]["alice"])
    sent = await asyncio.to_thread(
        post,
        f"{two.http}/api/notifications/",
        people["tokens"]["staff"],
        {"users": [people["alice"].pk], "kind": "order", "title": "From process two"},
    )
    frame = await alice.receive_type("notification")
    assert frame["id"] == sent["ids"][0] and frame["title"] == "From process two"
    await alice.close()


async def test_a_broadcast_reaches_every_process_with_each_users_own_id(
    servers: Any, people: Any
) -> None:
    one, two = servers(), servers()
    alice = await open_inbox(one, people["tokens"]["alice"])
    bob = await open_inbox(two, people["tokens"]["bob"])
    alice_again = await open_inbox(two, people["tokens"]["alice"])
    await asyncio.to_thread(
        post,
        f"{one.http}/api/alerts/",
        people["tokens"]["staff"],
        {"title": "Maintenance at noon"},
    )
    rows = await database_sync_to_async(
        lambda: dict(Notification.objects.values_list("recipient_id", "pk"))
    )()
    for client, user in ((alice, "alice"), (bob, "bob"), (alice_again, "alice")):
        frame = await client.receive_type("notification")
        assert frame["id"] == rows[people[user].pk] and frame["kind"] == "system_alert"
    for client in (alice, bob, alice_again):
        await client.close()


async def test_a_management_command_reaches_a_socket(servers: Any, people: Any) -> None:
    one = servers()
    alice = await open_inbox(one, people["tokens"]["alice"])
    command = await asyncio.create_subprocess_exec(
        sys.executable,
        "manage.py",
        "notify",
        "--user",
        "alice",
        "--title",
        "From the command line",
        cwd=ROOT,
        env=one.env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(command.communicate(), timeout=60)
    assert command.returncode == 0, output.decode()
    frame = await alice.receive_type("notification")
    assert frame["title"] == "From the command line"
    await alice.close()


async def test_unacked_on_one_process_comes_again_on_another_and_reads_cross_over(
    servers: Any, people: Any
) -> None:
    one, two = servers(), servers()
    await asyncio.to_thread(
        post,
        f"{one.http}/api/orders/",
        people["tokens"]["alice"],
        {"amount": "9.99", "item": "Mug"},
    )
    staff_token = people["tokens"]["staff"]
    owner = await open_inbox(two, staff_token)
    assert (await owner.receive())["kind"] == "order"  # stored while offline: the backlog
    await owner.close()
    owner_back = await WsClient.open(f"{one.ws}/ws/notifications/?token={staff_token}")
    assert (await owner_back.receive())["backlog"] == 1
    order = await owner_back.receive_type("notification")
    other_tab = await open_inbox(two, staff_token)
    await other_tab.receive_type("notification")
    await owner_back.send({"action": "read", "ids": [order["id"]], "ref": 1})
    assert (await owner_back.receive_type("ack"))["unread"] == 0
    assert await other_tab.receive_type("unread") == {
        "type": "unread",
        "unread": 0,
        "ids": [order["id"]],
    }
    for client in (owner_back, other_tab):
        await client.close()
