"""Fan-out of one notification to many users in one layer message per process.

One `notify()` call for many users stores one row per recipient that differ
only in `id` and recipient. Rather than one layer message per recipient (10,000
round trips for a broadcast), the sender publishes ONE `notification_batch`
envelope to the `notifications.all` group: every server process hears it once
through its hub. The envelope holds the frame common to all rows and the
recipients and their row ids as runs of consecutive integers (a broadcast to
users 1..10,000 stored as ids 501..10,500 is two runs). Each process decodes an
envelope once; each of its sockets finds its own id by binary search and
splices it into the shared text: no query, no JSON encode per socket.
"""

from __future__ import annotations

import json
from bisect import bisect_right
from dataclasses import dataclass
from functools import lru_cache

from realtime.frames import Frame, encode

BATCH_TYPE = "notification_batch"
HEAD = '{"type":"notification","id":'

Runs = list[list[int]]


def runs_of(values: list[int]) -> Runs:
    """`values` as `[[start, count], ...]` runs of consecutive integers, in order."""
    runs: Runs = []
    for value in values:
        if runs and runs[-1][0] + runs[-1][1] == value:
            runs[-1][1] += 1
        else:
            runs.append([value, 1])
    return runs


def batch_frame(*, frame: Frame, pairs: list[tuple[int, int]]) -> Frame:
    """The envelope for `frame` sent to each `(user_id, notification_id)` of `pairs`.

    `pairs` must be sorted by user id, each user once.
    """
    common = {key: value for key, value in frame.items() if key not in ("type", "id")}
    return {
        "type": BATCH_TYPE,
        "users": runs_of([user for user, _ in pairs]),
        "ids": runs_of([notification for _, notification in pairs]),
        "frame": common,
    }


class _Index:
    """Runs with the position of their first element, for binary search."""

    def __init__(self, runs: Runs) -> None:
        self.starts = [start for start, _ in runs]
        self.counts = [count for _, count in runs]
        self.offsets: list[int] = []
        total = 0
        for count in self.counts:
            self.offsets.append(total)
            total += count

    def position_of(self, value: int) -> int | None:
        """Where `value` stands in the expanded sequence (values sorted ascending)."""
        run = bisect_right(self.starts, value) - 1
        if run < 0 or value >= self.starts[run] + self.counts[run]:
            return None
        return self.offsets[run] + value - self.starts[run]

    def value_at(self, position: int) -> int:
        run = bisect_right(self.offsets, position) - 1
        return self.starts[run] + position - self.offsets[run]


@dataclass(frozen=True)
class Batch:
    """A decoded envelope: who gets it, with which id, and the shared text."""

    users: _Index
    ids: _Index
    tail: str

    def frame_for(self, user_id: int) -> tuple[int, str] | None:
        """This user's `(notification id, frame text)`, or None if not a recipient."""
        position = self.users.position_of(user_id)
        if position is None:
            return None
        notification_id = self.ids.value_at(position)
        return notification_id, f"{HEAD}{notification_id}{self.tail}"


@lru_cache(maxsize=8)
def batch_decode(text: str) -> Batch:
    """Decode an envelope once per process; every local socket gets the same `text` object.

    (A str caches its hash, so the cache lookup costs nothing per socket.)
    """
    envelope = json.loads(text)
    rest = encode(envelope["frame"])
    return Batch(
        users=_Index(envelope["users"]),
        ids=_Index(envelope["ids"]),
        tail="," + rest[1:] if len(rest) > 2 else "}",
    )
