"""Logging with the request id and the trace id on every line; no personal data is logged by
the kit.

Production writes one JSON object per line (for a log collector); ``make run`` sets
``<SERVICE>_LOG_JSON=false`` and gets :class:`ConsoleFormatter`'s short lines for a person.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from pythonjsonlogger.json import JsonFormatter

from servicekit.requestid import current_request_id
from servicekit.tracing import current_trace_id

# What every LogRecord has; anything else on a record was passed as ``extra``.
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
}


class ConsoleFormatter(logging.Formatter):
    """``21:39:34 booking   INFO  request method=GET route=/readyz status=200``: the time, the
    service, the level, the message and the fields a JSON line would carry, as ``key=value``."""

    def __init__(self, service: str) -> None:
        super().__init__(datefmt="%H:%M:%S")
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        fields = " ".join(
            f"{key}={value}"
            for key, value in record.__dict__.items()
            if key not in _STANDARD and value is not None
        )
        line = (
            f"{self.formatTime(record, self.datefmt)} {self.service:<9} "
            f"{record.levelname:<5} {record.getMessage()}"
        )
        if fields:
            line = f"{line}  {fields}"
        if record.exc_info:
            line = f"{line}\n{self.formatException(record.exc_info)}"
        return line


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id()
        record.trace_id = current_trace_id()
        # uvicorn adds an ANSI-coloured copy of some messages; JSON lines need only one.
        record.__dict__.pop("color_message", None)
        return True


def configure_logging(*, service: str, level: str = "INFO", json: bool = True) -> None:
    """Route every logger (ours, uvicorn's, sqlalchemy's) through one JSON handler on stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RequestIdFilter())
    formatter: logging.Formatter
    if json:
        formatter = JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(trace_id)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            static_fields={"service": service},
            datefmt="%Y-%m-%dT%H:%M:%S%z",
        )
    else:
        formatter = ConsoleFormatter(service)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # Our access log (servicekit.requestid) logs route templates; uvicorn's and httpx's log
    # raw URLs, whose paths and queries may carry tokens or personal data.
    logging.getLogger("uvicorn.access").disabled = True
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)


def uvicorn_log_config() -> dict[str, Any]:
    """A log config that leaves logging to ``configure_logging``."""
    return {"version": 1, "disable_existing_loggers": False}
