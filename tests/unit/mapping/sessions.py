"""Sessions built directly from the models, for the mapping tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

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

LSID = "7b5c3f0a9e2d4c1b8a6f5e4d3c2b1a09"
START = datetime(2024, 3, 4, 14, 0, 0, tzinfo=UTC)
TICKET = {
    "sys_id": "a5000000000000000000000000000002",
    "number": "INC0000002",
    "sys_class_name": "incident",
    "short_description": "VPN drops every few minutes",
    "caller_id": "a2000000000000000000000000000002",
}
REP_USER = {
    "sys_id": "a1000000000000000000000000000002",
    "name": "Sam Tech",
    "user_name": "sam.tech",
    "email": "sam.tech@example.com",
}


def full_session(*, chat_lines: int = 3) -> SupportSession:
    """Build a finished session with chat, files, notes, system info and both surveys."""
    chat = [
        ChatMessage(
            START + timedelta(seconds=30 * i),
            "Sam Tech" if i % 2 == 0 else "Beth Anglin",
            "representative" if i % 2 == 0 else "customer",
            f"message number {i}",
        )
        for i in range(chat_lines)
    ]
    return SupportSession(
        lsid=LSID,
        start_time=START,
        end_time=START + timedelta(hours=1, minutes=2, seconds=3),
        duration_seconds=3723,
        public_site="Main Site",
        external_key="INC0000002",
        chat_view_url="https://support.example.com/session_download.ns?lsid=7b5c&dl_action=chat",
        recording_view_url="https://support.example.com/session_download.ns?lsid=7b5c&view=1",
        file_transfer_count=2,
        primary_rep_gsnumber="5",
        primary_customer_gsnumber="3",
        reps=[
            Representative(gsnumber="4", display_name="Jane Rep", username="jane.rep"),
            Representative(gsnumber="5", private_display_name="Sam Tech", username="sam.tech"),
        ],
        customers=[
            Customer(
                gsnumber="3",
                username="beth",
                public_ip="203.0.113.9",
                private_ip="10.20.0.43",
                hostname="ws-lab-0043",
                os="Windows 11 Pro",
                info={"name": "Beth Anglin", "company": "Example Corp"},
            )
        ],
        chat=chat,
        files=[
            FileTransfer(START + timedelta(minutes=3), "upload", "vpn-fix.ps1", 12595, "Sam Tech"),
            FileTransfer(START + timedelta(minutes=8), "download", "vpn.log", 4 * 1024**2),
        ],
        notes=[SessionNote(START + timedelta(minutes=40), "Sam Tech", "Reinstalled VPN client.")],
        system_info=[
            SystemInfoCategory("Overview", {"os": "Operating System"}, [{"os": "Windows 11 Pro"}])
        ],
        surveys=[
            Survey(
                kind="customer",
                lsid=LSID,
                submitted_by="Beth Anglin",
                answers=[
                    SurveyAnswer("1", "satisfaction", "How satisfied are you?", "Very satisfied"),
                    SurveyAnswer("2", "comments", "Any comments?", "  "),
                    SurveyAnswer("3", "recommend", "", "Yes"),
                ],
            ),
            Survey(
                kind="representative",
                lsid=LSID,
                submitted_by="Sam Tech",
                answers=[SurveyAnswer("4", "resolved", "Was the issue resolved?", "Yes")],
            ),
        ],
    )
