"""Jinja2 filters for mapping templates: ServiceNow dates, durations, truncation, lookups.

Every filter is pure and tolerant of missing data: ``None`` (an unknown time, a session without a
duration) renders as ``""`` instead of failing, because the appliance leaves many report fields out.
``docs/mappings.md`` documents each one for admins; keep the two in step.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any

from connector.bomgar.models import ChatMessage, SystemInfoCategory

#: What ``fit`` puts at the end of a shortened value (inside the limit, so the reader sees it).
FIT_MARKER = "…"

SN_DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"
SN_DATE_FORMAT = "%Y-%m-%d"


def _as_utc(value: Any) -> datetime | None:
    """Turn a datetime, date, epoch number or ISO text into an aware UTC datetime."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        # Naive datetimes are taken as UTC: the appliance reports epoch seconds, never local time.
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, bool):
        raise TypeError(f"expected a date/time, got {value!r}")
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, tz=UTC)
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            return datetime.fromtimestamp(int(text), tz=UTC)
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return _as_utc(parsed)
    raise TypeError(f"expected a date/time, got {type(value).__name__}")


def sn_datetime(value: Any) -> str:
    """Format a date/time as ServiceNow's UTC ``YYYY-MM-DD HH:MM:SS`` (``""`` for none)."""
    when = _as_utc(value)
    return "" if when is None else when.strftime(SN_DATETIME_FORMAT)


def sn_date(value: Any) -> str:
    """Format a date/time as ServiceNow's ``YYYY-MM-DD`` in UTC (``""`` for none)."""
    when = _as_utc(value)
    return "" if when is None else when.strftime(SN_DATE_FORMAT)


def _seconds(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if hasattr(value, "total_seconds"):
        value = value.total_seconds()
    seconds = int(float(value))
    if seconds < 0:
        raise ValueError(f"a duration cannot be negative: {value!r}")
    return seconds


def duration(value: Any) -> str:
    """Write seconds as human text: ``1 h 02 min 03 s``, ``4 min 05 s``, ``9 s``."""
    seconds = _seconds(value)
    if seconds is None:
        return ""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min {secs:02d} s"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"


def hms(value: Any) -> str:
    """Write seconds as ``HH:MM:SS`` (hours keep counting past 99)."""
    seconds = _seconds(value)
    if seconds is None:
        return ""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}"


def fit(value: Any, length: int, marker: str = FIT_MARKER) -> str:
    """Shorten text to at most ``length`` characters, ending with a visible marker when cut."""
    text = "" if value is None else str(value)
    length = int(length)
    if length < 0:
        raise ValueError(f"fit needs a length of 0 or more, got {length}")
    if len(text) <= length:
        return text
    if len(marker) >= length:
        return text[:length]
    return text[: length - len(marker)] + marker


def make_lookup(tables: Mapping[str, Mapping[str, str]]) -> Callable[..., str]:
    """Build the ``lookup`` filter over the mapping's ``lookups`` section."""

    def lookup(value: Any, name: str, default: Any = "") -> str:
        """Translate a value through the named lookup table, or return the default."""
        try:
            table = tables[name]
        except KeyError:
            known = ", ".join(sorted(tables)) or "none"
            raise LookupError(f"no lookup table named {name!r} (known: {known})") from None
        key = "" if value is None else str(value)
        return table.get(key, "" if default is None else str(default))

    return lookup


def _clock(when: datetime | None) -> str:
    moment = _as_utc(when)
    if moment is None:
        return "--:--:--"
    return f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}"  # strftime is slower


def transcript(chat: Iterable[ChatMessage] | None) -> str:
    """Write chat messages as ``[HH:MM:SS] Name: text`` lines (UTC; continuation lines indented)."""
    lines: list[str] = []
    for message in chat or ():
        name = message.sender or message.sender_kind or "?"
        body_lines = (message.body or "").replace("\r\n", "\n").split("\n")
        lines.append(f"[{_clock(message.timestamp)}] {name}: {body_lines[0]}")
        lines.extend("    " + extra for extra in body_lines[1:])
    return "\n".join(lines)


def sysinfo(categories: Iterable[SystemInfoCategory] | None) -> str:
    """Write retrieved system information as ``[Category]`` blocks of ``Label: value`` lines."""
    blocks: list[str] = []
    for category in categories or ():
        order = list(category.columns)
        for row in category.rows:
            order.extend(k for k in row if k not in order)

        def label(key: str, cat: SystemInfoCategory = category) -> str:
            return cat.columns.get(key) or key

        lines = [f"[{category.name}]"]
        if len(category.rows) == 1:
            row = category.rows[0]
            lines.extend(f"{label(k)}: {row[k]}" for k in order if row.get(k, "") != "")
        else:
            for row in category.rows:
                cells = [f"{label(k)}: {row[k]}" for k in order if row.get(k, "") != ""]
                lines.append("- " + ", ".join(cells))
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def filesize(value: Any) -> str:
    """Write a byte count as ``512 B``, ``12.3 KB``, ``4.0 MB`` (1 KB = 1024 bytes)."""
    if value is None or value == "":
        return ""
    size = float(value)
    if size < 1024:
        return f"{int(size)} B"
    for unit in ("KB", "MB", "GB", "TB"):
        size /= 1024
        if size < 1024 or unit == "TB":
            break
    return f"{size:.1f} {unit}"


#: Filters that need nothing from the mapping; ``lookup`` is added per mapping set.
FILTERS: dict[str, Callable[..., str]] = {
    "sn_datetime": sn_datetime,
    "sn_date": sn_date,
    "duration": duration,
    "hms": hms,
    "fit": fit,
    "transcript": transcript,
    "sysinfo": sysinfo,
    "filesize": filesize,
}
