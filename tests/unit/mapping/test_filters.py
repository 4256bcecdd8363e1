"""Tests of the mapping filters (pure functions)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from connector.bomgar.models import ChatMessage, SystemInfoCategory
from connector.mapping import filters


def test_sn_datetime_converts_to_utc_text():
    """sn_datetime writes an aware datetime as UTC 'YYYY-MM-DD HH:MM:SS'."""
    cet = timezone(timedelta(hours=2))
    assert filters.sn_datetime(datetime(2024, 6, 10, 11, 5, 9, tzinfo=cet)) == "2024-06-10 09:05:09"


def test_sn_datetime_accepts_missing_epoch_and_iso():
    """sn_datetime renders None as '' and reads epoch seconds and ISO text."""
    assert filters.sn_datetime(None) == ""
    assert filters.sn_datetime(1718011100) == "2024-06-10 09:18:20"
    assert filters.sn_datetime("1718011100") == "2024-06-10 09:18:20"
    assert filters.sn_datetime("2024-06-10T11:00:00+02:00") == "2024-06-10 09:00:00"


def test_sn_date_uses_the_utc_day():
    """sn_date gives the UTC calendar day, not the local one."""
    late = datetime(2024, 6, 10, 23, 30, tzinfo=timezone(timedelta(hours=-3)))
    assert filters.sn_date(late) == "2024-06-11"
    assert filters.sn_date(None) == ""


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(3723, "1 h 02 min 03 s"), (245, "4 min 05 s"), (9, "9 s"), (0, "0 s"), (None, "")],
)
def test_duration_writes_human_text(seconds, text):
    """duration writes seconds as hours/minutes/seconds, dropping leading zero units."""
    assert filters.duration(seconds) == text


def test_duration_rejects_negative_values():
    """duration refuses a negative number of seconds instead of printing nonsense."""
    with pytest.raises(ValueError, match="negative"):
        filters.duration(-5)


@pytest.mark.parametrize(
    ("seconds", "text"), [(3723, "01:02:03"), (0, "00:00:00"), (360000, "100:00:00"), (None, "")]
)
def test_hms_writes_clock_text(seconds, text):
    """hms writes seconds as HH:MM:SS and lets hours grow past 99."""
    assert filters.hms(seconds) == text


def test_fit_keeps_short_text_and_marks_cut_text_within_the_limit():
    """fit leaves short text alone and ends cut text with a marker inside the limit."""
    assert filters.fit("abc", 3) == "abc"
    cut = filters.fit("abcdefghij", 5)
    assert cut == "abcd…"
    assert len(cut) == 5
    assert filters.fit("abcdefghij", 6, " [+]") == "ab [+]"
    assert filters.fit(None, 4) == ""


def test_lookup_translates_and_falls_back():
    """lookup maps a value through a named table and returns the default when it is absent."""
    lookup = filters.make_lookup({"prio": {"1": "High", "2": "Low"}})
    assert lookup(1, "prio") == "High"
    assert lookup("9", "prio") == ""
    assert lookup("9", "prio", "Unknown") == "Unknown"


def test_lookup_names_known_tables_when_the_table_is_missing():
    """lookup raises for an unknown table name and lists the known ones."""
    lookup = filters.make_lookup({"prio": {}})
    with pytest.raises(LookupError, match="'nope'.*prio"):
        lookup("x", "nope")


def test_transcript_writes_time_name_and_text_lines():
    """transcript writes '[HH:MM:SS] Name: text' in UTC and indents continuation lines."""
    t = datetime(2024, 6, 10, 9, 0, 5, tzinfo=UTC)
    chat = [
        ChatMessage(t, "Jane Rep", "representative", "Hello"),
        ChatMessage(None, "Abel", "customer", "line one\r\nline two"),
    ]
    assert filters.transcript(chat) == (
        "[09:00:05] Jane Rep: Hello\n[--:--:--] Abel: line one\n    line two"
    )
    assert filters.transcript([]) == ""


def test_sysinfo_writes_categories_with_labels():
    """sysinfo writes one block per category, labels from columns, one line per row for tables."""
    info = [
        SystemInfoCategory("Overview", {"os": "Operating System"}, [{"os": "Win 11", "x": "1"}]),
        SystemInfoCategory("Drives", {"n": "Name"}, [{"n": "C:"}, {"n": "D:", "free": ""}]),
    ]
    assert filters.sysinfo(info) == (
        "[Overview]\nOperating System: Win 11\nx: 1\n\n[Drives]\n- Name: C:\n- Name: D:"
    )


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (512, "512 B"),
        (12595, "12.3 KB"),
        (4 * 1024**2, "4.0 MB"),
        (3 * 1024**5, "3072.0 TB"),
        (None, ""),
    ],
)
def test_filesize_writes_binary_units(size, text):
    """filesize writes bytes with one decimal in 1024-based units."""
    assert filters.filesize(size) == text


def test_every_filter_is_documented():
    """Each mapping filter has a row in docs/mappings.md, so admins can find it."""
    docs = (Path(__file__).parents[3] / "docs" / "mappings.md").read_text(encoding="utf-8")
    for name in [*filters.FILTERS, "lookup"]:
        assert f"| `{name}" in docs, name
