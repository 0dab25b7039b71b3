"""The process hub: one layer subscription per group per process, frames handed to local sockets."""

from __future__ import annotations

import asyncio

from channels.layers import InMemoryChannelLayer

from realtime.broadcast import publish_now
from realtime.hub import Hub, get_hub


class FakeSocket:
    def __init__(self, socket_id: str) -> None:
        self.socket_id = socket_id
        self.frames: list[str] = []
        self.arrived = asyncio.Event()

    def push(self, text: str, position: int | None = None) -> None:
        self.frames.append(text)
        self.arrived.set()


class CountingLayer(InMemoryChannelLayer):
    def __init__(self) -> None:
        super().__init__()
        self.adds: list[str] = []
        self.discards: list[str] = []

    async def group_add(self, group: str, channel: str) -> None:
        self.adds.append(group)
        await super().group_add(group, channel)

    async def group_discard(self, group: str, channel: str) -> None:
        self.discards.append(group)
        await super().group_discard(group, channel)


async def test_one_subscription_per_group_whatever_the_sockets() -> None:
    layer = CountingLayer()
    hub = Hub(layer)
    sockets = [FakeSocket(str(n)) for n in range(5)]
    for sock in sockets:
        await hub.join("room", sock)
    assert layer.adds == ["room"]
    for sock in sockets[:4]:
        await hub.leave("room", sock)
    assert layer.discards == []
    await hub.leave("room", sockets[4])
    assert layer.discards == ["room"]
    await hub.close()


async def test_frame_reaches_every_member_but_the_excluded() -> None:
    layer = CountingLayer()
    hub = Hub(layer)
    a, b, outsider = FakeSocket("a"), FakeSocket("b"), FakeSocket("c")
    await hub.join("room", a)
    await hub.join("room", b)
    await hub.join("elsewhere", outsider)
    delivered = hub.deliver({"group": "room", "text": "hi", "exclude": "a"})
    assert delivered == 1
    assert (a.frames, b.frames, outsider.frames) == ([], ["hi"], [])
    await hub.close()


async def test_publish_now_goes_through_the_layer_to_local_sockets(redis_prefix: str) -> None:
    sock = FakeSocket("s")
    await get_hub().join("news", sock)
    await publish_now("news", {"type": "note", "text": "é"})
    await asyncio.wait_for(sock.arrived.wait(), 10)
    assert sock.frames == ['{"type":"note","text":"é"}']
    await get_hub().leave("news", sock)
    await get_hub().close()
