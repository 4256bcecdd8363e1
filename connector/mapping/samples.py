"""The synthetic sessions and texts every template is rendered against when mappings load."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from connector.bomgar.models import (
    ChatMessage,
    Customer,
    FileTransfer,
    Representative,
    SessionNote,
    SupportSession,
    Survey,
    SurveyAnswer,
    SystemInfoCategory,
)
from connector.mapping.templates import Record


def sample_session(full: bool = True) -> SupportSession:
    """Build the synthetic session every template is rendered against at load time."""
    lsid = "0123456789abcdef0123456789abcdef" if full else "fedcba9876543210fedcba9876543210"
    if not full:
        # Sparse on purpose: a session abandoned in the queue has no rep, customer, times or chat.
        return SupportSession(lsid=lsid)
    start = datetime(2024, 6, 10, 9, 0, 5, tzinfo=UTC)
    end = start + timedelta(minutes=42, seconds=7)
    rep = Representative(
        gsnumber="2",
        id="1",
        username="jane.rep",
        display_name="Jane Rep",
        public_display_name="Jane",
        private_display_name="Jane Rep",
        public_ip="198.51.100.7",
        private_ip="10.0.0.7",
        hostname="rep-laptop",
        os="Windows 11",
        session_owner=True,
        primary_rep=True,
        seconds_involved=2527,
    )
    customer = Customer(
        gsnumber="1",
        username="Abel Tuter",
        public_ip="203.0.113.42",
        private_ip="10.20.0.42",
        hostname="ws-lab-0042",
        os="Windows 10 Enterprise",
        primary=True,
        info={"name": "Abel Tuter", "company": "Example Corp", "issue": "Printer", "details": "x"},
    )
    return SupportSession(
        lsid=lsid,
        lseq=12,
        session_type="support",
        start_time=start,
        end_time=end,
        duration_seconds=2527,
        public_site="Default",
        public_site_id="1",
        external_key="INC0000001",
        custom_attributes={"external_key": "INC0000001"},
        chat_view_url="https://support.example.com/session_download.ns?lsid=x&dl_action=chat",
        recording_view_url="https://support.example.com/session_download.ns?lsid=x&view=1",
        file_transfer_count=2,
        primary_customer_name="Abel Tuter",
        primary_customer_gsnumber="1",
        primary_rep_name="Jane Rep",
        primary_rep_gsnumber="2",
        primary_rep_id="1",
        customers=[customer],
        reps=[rep],
        chat=[
            ChatMessage(start + timedelta(seconds=10), "Jane Rep", "representative", "Hello!"),
            ChatMessage(start + timedelta(seconds=30), "Abel Tuter", "customer", "Hi\nthere"),
        ],
        files=[
            FileTransfer(start + timedelta(minutes=5), "upload", "fix.reg", 2048, "Jane Rep"),
            FileTransfer(start + timedelta(minutes=9), "download", "log.txt", None, failed=True),
        ],
        notes=[SessionNote(start + timedelta(minutes=20), "Jane Rep", "Driver reinstalled.")],
        system_info=[
            SystemInfoCategory(
                name="Overview",
                columns={"os": "Operating System", "host": "Host Name"},
                rows=[{"os": "Windows 10 Enterprise", "host": "ws-lab-0042"}],
            ),
            SystemInfoCategory(
                name="Drives",
                columns={"name": "Name", "size": "Size"},
                rows=[{"name": "C:", "size": "256 GB"}, {"name": "D:", "size": "1 TB"}],
            ),
        ],
        surveys=[
            Survey(
                kind="customer",
                lsid=lsid,
                submitted_by="Abel Tuter",
                gsnumber="1",
                submitted_at=end,
                answers=[SurveyAnswer("1", "satisfaction", "How satisfied are you?", "Very")],
            ),
            Survey(
                kind="representative",
                lsid=lsid,
                submitted_by="Jane Rep",
                gsnumber="2",
                submitted_at=end,
                answers=[SurveyAnswer("2", "resolved", "Was the issue resolved?", "Yes")],
            ),
        ],
    )


SAMPLE_TICKET: dict[str, str] = {
    "sys_id": "a5000000000000000000000000000001",
    "number": "INC0000001",
    "sys_class_name": "incident",
    "short_description": "Printer offline on 3rd floor",
    "caller_id": "a2000000000000000000000000000001",
    "cmdb_ci": "a4000000000000000000000000000001",
}
SAMPLE_REP_USER: dict[str, str] = {
    "sys_id": "a1000000000000000000000000000001",
    "name": "Jane Rep",
    "user_name": "jane.rep",
    "email": "jane.rep@example.com",
}


def sample_text_contexts() -> dict[str, list[dict[str, Any]]]:
    key_ctx = {
        "short_key": "1234567",
        "key_url": "https://support.example.com/?ak=1234567",
        "expires_at": datetime(2024, 6, 10, 9, 30, tzinfo=UTC),
        "ticket": Record(SAMPLE_TICKET),
        "caller_name": "Abel Tuter",
        "rep_name": "Jane Rep",
        "company": "Example Corp",
    }
    sparse_key_ctx = {**key_ctx, "caller_name": "", "expires_at": None}
    page_ctxs = [
        {"company": "Example Corp", "ticket": Record(SAMPLE_TICKET)},
        {"company": "", "ticket": Record()},
    ]
    return {
        "session_key_mail_subject": [key_ctx, sparse_key_ctx],
        "session_key_mail_body": [key_ctx, sparse_key_ctx],
        "session_key_work_note": [key_ctx, sparse_key_ctx],
        "support_page_title": page_ctxs,
    }
