"""The directory client against a real slapd: escaping, idempotent writes, passwords, restarts."""

from __future__ import annotations

import pytest

from connector.sim import slapd as sim_slapd
from connector.tpa.directory import (
    AlreadyExists,
    Directory,
    DirectoryRejected,
    DirectoryUnavailable,
    normalise_dn,
    user_dn,
)

SPECIALS = [
    'a,b+c"d\\e<f>g;h=i',
    "#leading-hash",
    " leading and trailing space ",
    "*)(uid=*",
    "plain",
]


def person(uid: str) -> dict[str, list[str]]:
    return {
        "objectClass": ["inetOrgPerson"],
        "uid": [uid],
        "cn": [uid],
        "sn": ["Test"],
        "mail": ["x@example.com"],
    }


@pytest.fixture(scope="module")
def specials(slapd: sim_slapd.Slapd) -> dict[str, str]:
    """Create one user per hostile uid; return uid → DN."""
    client = Directory(
        slapd.url,
        sim_slapd.ADMIN_DN,
        sim_slapd.ADMIN_PASSWORD,
        users_base=sim_slapd.USERS_BASE,
        groups_base=sim_slapd.GROUPS_BASE,
    )
    out = {}
    for uid in SPECIALS:
        dn = user_dn("uid", uid, sim_slapd.USERS_BASE)
        client.add(dn, person(uid))
        out[uid] = dn
    client.close()
    return out


def test_hostile_values_are_escaped_in_dns_and_filters(directory, specials):
    """Every DN special and filter special is escaped: each user is found as exactly itself."""
    for uid, dn in specials.items():
        found = directory.find_user("uid", uid, "inetOrgPerson")
        assert found is not None, uid
        assert normalise_dn(found.dn) == normalise_dn(dn)
        assert found.first("uid") == uid


def test_a_filter_injection_matches_nothing_else(directory, specials):
    """``*)(uid=*`` and a bare ``*`` find no other user (unescaped they would match everyone)."""
    assert directory.find_user("uid", "*", "inetOrgPerson") is None
    assert directory.find_user("uid", "*)(|(uid=*", "inetOrgPerson") is None
    assert directory.find_user("uid", "plain)(uid=*", "inetOrgPerson") is None
    assert directory.find_group("*", "groupOfNames") is None
    assert directory.find_group("we*rd (group)", "groupOfNames") is not None


def test_membership_writes_are_idempotent(directory, specials):
    """Adding a member twice or removing one twice succeeds and leaves one value."""
    group = directory.find_group("partners", "groupOfNames")
    dn = specials["#leading-hash"]
    assert not directory.is_member(group, dn)
    directory.add_member(group, dn)
    directory.add_member(group, dn)  # a retry after a lost answer
    assert directory.is_member(group, dn)
    assert normalise_dn(dn) in directory.members(group)
    user = directory.find_user("uid", "#leading-hash", "inetOrgPerson")
    assert any("partners" in v for v in user.attributes.get("memberOf", []))  # memberof overlay
    directory.remove_member(group, dn)
    directory.remove_member(group, dn)
    assert not directory.is_member(group, dn)


def test_adding_an_existing_entry_says_so(directory, specials):
    """A second add of the same DN raises AlreadyExists (the provisioner then re-reads)."""
    with pytest.raises(AlreadyExists):
        directory.add(specials["plain"], person("plain"))


def test_password_modify_sets_a_password_that_binds(directory):
    """The Password Modify extended operation sets a password a simple bind accepts."""
    dn = user_dn("uid", "pw-user", sim_slapd.USERS_BASE)
    directory.add(dn, person("pw-user"))
    directory.set_password(dn, "first-Password-1")
    assert directory.check_password(dn, "first-Password-1")
    directory.set_password(dn, "second-Password-2", old="first-Password-1")  # as the user
    assert directory.check_password(dn, "second-Password-2")
    assert not directory.check_password(dn, "first-Password-1")
    with pytest.raises(DirectoryRejected, match="old password is not correct"):
        directory.set_password(dn, "third-Password-3", old="wrong")


def test_profile_attributes_replace_and_read_back(directory, specials):
    """Replacing attributes is idempotent; an empty value removes one."""
    dn = specials["plain"]
    directory.replace(dn, {"telephoneNumber": "+1 555", "o": "Acme"})
    directory.replace(dn, {"telephoneNumber": "+1 555", "o": "Acme"})
    entry = directory.read(dn, ["telephoneNumber", "o"])
    assert entry.first("telephoneNumber") == "+1 555" and entry.first("o") == "Acme"
    directory.replace(dn, {"o": ""})
    assert directory.read(dn, ["o"]).first("o") == ""


def test_a_restarted_directory_is_reconnected_to(slapd, directory):
    """After slapd restarts, the first call reports it unavailable and the next one works."""
    directory.ping()
    slapd.restart()
    try:
        directory.ping()
    except DirectoryUnavailable:
        directory.ping()
    assert directory.find_group("staff", "groupOfNames") is not None


def test_a_stopped_directory_is_unavailable_not_rejected(slapd, directory):
    """With slapd down every call is DirectoryUnavailable: retryable, never a dead letter."""
    slapd.stop()
    try:
        with pytest.raises(DirectoryUnavailable) as info:
            directory.find_group("staff", "groupOfNames")
        assert not info.value.permanent
    finally:
        slapd.start()


def test_a_wrong_service_password_is_permanent(slapd):
    """A bind the directory refuses is permanent: retrying cannot help."""
    client = Directory(slapd.url, sim_slapd.ADMIN_DN, "wrong", users_base="", groups_base="")
    with pytest.raises(DirectoryRejected, match="refused the bind") as info:
        client.ping()
    assert info.value.permanent
