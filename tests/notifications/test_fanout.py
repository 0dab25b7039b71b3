"""The batch envelope: each recipient's copy is exactly the frame of its own row."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from notifications.fanout import batch_decode, batch_frame, runs_of
from realtime.frames import encode

FRAME = {
    "type": "notification",
    "id": 0,
    "kind": "system_alert",
    "title": 'Déploiement "ce soir" ✓',
    "body": "",
    "data": {"level": "info", "n": [1, 2.5, None]},
    "created": 1_764_400_000_000,
    "read": False,
}


def test_runs_of_consecutive_values() -> None:
    assert runs_of([]) == []
    assert runs_of([1, 2, 3, 7, 8, 10]) == [[1, 3], [7, 2], [10, 1]]


def test_a_broadcast_to_contiguous_users_is_two_runs() -> None:
    pairs = [(user, 500 + user) for user in range(1, 10_001)]
    envelope = batch_frame(frame=FRAME, pairs=pairs)
    assert envelope["users"] == [[1, 10_000]] and envelope["ids"] == [[501, 10_000]]
    assert len(encode(envelope)) < 300


@given(
    st.lists(st.integers(1, 5000), min_size=1, max_size=300, unique=True),
    st.lists(st.integers(1, 3), min_size=300, max_size=300),
)
def test_each_recipient_gets_its_own_id_and_nobody_else_gets_one(
    users: list[int], gaps: list[int]
) -> None:
    users.sort()
    ids, next_id = [], 1000
    for gap in gaps[: len(users)]:
        next_id += gap  # ids from a shared sequence may skip numbers
        ids.append(next_id)
    text = encode(batch_frame(frame=FRAME, pairs=list(zip(users, ids, strict=True))))
    batch = batch_decode(text)
    for user, notification_id in zip(users, ids, strict=True):
        mine = batch.frame_for(user)
        assert mine is not None
        assert mine[0] == notification_id
        assert mine[1] == encode({**FRAME, "id": notification_id})
        assert json.loads(mine[1])["id"] == notification_id
    for outsider in {0, users[0] - 1, users[-1] + 1, 6000} - set(users):
        assert batch.frame_for(outsider) is None


def test_decoded_once_per_text() -> None:
    text = encode(batch_frame(frame=FRAME, pairs=[(1, 10)]))
    assert batch_decode(text) is batch_decode(text)
