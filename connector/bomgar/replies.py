"""Parse the Command API's replies: session keys, logged-in reps, teams, API info, attributes."""

from __future__ import annotations

from connector.bomgar.models import (
    ApiInfo,
    LoggedInRep,
    SessionAttributes,
    SessionKey,
    SupportTeam,
)
from connector.bomgar.xmldoc import SERVICE, check_error, expect_root, parse_xml
from connector.bomgar.xmltext import (
    attr_of,
    child_of,
    children_of,
    flag_of,
    local,
    raw_text,
    text_of,
    time_of,
    to_int,
)
from connector.errors import ProtocolError


def parse_session_key(data: bytes) -> SessionKey:
    """Parse a generate_session_key reply."""
    root = parse_xml(data)
    expect_root(root, "session_key")
    short_key = text_of(root, "short_key")
    if not short_key:
        raise ProtocolError("session_key reply has no short_key", service=SERVICE)
    return SessionKey(
        short_key=short_key,
        key_url=text_of(root, "key_url"),
        mail_subject=raw_text(child_of(root, "mail_subject")),
        mail_body=raw_text(child_of(root, "mail_body")),
        expires=time_of(child_of(root, "expires")),
    )


def parse_logged_in_reps(data: bytes) -> list[LoggedInRep]:
    """Parse a get_logged_in_reps reply."""
    root = parse_xml(data)
    expect_root(root, "logged_in_reps")
    return [
        LoggedInRep(
            id=attr_of(el, "id"),
            display_name=text_of(el, "display_name"),
            public_display_name=text_of(el, "public_display_name"),
            private_display_name=text_of(el, "private_display_name"),
            type=text_of(el, "type"),
            direct_link=raw_text(child_of(el, "direct_link")),
            logged_in_since=time_of(child_of(el, "logged_in_since")),
            presentation_count=to_int(text_of(el, "presentation_count")) or 0,
            support_session_count=to_int(text_of(el, "support_session_count")) or 0,
            showing_on_rep_list=flag_of(text_of(el, "showing_on_rep_list")),
        )
        for el in children_of(root, "rep")
    ]


def parse_support_teams(data: bytes) -> list[SupportTeam]:
    """Parse a get_support_teams reply."""
    root = parse_xml(data)
    expect_root(root, "support_teams")
    return [
        SupportTeam(
            id=attr_of(el, "id"),
            name=text_of(el, "name"),
            code_name=text_of(el, "code_name") or attr_of(el, "code_name"),
        )
        for el in children_of(root, "support_team")
    ]


def parse_api_info(data: bytes) -> ApiInfo:
    """Parse a get_api_info reply (root api_information, or get_api_info as documented)."""
    root = parse_xml(data)
    expect_root(root, "api_information", "get_api_info")
    permissions: dict[str, str] = {}
    perms = child_of(root, "permissions")
    if perms is not None:
        permissions.update({k: v.strip() for k, v in perms.attrib.items()})
        for child in perms:
            name = local(child)
            if name == "permission" and child.get("name"):
                permissions[child.get("name", "")] = child.get("value") or raw_text(child)
            elif name:
                permissions[name] = raw_text(child)
    stamp = child_of(root, "timestamp")
    return ApiInfo(
        api_version=text_of(root, "api_version"),
        company_name=text_of(root, "company_name"),
        timestamp=time_of(stamp),
        permissions=permissions,
    )


def parse_session_attributes(data: bytes) -> SessionAttributes:
    """Parse a get_session_attributes reply."""
    root = parse_xml(data)
    expect_root(root, "custom_attributes")
    attrs = SessionAttributes()
    for el in children_of(root, "custom_attribute"):
        code = (el.get("code_name") or "").strip()
        if not code:
            continue
        attrs.values[code] = raw_text(el)
        attrs.labels[code] = (el.get("display_name") or "").strip()
    return attrs


def parse_success(data: bytes) -> str:
    """Parse a command reply that holds a ``success`` element; return its message."""
    root = parse_xml(data)
    check_error(root)
    if local(root) == "success":
        return raw_text(root)
    success = child_of(root, "success")
    if success is None:
        raise ProtocolError(f"expected a <success> reply, found <{local(root)}>", service=SERVICE)
    return raw_text(success)
