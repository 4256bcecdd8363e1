"""Escaping in the appliance emulator's XML: hostile text reads back as it was sent.

``render.e`` and ``render.a`` answer the common case (nothing to escape) themselves and leave the
rest to ``xml.sax.saxutils``; their output must stay byte for byte what saxutils gives, and a
report holding quotes of both kinds, ``&``, ``<``, ``>``, tabs, newlines and non-ASCII text
must parse to the very values the session was given.
"""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from connector.sim.bomgar import render
from tests.sim.bomgar.conftest import find

# Characters XML 1.0 allows in a document (the emulator passes others through unchanged, as it
# always did: such a report is not well-formed, with or without this module).
XML_CHARS = st.characters(
    exclude_categories=("Cs",),
    exclude_characters=[chr(c) for c in range(0x20) if chr(c) not in "\t\n\r"]
    + ["\ufffe", "\uffff"],
)
HOSTILE = [
    "",
    'say "hi"',
    "it's",
    "both \" and ' quotes",
    "Tom & Jerry <b>bold</b> a>b",
    "tab\there\nnewline\r\nCRLF",
    "caf\u00e9 \u65e5\u672c\u8a9e \U0001f600",
    "&amp; already escaped &#10;",
    "]]> <!-- --> <?pi?>",
]


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(), st.none(), st.integers(), st.sampled_from(HOSTILE)))
def test_escaping_is_byte_for_byte_what_saxutils_gives(value: object) -> None:
    """Any value (text, None, a number) is escaped and quoted exactly as saxutils does."""
    text = "" if value is None else str(value)
    assert render.e(value) == escape(text)
    assert render.a(value) == quoteattr(text)


@settings(max_examples=300, deadline=None)
@given(st.text(XML_CHARS), st.text(XML_CHARS))
def test_escaped_text_parses_back_to_the_same_values(attribute: str, body: str) -> None:
    """An attribute and element text read back unchanged (a lone CR in text becomes LF in XML)."""
    root = etree.fromstring(f"<x v={render.a(attribute)}>{render.e(body)}</x>".encode())
    assert root.get("v") == attribute
    assert (root.text or "") == body.replace("\r\n", "\n").replace("\r", "\n")


def test_a_report_of_hostile_text_reads_back_what_the_session_was_given(sim) -> None:  # type: ignore[no-untyped-def]
    """Custom attributes, chat, names and survey answers survive a SupportSession report."""
    hostile = HOSTILE[1:]
    custom = {"short_description": HOSTILE[3], "caller": HOSTILE[4], "cmdb_ci": HOSTILE[6]}
    lsid = sim.sim(
        "POST",
        "/sessions",
        {
            "external_key": HOSTILE[4],
            "custom": custom,
            "customer": {"name": HOSTILE[3]},
            "chat": [{"from": "customer", "text": text} for text in hostile],
            "customer_survey": {"comments": HOSTILE[5], "rating": HOSTILE[1]},
            "send_events": False,
        },
    )["lsid"]
    (s,) = find(sim.report("SupportSession", lsid=lsid), "session")
    assert find(s, "external_key")[0].text == HOSTILE[4]
    attrs = {a.get("code_name"): a.text for a in find(s, "custom_attributes/custom_attribute")}
    assert attrs == {**custom, "external_key": HOSTILE[4]}
    assert find(s, "primary_customer")[0].text == HOSTILE[3]
    chats = [
        find(ev, "body")[0].text or ""
        for ev in find(s, "session_details/event")
        if ev.get("event_type") == "Chat Message"
    ]
    assert chats == [t.replace("\r\n", "\n") for t in hostile]
    survey = {
        v.get("name"): v.get("value") for v in find(s, "cust_survey_list/cust_exit_survey/value")
    }
    assert survey["comments"] == HOSTILE[5] and survey["rating"] == HOSTILE[1]
