"""A socket's outbox: frames leave in order whether the server's send suspends or not."""

from __future__ import annotations

import asyncio
from typing import Any

from realtime.consumers import RealtimeConsumer


def consumer_with(send: Any) -> RealtimeConsumer:
    consumer = RealtimeConsumer()
    consumer.socket_id = "s1"
    consumer.closed = False
    consumer.held = None
    consumer.floor = None
    consumer.outbox_limit = 100
    consumer.outbox = None
    consumer.writer = None
    consumer.base_send = send
    return consumer


async def test_a_send_that_never_suspends_needs_no_task() -> None:
    sent: list[str] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message["text"])

    consumer = consumer_with(send)
    for text in ("a", "b", "c"):
        consumer.push(text)
    assert sent == ["a", "b", "c"] and consumer.writer is None


async def test_frames_pushed_while_a_send_waits_follow_it_in_order() -> None:
    sent: list[str] = []
    link_free = asyncio.Event()

    async def send(message: dict[str, Any]) -> None:
        if not link_free.is_set():  # the first send waits for the link
            await link_free.wait()
        sent.append(message["text"])

    consumer = consumer_with(send)
    for text in ("a", "b", "c"):
        consumer.push(text)
    assert sent == [] and consumer.writer is not None
    link_free.set()
    await asyncio.wait_for(consumer.writer, 5)
    assert sent == ["a", "b", "c"] and consumer.writer is None
    consumer.push("d")
    assert sent == ["a", "b", "c", "d"]


async def test_a_failing_send_does_not_reach_the_broadcaster() -> None:
    async def send(message: dict[str, Any]) -> None:
        raise RuntimeError("the link is gone")

    consumer = consumer_with(send)
    consumer.push("a")  # raises nothing: the hub goes on to the next socket
    assert consumer.writer is None


async def test_a_socket_that_stops_reading_is_closed_with_4013_and_drops_its_queue() -> None:
    closes: list[int] = []
    never, closed = asyncio.Event(), asyncio.Event()

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "websocket.close":
            closes.append(message["code"])
            closed.set()
            return
        await never.wait()  # the peer never reads

    consumer = consumer_with(send)
    for n in range(consumer.outbox_limit + 1):  # one in flight, the limit queued
        consumer.push(f"frame {n}")
    assert closes == [] and consumer.outbox is not None
    consumer.push("one too many")
    assert consumer.outbox is None
    await asyncio.wait_for(closed.wait(), 5)
    assert closes == [4013]
    consumer.push("after the close")  # ignored
    assert consumer.outbox is None
    assert consumer.writer is not None
    consumer.writer.cancel()


async def test_a_link_the_server_already_closed_fails_quietly() -> None:
    link_free = asyncio.Event()

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "websocket.send" and not link_free.is_set():
            await link_free.wait()
        raise RuntimeError("Unexpected ASGI message after sending 'websocket.close'")

    consumer = consumer_with(send)
    consumer.push("a")
    consumer.push("b")
    writer = consumer.writer
    assert writer is not None
    link_free.set()
    await asyncio.wait_for(writer, 5)  # ends without an exception
    assert writer.exception() is None and consumer.writer is None
    await consumer.close(4013)  # raises nothing either
