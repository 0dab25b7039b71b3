"""Field readers for client frames: each returns a checked value or raises `invalid`."""

from __future__ import annotations

from typing import Any

from .errors import invalid

_MISSING = object()

# The range of a 64-bit signed integer, the widest integer column: every
# integer a client sends is refused outside it, before it reaches a query.
DB_INT_MIN = -(2**63)
DB_INT_MAX = 2**63 - 1


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def has_lone_surrogate(text: str) -> bool:
    """True when `text` holds a UTF-16 surrogate that is not valid Unicode on its own."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def text_field(
    frame: dict[str, Any],
    name: str,
    *,
    max_length: int,
    required: bool = True,
    allow_blank: bool = False,
) -> str | None:
    """A string of at most `max_length` code points; blank only when `allow_blank`.

    U+0000 is refused (PostgreSQL cannot store it, and the REST side refuses it
    too), and so is a lone surrogate (not valid Unicode).
    """
    value = frame.get(name, _MISSING)
    if value is _MISSING or value is None:
        if required:
            raise invalid(f"`{name}` is required")
        return None
    if not isinstance(value, str):
        raise invalid(f"`{name}` must be a string")
    if not allow_blank and not value.strip():
        raise invalid(f"`{name}` must not be blank")
    if len(value) > max_length:
        raise invalid(f"`{name}` must be at most {max_length} characters")
    if has_lone_surrogate(value):
        raise invalid(f"`{name}` is not valid Unicode")
    if "\x00" in value:
        raise invalid(f"`{name}` must not contain U+0000")
    return value


def int_field(
    frame: dict[str, Any],
    name: str,
    *,
    required: bool = True,
    minimum: int | None = None,
    maximum: int | None = None,
    default: int | None = None,
) -> int | None:
    """An integer (not a bool) within [minimum, maximum], and always within the 64-bit range."""
    value = frame.get(name, _MISSING)
    if value is _MISSING or value is None:
        if required:
            raise invalid(f"`{name}` is required")
        return default
    if not _is_int(value):
        raise invalid(f"`{name}` must be an integer")
    minimum = DB_INT_MIN if minimum is None else max(minimum, DB_INT_MIN)
    maximum = DB_INT_MAX if maximum is None else min(maximum, DB_INT_MAX)
    if value < minimum:
        raise invalid(f"`{name}` must be at least {minimum}")
    if value > maximum:
        raise invalid(f"`{name}` must be at most {maximum}")
    return int(value)


def bool_field(frame: dict[str, Any], name: str) -> bool:
    """A required JSON boolean."""
    value = frame.get(name, _MISSING)
    if not isinstance(value, bool):
        raise invalid(f"`{name}` must be true or false")
    return value


def int_list_field(frame: dict[str, Any], name: str, *, max_items: int = 1000) -> list[int]:
    """A non-empty list of integers, each within the 64-bit range."""
    value = frame.get(name, _MISSING)
    if not isinstance(value, list) or not value:
        raise invalid(f"`{name}` must be a non-empty list of integers")
    if len(value) > max_items:
        raise invalid(f"`{name}` must have at most {max_items} items")
    if not all(_is_int(item) for item in value):
        raise invalid(f"`{name}` must be a non-empty list of integers")
    if not all(DB_INT_MIN <= item <= DB_INT_MAX for item in value):
        raise invalid(f"`{name}` must hold integers from {DB_INT_MIN} to {DB_INT_MAX}")
    return [int(item) for item in value]


def ref_of(frame: dict[str, Any]) -> str | int | None:
    """The client's `ref`, if it is a string or an int (anything else is ignored).

    A string that is not valid Unicode is ignored too: no reply carrying it
    could be sent as UTF-8.
    """
    ref = frame.get("ref")
    if isinstance(ref, str) and len(ref) <= 128 and not has_lone_surrogate(ref):
        return ref
    if isinstance(ref, int) and not isinstance(ref, bool):
        return ref
    return None
