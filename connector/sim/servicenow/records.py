"""What the store's callers share: a record's shape, who writes it, and what a write can raise."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

Row = dict[str, str]


class StoreError(Exception):
    """Base of the errors a write can raise."""


class RecordNotFound(StoreError):
    """Raise when a sys_id does not exist in (or below) the table."""


class AclDenied(StoreError):
    """Raise when the table may not be written through the API."""

    def __init__(self, operation: str) -> None:
        super().__init__(operation)
        self.operation = operation  # "Insert" | "Update" | "Delete"


class UniqueViolation(StoreError):
    """Raise when a write would give a unique column a value another row already has."""

    def __init__(self, operation: str, table: str, display: str) -> None:
        super().__init__(f"{operation} of {table} ({display})")
        self.operation = operation  # "insert" | "update"
        self.table = table
        self.display = display


class DataPolicyViolation(StoreError):
    """Raise when mandatory fields are left empty."""

    def __init__(self, labels: list[str]) -> None:
        super().__init__(", ".join(labels))
        self.labels = labels


@dataclass
class Actor:
    """The authenticated user a request runs as."""

    sys_id: str
    user_name: str
    name: str
    time_zone: str = ""

    def tz(self) -> ZoneInfo | None:
        """Return the user's time zone, or None for UTC."""
        if not self.time_zone:
            return None
        try:
            return ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            return None


def new_sys_id() -> str:
    """Return a fresh 32-hex sys_id."""
    return uuid.uuid4().hex
