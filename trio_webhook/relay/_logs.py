"""Log lines without tokens: every formatted line goes through ``redact``, JSON or text.

The relay's records carry ``webhook_id`` and ``status`` as extras; the JSON form puts
them beside the time, level, logger and message, one object a line.
"""

from __future__ import annotations

import json
import logging
from typing import Final

from trio_webhook._url import redact

__all__ = ["JSONFormatter", "RedactingFormatter"]

_EXTRAS: Final = ("webhook_id", "status", "reason")


class RedactingFormatter(logging.Formatter):
    """A text formatter whose output, traceback included, never holds a webhook token."""

    def format(self, record: logging.LogRecord) -> str:
        """The line, redacted."""
        return redact(super().format(record))


class JSONFormatter(logging.Formatter):
    """One JSON object a line: ``time``, ``level``, ``logger``, ``message`` and extras."""

    def format(self, record: logging.LogRecord) -> str:
        """The line, redacted."""
        data: dict[str, object] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in _EXTRAS:
            if hasattr(record, key):
                data[key] = getattr(record, key)
        if record.exc_info:
            data["error"] = self.formatException(record.exc_info)
        return redact(json.dumps(data, default=str))
