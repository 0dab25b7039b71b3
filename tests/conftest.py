"""Fixtures shared by every suite: users, tokens, and WebSocket clients."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import os
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest
from asgiref.testing import ApplicationCommunicator
from channels.db import database_sync_to_async
from channels.layers import channel_layers
from channels.testing import WebsocketCommunicator
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import connections

from realtime.asgi import application
from realtime.db import db_executor
from realtime.tokens import token_issue

from .factories import UserFactory
from .servers import Server, start_server

pytest_plugins = ["tests.diagnostics"]


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    """pytest-django's test databases, with PostgreSQL's pool closed before they are dropped.

    The pool's idle connections would otherwise keep the test database open
    ("being accessed by other users") and it would be left behind.
    """
    yield
    with django_db_blocker.unblock():
        for connection in connections.all():
            connection.close()
            close_pool = getattr(connection, "close_pool", None)
            if close_pool is not None:
                close_pool()


@pytest.fixture(autouse=True)
def _db_threads_closed_after_each_test() -> Iterator[None]:
    """The ORM threads' connections are closed when a test ends.

    On SQLite the threads keep their connections open between calls
    (`CONN_MAX_AGE = None`); a connection opened while one test had the
    database would be touched, and refused, by the next test that has not.
    """
    yield
    threads = len(db_executor()._threads)
    if not threads:
        return
    barrier = threading.Barrier(threads)

    def close() -> None:
        # The barrier holds each thread until all have a task: one close per thread.
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(timeout=5)
        connections.close_all()

    for done in [db_executor().submit(close) for _ in range(threads)]:
        done.result(timeout=10)


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def redis_prefix(settings: Any) -> str:
    """A Redis namespace of this test's own (layer groups, rate buckets), for test isolation.

    Also gives each test, which runs on its own event loop, a new layer instance.
    """
    prefix = f"t{uuid.uuid4().hex[:10]}"
    settings.REDIS_KEY_PREFIX = prefix
    if settings.REDIS_URL:
        layers = copy.deepcopy(settings.CHANNEL_LAYERS)
        layers["default"]["CONFIG"]["prefix"] = prefix
        settings.CHANNEL_LAYERS = layers
    channel_layers.backends = {}
    return prefix


@pytest.fixture
def user(db: None) -> AbstractBaseUser:
    return UserFactory(username="alice")


@pytest.fixture
def other_user(db: None) -> AbstractBaseUser:
    return UserFactory(username="bob")


def token_for(user: AbstractBaseUser) -> str:
    return token_issue(user=user)[0]


class Client:
    """A WebSocket client as a test sees it: send frames, wait for frames by type."""

    def __init__(self, communicator: WebsocketCommunicator) -> None:
        self.ws = communicator
        self.seen: list[dict[str, Any]] = []
        self.pending: list[dict[str, Any]] = []

    async def send(self, frame: dict[str, Any] | str) -> None:
        if isinstance(frame, str):
            await self.ws.send_to(text_data=frame)
        else:
            await self.ws.send_json_to(frame)

    async def receive(self, timeout: float = 10) -> dict[str, Any]:
        """The next frame, including any that `receive_type` passed over."""
        if self.pending:
            return self.pending.pop(0)
        frame: dict[str, Any] = await self.ws.receive_json_from(timeout=timeout)
        self.seen.append(frame)
        return frame

    async def receive_type(self, kind: str, timeout: float = 10) -> dict[str, Any]:
        """The next frame of type `kind`; others are kept for later `receive` calls."""
        for index, frame in enumerate(self.pending):
            if frame.get("type") == kind:
                return self.pending.pop(index)
        while True:
            frame = await self.ws.receive_json_from(timeout=timeout)
            self.seen.append(frame)
            if frame.get("type") == kind:
                return frame
            self.pending.append(frame)

    async def receive_until(
        self, kind: str, predicate: Callable[[dict[str, Any]], bool], timeout: float = 10
    ) -> dict[str, Any]:
        """The first frame of type `kind` for which `predicate` holds; earlier ones are dropped."""
        while True:
            frame = await self.receive_type(kind, timeout)
            if predicate(frame):
                return frame

    async def nothing(self, timeout: float = 0.2) -> bool:
        return await self.ws.receive_nothing(timeout=timeout)

    async def closed_with(self, timeout: float = 10) -> int:
        """The close code, once the server closes (frames before it are kept in `seen`)."""
        while True:
            message = await self.ws.receive_output(timeout)
            if message["type"] == "websocket.close":
                return int(message.get("code", 1000))
            if message["type"] == "websocket.send":
                self.seen.append(json.loads(message["text"]))

    async def close(self) -> None:
        await self.ws.disconnect()


class _Communicator(WebsocketCommunicator):
    """Channels' WebSocket test client, with the application run as a server runs it.

    Channels' own turns `channels.db.close_old_connections` into a no-op while
    a test talks to a socket, so that a test thread's connection survives. The
    sockets' ORM calls run on other threads here, and with it off each call
    kept its pooled connection until the PostgreSQL test run hung waiting for
    one, and the last ones kept the test database from being dropped.
    """

    async def send_input(self, message: dict[str, Any]) -> None:
        await ApplicationCommunicator.send_input(self, message)

    async def receive_output(self, timeout: float = 1) -> Any:
        return await ApplicationCommunicator.receive_output(self, timeout)


Connect = Callable[..., Awaitable[Client]]


@pytest.fixture
async def connect() -> AsyncIterator[Connect]:
    """Open sockets against the real ASGI application (JWT auth unless told otherwise)."""
    opened: list[Client] = []

    async def open_socket(
        path: str,
        user: AbstractBaseUser | None = None,
        *,
        query: str = "",
        headers: list[tuple[bytes, bytes]] | None = None,
        expect_accept: bool = True,
    ) -> Client:
        params = []
        if user is not None:
            token = await database_sync_to_async(token_for)(user)
            params.append(f"token={token}")
        if query:
            params.append(query)
        full = path + ("?" + "&".join(params) if params else "")
        communicator = _Communicator(application, full, headers=headers or [])
        connected, _ = await communicator.connect(timeout=5)
        assert connected is expect_accept or connected
        client = Client(communicator)
        opened.append(client)
        return client

    yield open_socket
    for client in opened:
        # The application may have ended already (a test timed out on it).
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await client.ws.disconnect(timeout=2)


@pytest.fixture
def servers(transactional_db: None, tmp_path: Any) -> Iterator[Callable[..., Server]]:
    """Start real server processes on the test database; all are stopped afterwards."""
    started: list[Server] = []

    def start(**kwargs: Any) -> Server:
        server = start_server(tmp_path, **kwargs)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


requires_redis = pytest.mark.skipif(
    not os.environ.get("REDIS_URL"), reason="needs REDIS_URL (several processes share Redis)"
)
