"""The encoder: a frame with a part encoded once for many frames reads as the whole frame."""

from __future__ import annotations

import json

from realtime.frames import encode, encode_with


def test_a_spliced_part_reads_back_as_part_of_the_frame() -> None:
    online = [{"id": 1, "username": "zoë"}, {"id": 2, "username": 'ann "quoted"'}]
    text = encode_with({"type": "hello", "last_seq": 3}, online=encode(online))
    assert json.loads(text) == {"type": "hello", "last_seq": 3, "online": online}


def test_parts_alone_make_a_frame() -> None:
    text = encode_with({}, a=encode([]), b=encode({"x": 1}))
    assert json.loads(text) == {"a": [], "b": {"x": 1}}
