"""Read elements and values of the appliance's XML: text, attributes, times, durations, actors.

Namespaces are ignored (local names only): the appliance has shipped at least four default
namespaces and some documents carry none. The literal ``Unknown`` (the appliance's
"undetermined") becomes the empty string in structured fields; free text (chat, notes, survey
answers) is kept verbatim apart from trimming.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime

from lxml import etree

from connector.bomgar.models import Actor


def local(el: etree._Element) -> str:
    """Return an element's name without its namespace ('' for comments and PIs)."""
    tag = el.tag
    if not isinstance(tag, str):
        return ""
    return tag.rpartition("}")[2]


def children_of(el: etree._Element | None, name: str) -> Iterator[etree._Element]:
    if el is None:
        return iter(())
    # "{*}name" matches the local name in any namespace or none (done in C by lxml).
    return el.iterchildren("{*}" + name)


def child_of(el: etree._Element | None, name: str) -> etree._Element | None:
    if el is None:
        return None
    # Not el.find(): ElementPath parses its path on every call, at twice the cost.
    return next(el.iterchildren("{*}" + name), None)


class Kids:
    """The first child of each local name of one element: one pass instead of a scan per lookup."""

    __slots__ = ("map",)

    def __init__(self, el: etree._Element | None) -> None:
        found: dict[str, etree._Element] = {}
        if el is not None:
            for child in el:
                tag = child.tag
                if tag.__class__ is str:  # comments and PIs have a function for a tag
                    name = tag[tag.rfind("}") + 1 :]
                    if name not in found:
                        found[name] = child
        self.map = found

    def first(self, name: str) -> etree._Element | None:
        return self.map.get(name)

    def text(self, name: str) -> str:
        """Return the child's text as text_of() does."""
        el = self.map.get(name)
        if el is None:
            return ""
        value = ("".join(el.itertext()) if len(el) else (el.text or "")).strip()
        return "" if value == "Unknown" else value


def raw_text(el: etree._Element | None) -> str:
    if el is None:
        return ""
    if not len(el):  # a leaf, nearly always: its text, without walking it
        return (el.text or "").strip()
    return "".join(el.itertext()).strip()


def clean(value: str | None) -> str:
    value = (value or "").strip()
    return "" if value == "Unknown" else value


def text_of(el: etree._Element | None, name: str | None = None) -> str:
    """Return the trimmed text of ``el`` (or its child ``name``), with ``Unknown`` as ''."""
    if name is not None:
        el = child_of(el, name)
    return clean(raw_text(el))


def attr_of(el: etree._Element | None, name: str) -> str:
    if el is None:
        return ""
    return clean(el.get(name))


def to_int(value: str, default: int | None = 0) -> int | None:
    value = clean(value)
    try:
        return int(value)
    except ValueError:
        return default


def flag_of(value: str) -> bool:
    return clean(value).lower() in ("1", "true", "yes")


def epoch_to_datetime(value: str | int | None) -> datetime | None:
    """Turn epoch seconds (text or int) into an aware UTC datetime, or None."""
    if value is None:
        return None
    try:
        seconds = int(value)  # int() trims the same whitespace str.strip() does
    except ValueError:
        return None
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def parse_iso(value: str) -> datetime | None:
    """Turn ISO 8601 text (offset or Z; naive means UTC) into an aware UTC datetime, or None."""
    value = clean(value)
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def time_of(el: etree._Element | None) -> datetime | None:
    """Read a time element: the epoch ``timestamp`` attribute first, else the ISO text."""
    if el is None:
        return None
    stamp = epoch_to_datetime(el.get("timestamp"))
    if stamp is not None:
        return stamp
    text = text_of(el)
    return parse_iso(text) or epoch_to_datetime(text)


# ASCII digits only: str.isdigit() and \d also accept "²" and other digits int() refuses. Hours
# are unbounded in the vendor's format; nine digits (over 100,000 years) is bound enough.
DURATION = re.compile(r"([0-9]{1,9}):([0-5]?[0-9]):([0-5]?[0-9])")
SECONDS = re.compile(r"[0-9]{1,15}")


class BadValue(ValueError):
    """Raise when a report field holds text that cannot be what the field means."""


def parse_duration(value: str) -> int | None:
    """Turn HH:MM:SS (hours unbounded) or plain seconds into seconds; None when absent."""
    value = clean(value)
    if not value:
        return None
    match = DURATION.fullmatch(value)
    if match:
        hours, minutes, seconds = (int(g) for g in match.groups())
        return hours * 3600 + minutes * 60 + seconds
    if SECONDS.fullmatch(value):
        return int(value)
    raise BadValue(f"<duration> {value[:40]!r} is not HH:MM:SS")


def actor_of(el: etree._Element | None) -> Actor | None:
    if el is None:
        return None
    get = el.get
    return Actor(kind=clean(get("type")), gsnumber=clean(get("gsnumber")), name=text_of(el))


def values_of(el: etree._Element | None) -> dict[str, str]:
    """Read ``value [name, value]`` children (value attribute first, else text)."""
    out: dict[str, str] = {}
    for value in children_of(el, "value"):
        name = (value.get("name") or "").strip()
        if not name:
            continue
        raw = value.get("value")
        out[name] = (raw if raw is not None else raw_text(value)).strip()
    return out
