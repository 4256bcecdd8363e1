"""Attachment and Email API calls."""

from __future__ import annotations

import pytest
from responses import matchers

from connector.errors import DataError
from connector.servicenow import MAX_ATTACHMENT_BYTES
from tests.unit.servicenow.conftest import BASE, BASIC, SYS_ID, raw_body

ATTACH_URL = f"{BASE}/api/now/attachment/file"
EMAIL_URL = f"{BASE}/api/now/v1/email"
META = {"sys_id": "d" * 32, "file_name": "chat.txt", "table_name": "incident", "size_bytes": "11"}


def test_attach_file_posts_raw_bytes_with_params_and_type(rsps, make_client):
    """attach_file sends the raw bytes with table/sys_id/file name params and the file's type."""
    content = b"\x89PNG\r\n\x1a\nfake image"
    rsps.post(
        ATTACH_URL,
        status=201,
        json={"result": META},
        headers={"Location": f"{BASE}/api/now/attachment/{'d' * 32}/file"},
        match=[
            matchers.query_param_matcher(
                {"table_name": "incident", "table_sys_id": SYS_ID, "file_name": "screen 1.png"}
            ),
            matchers.header_matcher({"Content-Type": "image/png", "Authorization": BASIC}),
            raw_body(content),
        ],
    )
    meta = make_client().attach_file("incident", SYS_ID, "screen 1.png", content, "image/png")
    assert meta == META


def test_attach_file_over_10_mb_is_refused_before_sending(rsps, make_client):
    """A file over the instance's 10 MB body cap raises DataError without any request."""
    with pytest.raises(DataError, match="10485760"):
        make_client().attach_file(
            "incident",
            SYS_ID,
            "big.bin",
            b"\0" * (MAX_ATTACHMENT_BYTES + 1),
            "application/octet-stream",
        )
    assert len(rsps.calls) == 0


def test_attach_file_at_exactly_10_mb_is_sent(rsps, make_client):
    """A file of exactly 10 MB is still within the cap and is uploaded."""
    rsps.post(ATTACH_URL, status=201, json={"result": META})
    make_client().attach_file(
        "incident", SYS_ID, "big.bin", b"\0" * MAX_ATTACHMENT_BYTES, "application/octet-stream"
    )
    assert len(rsps.calls[0].request.body) == MAX_ATTACHMENT_BYTES


def test_attach_file_is_retried_after_429(rsps, make_client, sleeps):
    """An upload answered 429 did not happen and is sent again."""
    rsps.post(ATTACH_URL, status=429, body="")
    rsps.post(ATTACH_URL, status=201, json={"result": META})
    assert (
        make_client().attach_file("incident", SYS_ID, "chat.txt", b"hello world", "text/plain")
        == META
    )
    assert len(sleeps) == 1


def test_list_attachments_queries_by_table_and_record(rsps, make_client):
    """list_attachments asks the Attachment API for the record's files."""
    rsps.get(
        f"{BASE}/api/now/attachment",
        json={"result": [META]},
        match=[
            matchers.query_param_matcher(
                {
                    "sysparm_query": f"table_name=incident^table_sys_id={SYS_ID}",
                    "sysparm_offset": "0",
                },
                strict_match=False,
            )
        ],
    )
    assert make_client().list_attachments("incident", SYS_ID) == [META]


def test_send_email_body_shape_and_id(rsps, make_client):
    """send_email posts to, subject, text, html and the record link, and returns result.id."""
    rsps.post(
        EMAIL_URL,
        status=200,
        json={
            "result": {
                "id": "e" * 32,
                "links": [{"rel": "self", "href": f"/now/v1/email/{'e' * 32}"}],
            }
        },
        match=[
            matchers.json_params_matcher(
                {
                    "to": ["Abel Tuter <abel.tuter@example.com>"],
                    "subject": "Your support session",
                    "text": "Transcript attached.",
                    "html": "<p>Transcript attached.</p>",
                    "table_name": "incident",
                    "table_record_id": SYS_ID,
                }
            ),
            matchers.header_matcher({"Authorization": BASIC}),
        ],
    )
    email_id = make_client().send_email(
        to=["Abel Tuter <abel.tuter@example.com>"],
        subject="Your support session",
        text="Transcript attached.",
        html="<p>Transcript attached.</p>",
        table_name="incident",
        table_record_id=SYS_ID,
    )
    assert email_id == "e" * 32


def test_send_email_accepts_201_and_omits_unset_fields(rsps, make_client):
    """A 201 answer is accepted and no html or record link is sent when not given."""
    rsps.post(
        EMAIL_URL,
        status=201,
        json={"result": {"id": "f" * 32}},
        match=[
            matchers.json_params_matcher({"to": ["a@example.com"], "subject": "s", "text": "t"})
        ],
    )
    assert make_client().send_email(to=["a@example.com"], subject="s", text="t") == "f" * 32


def test_send_email_needs_both_link_fields(rsps, make_client):
    """Giving table_name without table_record_id raises DataError before sending."""
    with pytest.raises(DataError):
        make_client().send_email(to=["a@example.com"], subject="s", text="t", table_name="incident")
    assert len(rsps.calls) == 0
