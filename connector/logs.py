"""Structured logs: one JSON object a line, carrying lsid and ticket; secrets redacted."""

from __future__ import annotations

import json
import logging
import sys
import time

from connector.http import redact

_CONTEXT_FIELDS = ("lsid", "appliance", "ticket", "event", "writes", "table")


class JsonFormatter(logging.Formatter):
    """Format records as JSON objects with the connector's context fields."""

    def format(self, record: logging.LogRecord) -> str:
        data = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        for name in _CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value not in (None, ""):
                data[name] = value
        if record.exc_info:
            data["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(data, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """Format records as readable lines with the context fields appended."""

    def format(self, record: logging.LogRecord) -> str:
        base = super().format(record)
        extra = " ".join(
            f"{n}={getattr(record, n)}" for n in _CONTEXT_FIELDS if getattr(record, n, None)
        )
        return redact(f"{base} {extra}".rstrip())


def configure_logging(level: str = "INFO", fmt: str = "json") -> None:
    """Send the connector's logs to stderr in the chosen format (idempotent)."""
    root = logging.getLogger("connector")
    root.setLevel(level)
    for handler in list(root.handlers):
        if getattr(handler, "_connector", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler._connector = True  # type: ignore[attr-defined]
    handler.setFormatter(
        JsonFormatter()
        if fmt == "json"
        else TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    root.addHandler(handler)
    root.propagate = False
