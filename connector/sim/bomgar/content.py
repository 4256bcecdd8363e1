"""Canned content: survey questions, system information, and what a scripted session says."""

from __future__ import annotations

from typing import Any

from connector.sim.bomgar.models import Member

DEFAULT_CHAT = [
    ("customer", "Hi, my printer on the 3rd floor shows offline."),
    ("rep", "Hello Abel, I am connecting to your machine now."),
    ("rep", "Please open the printer panel & check the cable <LAN>."),
    ("customer", "Done, it's plugged in."),
    ("rep", "Thanks, the queue is cleared now. It should print again."),
]
DEFAULT_FILES: list[dict[str, Any]] = [
    {"direction": "upload", "filename": "printer-driver-v5.2.msi", "filesize": 2457600},
    {
        "direction": "download",
        "filename": "C:\\Users\\abel\\Desktop\\error-log.txt",
        "filesize": 18422,
    },
]
DEFAULT_NOTES = ["Cleared the stuck print queue and reinstalled the driver."]
DEFAULT_CUSTOMER_SURVEY = {"rating": "5", "resolved": "Yes", "comments": "Fixed quickly.\\nThanks!"}
DEFAULT_REP_SURVEY = {"resolution": "Resolved", "notes": "Driver reinstalled."}

CUSTOMER_QUESTIONS = {
    "rating": ("radio", "How would you rate this support session?", "Rating"),
    "resolved": ("radio", "Was your issue resolved?", "Resolved"),
    "comments": ("textarea", "Comments", "Comments"),
}
REP_QUESTIONS = {
    "resolution": ("select", "How was the issue resolved?", "Resolution"),
    "notes": ("textarea", "Notes for the record", "Notes"),
}


def default_system_info(customer: Member) -> list[dict[str, Any]]:
    """Return system information like the customer client gathers it."""
    return [
        {
            "name": "Overview",
            "columns": {
                "os": "Operating System",
                "hostname": "Computer Name",
                "domain": "Domain",
                "memory": "Total Physical Memory",
                "processor": "Processor",
                "uptime": "System Uptime",
            },
            "rows": [
                {
                    "os": customer.os or "Unknown",
                    "hostname": customer.hostname or "Unknown",
                    "domain": "EXAMPLE",
                    "memory": "16 GB",
                    "processor": "Intel(R) Core(TM) i5-8500 CPU @ 3.00GHz",
                    "uptime": "3 days, 04:12:09",
                }
            ],
        },
        {
            "name": "Drives",
            "columns": {"name": "Name", "size": "Size", "free": "Free Space"},
            "rows": [
                {"name": "C:", "size": "476 GB", "free": "212 GB"},
                {"name": "D:", "size": "931 GB", "free": "640 GB"},
            ],
        },
    ]
