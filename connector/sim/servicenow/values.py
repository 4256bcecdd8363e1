"""Values as the instance stores them: each field type's form, date-times in UTC."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from connector.sim.servicenow.schema import Field

TS = "%Y-%m-%d %H:%M:%S"
_HEX32 = re.compile(r"^[0-9a-f]{32}$")
FindByDisplay = Callable[[str, str], str]


class Zoned(Protocol):
    """Anyone with a time zone (a request's actor): display date-times are in it."""

    def tz(self) -> ZoneInfo | None:
        """Return the time zone, or None for UTC."""
        ...


def parse_datetime(value: str) -> dt.datetime | None:
    """Parse the date-time forms clients send (space or T, optional Z or offset)."""
    text = value.strip()
    if not text:
        return None
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.UTC).replace(tzinfo=None)
    return parsed.replace(microsecond=0)


def stored_value(
    f: Field, value: Any, actor: Zoned | None, display: bool, find: FindByDisplay
) -> str:
    """Turn a client's value into what the instance stores for this field type.

    ``find(table, text)`` returns the sys_id of the row whose display value is text, or "".
    """
    if value is None:
        return ""
    if isinstance(value, dict):  # {"value": ..., "display_value": ...} echoed back by a client
        value = value.get("value", value.get("display_value", ""))
    if isinstance(value, bool):
        value = "true" if value else "false"
    text = str(value)
    ftype = f.type
    if ftype == "boolean":
        if text == "":
            return ""
        return "true" if text.strip().lower() in ("true", "1", "yes", "y") else "false"
    if ftype == "integer":
        if text.strip() == "":
            return ""
        try:
            return str(int(float(text.replace(",", ""))))
        except ValueError:
            return ""
    if ftype == "glide_date_time":
        parsed = parse_datetime(text)
        if parsed is None:
            return ""
        tz = actor.tz() if (display and actor) else None
        if tz is not None and "T" not in text and "+" not in text and "Z" not in text:
            parsed = parsed.replace(tzinfo=tz).astimezone(dt.UTC).replace(tzinfo=None)
        return parsed.strftime(TS)
    if ftype == "reference":
        text = text.strip()
        if text == "" or _HEX32.match(text):
            return text
        # A display value given for a reference is resolved through the target's display
        # column, as the Table API does; an unresolvable name stays empty.
        return find(f.reference or "", text)
    if ftype == "choice" and display:
        for key, label in f.choices.items():
            if label == text:
                return key
        return text
    # Over-long strings are cut silently on insert and update, as a real instance does.
    return text[: f.max_length] if f.max_length > 0 else text
