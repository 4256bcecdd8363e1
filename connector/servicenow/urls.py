"""Relative Table API URLs for Batch API items, and the checks on table names and sys_ids."""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote, urlencode

from connector.errors import DataError

_NAME = re.compile(r"^[A-Za-z0-9_]+$")
_SYS_ID = re.compile(r"^[A-Za-z0-9_.-]+$")


def table_url(
    table: str, sys_id: str | None = None, *, fields: Sequence[str] | None = None, **params: Any
) -> str:
    """Build the relative Table API URL (with query string) used in batch items.

    References come back as bare sys_ids (``sysparm_exclude_reference_link=true``); ``fields``
    becomes ``sysparm_fields``; other keyword arguments are added verbatim
    (``sysparm_query="active=true"``).
    """
    if sys_id is None and not params:
        # The same few write URLs come up for every record an import writes.
        return _plain_url(table, tuple(fields or ()))
    return _build(table, sys_id, fields, params)


@functools.lru_cache(maxsize=256)
def _plain_url(table: str, fields: tuple[str, ...]) -> str:
    return _build(table, None, fields, {})


def _build(
    table: str, sys_id: str | None, fields: Sequence[str] | None, params: dict[str, Any]
) -> str:
    path = f"/api/now/table/{check_name(table)}"
    if sys_id is not None:
        path += f"/{check_sys_id(sys_id)}"
    query: dict[str, Any] = {"sysparm_exclude_reference_link": "true"}
    if fields:
        query["sysparm_fields"] = ",".join(fields)
    for key, value in params.items():
        query[key] = str(value).lower() if isinstance(value, bool) else value
    return path + "?" + urlencode(query, safe=",", quote_via=quote)


def check_name(table: str) -> str:
    """Return a table name, or refuse one that could change the URL."""
    if not isinstance(table, str) or not _NAME.match(table):
        raise DataError(f"invalid ServiceNow table name {table!r}")
    return table


def check_sys_id(sys_id: str) -> str:
    """Return a sys_id, or refuse one that could change the URL."""
    if not isinstance(sys_id, str) or not _SYS_ID.match(sys_id):
        raise DataError(f"invalid ServiceNow sys_id {sys_id!r}")
    return sys_id
