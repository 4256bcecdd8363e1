"""3PA mappings: the built-in OpenLDAP and Active Directory profiles, checked at load time.

Samba's AD DC is not run in the tests (see README, 3PA): the Active Directory profile is pinned
here, at the mapping level: the attributes it renders, the 20-character sAMAccountName, and the
unicodePwd encoding and modify lists the directory client sends.
"""

from __future__ import annotations

import ldap
import pytest

from connector.errors import ConfigError
from connector.tpa.directory import ad_password_modlist, encode_ad_password
from connector.tpa.mapping import load_mapping, sam_account_name

REQUEST = {
    "sys_id": "b" * 32,
    "email": "Very.Long.Name-Of+Someone@Partner.Example.com",
    "first_name": "Very",
    "last_name": "Long",
    "company": "Partner, Inc.",
    "phone": "",
    "answers": {},
}
APP = {
    "sys_id": "a" * 32,
    "name": "p",
    "display_name": "Partner Portal",
    "groups": [],
    "sap_roles": [],
}


def test_openldap_profile_renders_an_inetorgperson_without_empty_attributes():
    """The default mapping gives uid, mail, cn, sn; empty values (phone) are left out."""
    m = load_mapping(profile="openldap")
    plan = m.render_user(REQUEST, APP)
    attrs = plan.attributes
    assert attrs["objectClass"][-1] == "inetOrgPerson" == m.user_object_class
    assert plan.identity == attrs["uid"][0] == "very.long.name-of+someone@partner.example.com"
    assert attrs["cn"] == ["Very Long"] and attrs["o"] == ["Partner, Inc."]
    assert "telephoneNumber" not in attrs
    assert m.profile_fields["phone"] == "telephoneNumber"


def test_active_directory_profile_renders_sam_upn_and_a_disabled_account():
    """AD: sAMAccountName of at most 20 characters, userPrincipalName, uac 514, user class."""
    m = load_mapping(profile="active_directory")
    plan = m.render_user(REQUEST, APP)
    attrs = plan.attributes
    assert attrs["objectClass"] == ["top", "person", "organizationalPerson", "user"]
    sam = attrs["sAMAccountName"][0]
    assert len(sam) <= 20 and sam == plan.identity == attrs["cn"][0]
    assert attrs["userPrincipalName"] == ["very.long.name-of+someone@partner.example.com"]
    assert attrs["userAccountControl"] == ["514"]
    assert m.identity_attribute == "sAMAccountName" and m.group_object_class == "group"
    assert "unicodePwd" not in attrs  # never in an add: only by the password call


def test_sam_account_name_is_stable_short_and_distinct():
    """The same address always gives the same name; different addresses differ."""
    a = sam_account_name("pat.smith@partner.example.com")
    assert a == sam_account_name("PAT.SMITH@partner.example.com")
    assert a != sam_account_name("pat.smith@other.example.com")
    assert all(len(sam_account_name(e)) <= 20 for e in ("x" * 64 + "@a.com", "@a.com", "ä@b.de"))
    assert all(c.isalnum() or c in "._-" for c in sam_account_name('a"b,c;d=e@x.com'))


def test_unicodepwd_is_quoted_utf16le_and_a_reset_enables_the_account():
    """AD wants the password in quotes, UTF-16-LE; a reset also sets uac 512, a change does not."""
    assert encode_ad_password("Pä55!") == '"Pä55!"'.encode("utf-16-le")
    reset = ad_password_modlist("New-Pass-1")
    assert reset == [
        (ldap.MOD_REPLACE, "unicodePwd", ['"New-Pass-1"'.encode("utf-16-le")]),
        (ldap.MOD_REPLACE, "userAccountControl", [b"512"]),
    ]
    change = ad_password_modlist("New-Pass-1", "Old-Pass-1")
    assert change == [
        (ldap.MOD_DELETE, "unicodePwd", ['"Old-Pass-1"'.encode("utf-16-le")]),
        (ldap.MOD_ADD, "unicodePwd", ['"New-Pass-1"'.encode("utf-16-le")]),
    ]


def test_the_profile_must_match_the_setting(tmp_path):
    """A mapping written for AD is refused when tpa.ldap.profile says openldap."""
    with pytest.raises(ConfigError, match="tpa.ldap.profile"):
        load_mapping([load_mapping(profile="active_directory").file], "openldap")


def test_mapping_mistakes_name_file_line_and_key(tmp_path):
    """A bad template or key stops the start with the file, line and path to fix."""
    path = tmp_path / "bad.yaml"
    path.write_text(
        "directory:\n"
        "  profile: openldap\n"
        "  user:\n"
        "    object_classes: [inetOrgPerson]\n"
        "    identity_attribute: uid\n"
        "    attributes:\n"
        '      uid: "{{ request.email | nosuchfilter }}"\n'
        '      cn: "{{ request.nosuchfield }}"\n'
        "  colour: blue\n"
    )
    with pytest.raises(ConfigError) as info:
        load_mapping([path], "openldap")
    text = str(info.value)
    assert "directory.colour" in text
    assert "directory.user.attributes.uid" in text and ":7" in text


def test_a_template_that_fails_on_the_sample_request_stops_the_start(tmp_path):
    """The dry run renders every template against a sample request at load time."""
    path = tmp_path / "dry.yaml"
    path.write_text(
        "directory:\n"
        "  user:\n"
        "    object_classes: [inetOrgPerson]\n"
        "    identity_attribute: uid\n"
        "    attributes:\n"
        '      uid: "{{ request.answers.missing_question }}"\n'
    )
    with pytest.raises(ConfigError, match="missing_question"):
        load_mapping([path], "openldap")
