"""The JSON parser of every REST endpoint: any body it cannot take is a 400, never a 500."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.parsers import JSONParser

from .fields import has_lone_surrogate


def unacceptable_value(data: Any, *, nul_allowed: bool = False) -> str | None:
    """Why `data` (parsed JSON) holds a value no field could take, or None if it holds none.

    A lone surrogate is not valid Unicode: it cannot be stored, nor written out
    as UTF-8 in an answer that quotes it. U+0000 cannot be stored by
    PostgreSQL, in text or in JSON (`nul_allowed` leaves it to a text field,
    which refuses it by name). An infinite number (`1e999`) is not a number
    any field takes. Walks without recursion: `data` may be nested as deep as
    the parser allowed.
    """
    waiting = [data]
    while waiting:
        item = waiting.pop()
        if isinstance(item, str):
            if has_lone_surrogate(item):
                return "Not valid Unicode (a lone surrogate)."
            if "\x00" in item and not nul_allowed:
                return "U+0000 is not allowed."
        elif isinstance(item, float):
            if not math.isfinite(item):
                return "Numbers must be finite."
        elif isinstance(item, Mapping):
            waiting.extend(item.keys())
            waiting.extend(item.values())
        elif isinstance(item, list):
            waiting.extend(item)
    return None


class StrictJSONParser(JSONParser):
    """DRF's JSON parser, with every way a body can fail answered as a 400.

    DRF's own maps ValueError to a 400 but lets RecursionError (`[` nested
    100,000 deep) through as a 500, and hands on values no field can take
    (see `unacceptable_value`): those are refused here, as an `invalid` error
    naming the top-level field that holds one. A top-level text field is left
    to refuse U+0000 itself.
    """

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply") from None
        if isinstance(data, dict) and unacceptable_value(list(data)) is None:
            fields = {
                key: unacceptable_value(value, nul_allowed=isinstance(value, str))
                for key, value in data.items()
            }
            refused = {key: [reason] for key, reason in fields.items() if reason is not None}
            if refused:
                raise ValidationError(refused)
            return data
        reason = unacceptable_value(data)
        if reason is not None:
            raise ParseError(f"JSON parse error - {reason}")
        return data
