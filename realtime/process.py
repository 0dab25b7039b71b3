"""This server process: its identity, heartbeat and the sweep of dead processes' sockets."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
import weakref

from django.conf import settings
from django.utils import timezone

from .broadcast import serve_on
from .db import db_parallel
from .registry import connections_sweep, process_heartbeat

log = logging.getLogger(__name__)

HOSTNAME = socket.gethostname()
PROCESS_ID = f"{HOSTNAME}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
STARTED = timezone.now()

_tasks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Task[None]] = (
    weakref.WeakKeyDictionary()
)


@db_parallel
def _beat() -> int:
    process_heartbeat(process_id=PROCESS_ID, hostname=HOSTNAME, pid=os.getpid(), started=STARTED)
    return connections_sweep()


async def _beat_forever() -> None:
    while True:
        await asyncio.sleep(settings.HEARTBEAT_SECONDS)
        try:
            swept = await _beat()
            if swept:
                log.info("swept %d sockets of dead processes", swept)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("heartbeat failed")


async def process_ensure_started() -> None:
    """Register this process (first call on a loop) and start its heartbeat loop. Async only."""
    loop = asyncio.get_running_loop()
    if loop in _tasks:
        return
    serve_on(loop)
    _tasks[loop] = loop.create_task(_beat_forever())
    try:
        await _beat()
    except Exception:
        _tasks.pop(loop).cancel()
        raise
