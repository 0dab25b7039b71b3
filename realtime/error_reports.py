"""Error reports that never show a password written inside a URL.

Django hides settings whose names look secret (`*_KEY`, `*PASSWORD*`) from
the DEBUG error page and from the reports mailed to ADMINS, but not the
password inside `REDIS_URL` (or the channel layer's `hosts` copied from it).
This filter masks the password part of any `scheme://user:password@host`
string in settings and in the local variables of a traceback.
"""

from __future__ import annotations

import re
from typing import Any

from django.views.debug import SafeExceptionReporterFilter

_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@\s]+@", re.IGNORECASE)


def url_password_hidden(text: str) -> str:
    """`text` with the password of every URL in it replaced by asterisks."""
    return _URL_PASSWORD.sub(lambda match: match.group("head") + "********************@", text)


def _masked(value: Any) -> Any:
    if isinstance(value, str):
        return url_password_hidden(value)
    if isinstance(value, dict):
        return {key: _masked(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_masked(item) for item in value]
    if isinstance(value, tuple):
        return tuple(_masked(item) for item in value)
    return value


class ErrorReportFilter(SafeExceptionReporterFilter):
    """Django's filter, plus passwords inside URLs hidden everywhere it looks."""

    def cleanse_setting(self, key: Any, value: Any) -> Any:
        return _masked(super().cleanse_setting(key, value))

    def get_traceback_frame_variables(self, request: Any, tb_frame: Any) -> Any:
        return [
            (name, _masked(value))
            for name, value in super().get_traceback_frame_variables(request, tb_frame)
        ]
