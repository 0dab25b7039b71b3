"""Log filters: credentials never reach a log line.

A client that cannot send headers (a browser's WebSocket) puts its JWT in the
query string, `?token=<jwt>`, and servers log the path with its query:
uvicorn each WebSocket handshake (on `uvicorn.error`) and each HTTP request
(on `uvicorn.access`). settings.LOGGING puts `RedactTokens` on those loggers
through `server_log_filter`, leaving their handlers, format and level as the
server set them (`--no-access-log` still holds). daphne's access log writes
WebSocket paths without their query.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

REDACTED = "[redacted]"

# A `token` query value, and anything shaped like a JWT (three base64url parts,
# the first a JSON object), however its parameter was spelled (`%74oken=`).
_TOKEN_VALUE = re.compile(r"(?<=[?&]token=)[^&\s\"']+", re.IGNORECASE)
_JWT = re.compile(r"eyJ[\w-]*\.[\w-]+\.[\w-]+")


def redact(text: str) -> str:
    """`text` with every token value in it replaced by `[redacted]`."""
    return _JWT.sub(REDACTED, _TOKEN_VALUE.sub(REDACTED, text))


def _redacted(value: Any) -> Any:
    return redact(value) if isinstance(value, str) else value


class RedactTokens(logging.Filter):
    """Redacts token values in a record's message and its arguments; never drops a record.

    The arguments keep their number and order: uvicorn's access formatter
    unpacks them.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, Mapping):
            record.args = {key: _redacted(value) for key, value in record.args.items()}
        elif record.args:
            record.args = tuple(_redacted(value) for value in record.args)
        return True


# The loggers servers write request paths (with their query) to.
SERVER_LOGGERS = ("uvicorn.access", "uvicorn.error")


def server_log_filter() -> RedactTokens:
    """A RedactTokens, also put on each of SERVER_LOGGERS (once); for settings.LOGGING.

    dictConfig builds every filter it lists, and naming one of these loggers
    under `loggers` there would remove the handlers the server gave it, so the
    filter is added to the loggers as they are.
    """
    redacting = RedactTokens()
    for name in SERVER_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(existing, RedactTokens) for existing in logger.filters):
            logger.addFilter(redacting)
    return redacting
