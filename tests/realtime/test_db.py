"""ORM calls on the pool of threads give their connection back, in tests too."""

from __future__ import annotations

from unittest import mock

import pytest
from django.contrib.auth import get_user_model
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper

from realtime.db import db_parallel

pytestmark = pytest.mark.django_db(transaction=True)


def _query_on_this_thread() -> BaseDatabaseWrapper:
    get_user_model().objects.exists()
    return connections["default"]


@pytest.mark.skipif(
    connections["default"].settings_dict["CONN_MAX_AGE"] != 0,
    reason="connections are kept on purpose (SQLite keeps them for the life of a thread)",
)
async def test_the_thread_closes_its_connection_while_channels_test_tools_run() -> None:
    # What Channels' test communicator does while a test talks to a socket.
    with mock.patch("channels.db.close_old_connections", lambda: None):
        wrapper = await db_parallel(_query_on_this_thread)()
    # Returned to the pool: otherwise each call would keep one checked out.
    assert wrapper.connection is None
