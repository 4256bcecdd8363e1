"""Build ServiceNow encoded queries from values that cannot change the query's meaning.

An encoded query is one string: conditions ``<field><operator><value>`` joined by ``^`` (AND),
``^OR`` and ``^NQ``; ``IN`` lists are comma-separated. A value that carries ``^`` therefore adds
conditions of its own (``nobody^ORuser_name=jane.rep`` finds jane.rep), and a comma inside an
``IN`` list adds list entries. ServiceNow documents no escape for ``^`` inside a value (the
community's answer is "there is none"; unconfirmed either way), so nothing here escapes: every value
is checked against what it must be and refused otherwise, with a ``QueryValueError``.

- ``sys_id``: 32 hexadecimal characters;
- ``task_number``: 2-8 capital letters and 4-12 digits (INC0010001, RITM0001234);
- ``user_name``: letters, digits and ``. _ @ + -`` (which covers e-mail addresses), at most 100;
- ``email``: a ``user_name`` with exactly one ``@``;
- ``lsid``: 1-64 characters of letters, digits, ``_`` and ``-`` (the appliance's session ids);
- ``name``: a table or field name, lower-case letters, digits and ``_`` (dot-walks allowed);
- ``text``: any other value, refused when it holds ``^``, a line break or another control
  character (and, inside an ``IN`` list, a comma).

Build conditions with ``equals``, ``one_of``, ``like`` and ``is_not_empty``, join them with
``all_of`` / ``any_of``, and sort with ``order_by``; each checks its field name and value, so a
query built here only says what its author wrote.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence

from connector.errors import DataError

_SYS_ID = re.compile(r"[0-9a-f]{32}")
_TASK_NUMBER = re.compile(r"[A-Z]{2,8}[0-9]{4,12}")
_USER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,99}")
_LSID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_NAME = re.compile(r"[a-z][a-z0-9_]{0,79}(\.[a-z][a-z0-9_]{0,79}){0,3}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")
MAX_TEXT = 1000


class QueryValueError(DataError):
    """Raise when a value would change an encoded query's meaning or is not what it must be."""


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _check(pattern: re.Pattern[str], what: str, value: object) -> str:
    # fullmatch, never match with "$": "$" also matches before a trailing newline.
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise QueryValueError(f"expected {what}, found {_shown(value)}")
    return value


def sys_id(value: object) -> str:
    """Return ``value`` if it is a sys_id (32 lower-case hexadecimal characters)."""
    return _check(_SYS_ID, "a sys_id of 32 hexadecimal characters", value)


def task_number(value: object) -> str:
    """Return ``value`` if it is a task number such as INC0010001."""
    return _check(_TASK_NUMBER, "a task number such as INC0010001", value)


def user_name(value: object) -> str:
    """Return ``value`` if it is a plausible sys_user.user_name (letters, digits, . _ @ + -)."""
    return _check(_USER_NAME, "a user name of letters, digits and . _ @ + -", value)


def email(value: object) -> str:
    """Return ``value`` if it is a plausible e-mail address without query syntax in it."""
    checked = _check(_USER_NAME, "an e-mail address", value)
    if checked.count("@") != 1 or checked.startswith("@") or checked.endswith("@"):
        raise QueryValueError(f"expected an e-mail address, found {_shown(value)}")
    return checked


def lsid(value: object) -> str:
    """Return ``value`` if it is an appliance session id."""
    return _check(_LSID, "a session id of letters, digits, _ and -", value)


def name(value: object) -> str:
    """Return ``value`` if it is a table or field name (dot-walks allowed)."""
    return _check(_NAME, "a table or field name such as incident or caller_id.email", value)


def text(value: object, *, in_list: bool = False) -> str:
    """Return free text that cannot end its condition: no ``^``, no control characters."""
    if not isinstance(value, str):
        raise QueryValueError(f"expected text, found {_shown(value)}")
    if len(value) > MAX_TEXT:
        raise QueryValueError(f"expected at most {MAX_TEXT} characters, found {len(value)}")
    if "^" in value or _CONTROL.search(value):
        raise QueryValueError(
            f"expected text without ^ or control characters (ServiceNow cannot escape them in an"
            f" encoded query), found {_shown(value)}"
        )
    if in_list and "," in value:
        raise QueryValueError(f"expected a list entry without a comma, found {_shown(value)}")
    return value


Check = Callable[[object], str]


def equals(field: str, value: str, check: Check = text) -> str:
    """Return ``field=value`` after checking both."""
    return f"{name(field)}={check(value)}"


def like(field: str, value: str) -> str:
    """Return ``fieldLIKEvalue`` (contains) after checking both."""
    checked = text(value)
    if not checked:
        raise QueryValueError("expected a non-empty LIKE value")
    return f"{name(field)}LIKE{checked}"


def is_not_empty(field: str) -> str:
    """Return ``fieldISNOTEMPTY``."""
    return f"{name(field)}ISNOTEMPTY"


def one_of(field: str, values: Iterable[str], check: Check | None = None) -> str:
    """Return ``fieldINa,b,c``; each entry passes ``check`` and holds no comma."""
    entries = []
    for value in values:
        checked = text(value, in_list=True)
        entries.append(check(checked) if check is not None else checked)
    if not entries:
        raise QueryValueError(f"expected at least one value for {field} IN")
    return f"{name(field)}IN{','.join(entries)}"


def all_of(*conditions: str) -> str:
    """Join conditions with AND (``^``); empty ones are left out."""
    return "^".join(c for c in conditions if c)


def any_of(*conditions: str) -> str:
    """Join conditions with OR (``^OR``); empty ones are left out."""
    return "^OR".join(c for c in conditions if c)


def order_by(*fields: str) -> str:
    """Return ``ORDERBYa^ORDERBYDESCb`` for ``a`` and ``-b``."""
    terms = []
    for field in fields:
        if field.startswith("-"):
            terms.append(f"ORDERBYDESC{name(field[1:])}")
        else:
            terms.append(f"ORDERBY{name(field)}")
    return "^".join(terms)


def ordered(query: str, fields: str | Sequence[str] | None) -> str:
    """Add ORDERBY terms to a query: the given fields, else sys_id unless it orders itself."""
    if fields is None:
        return all_of(query, "" if "ORDERBY" in query else order_by("sys_id"))
    return all_of(query, order_by(*([fields] if isinstance(fields, str) else fields)))
