"""The Active Directory profile against Samba's AD DC (Debian's samba-ad-dc package).

Samba is provisioned into a temporary folder (about 15 s here) and started inside a private
network namespace (``unshare --net``), where its fixed ports cannot collide with anything; the
client side runs in the same namespace (ad_probe.py) and reports what it saw as JSON.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

PROBE = Path(__file__).with_name("ad_probe.py")
PASSWORD = "Adm1n-Pass-Tpa!"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ad(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Provision a throwaway domain, run the probe against it, return what it reported."""
    target = tmp_path_factory.mktemp("samba") / "dc"
    started = time.monotonic()
    provision = subprocess.run(
        [
            "samba-tool",
            "domain",
            "provision",
            "--realm=TPA.TEST",
            "--domain=TPA",
            f"--adminpass={PASSWORD}",
            "--server-role=dc",
            "--dns-backend=NONE",
            f"--targetdir={target}",
            "--option=interfaces=lo",
            "--option=bind interfaces only=yes",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert provision.returncode == 0, provision.stdout[-2000:] + provision.stderr[-2000:]
    # The self-service change below comes right after the reset: no minimum password age.
    subprocess.run(
        [
            "samba-tool",
            "domain",
            "passwordsettings",
            "set",
            "--min-pwd-age=0",
            "-H",
            f"tdb://{target}/private/sam.ldb",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    provisioned = time.monotonic() - started
    run = subprocess.run(
        ["unshare", "--net", "--", sys.executable, str(PROBE), str(target), PASSWORD],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    result["provision_seconds"] = provisioned
    return result


def test_samba_is_provisioned_and_started_within_a_minute(ad):
    """The reason this test exists at all: Samba's AD DC is up in under a minute here."""
    assert ad["provision_seconds"] + ad["start_seconds"] < 60


def test_the_ad_profile_creates_a_disabled_user_found_by_sam_account_name(ad):
    """sAMAccountName (20 characters at most), userPrincipalName, uac 514, found by the escaped
    identity; a bare * finds nobody (unescaped it would match every account)."""
    assert ad["found"] is True
    assert ad["uac_created"] == "514"
    assert ad["upn"] == "pat.o'neil+x@partner.example.com"
    assert len(ad["sam"]) <= 20 and ad["sam"].startswith("pat.oneilx-")
    assert ad["wildcard_finds"] is False


def test_group_membership_is_idempotent_on_active_directory(ad):
    """AD answers 68 to a member added twice and 53 to one removed twice: both count as done."""
    assert ad["member"] is True
    assert ad["member_after_removal"] is False


def test_unicodepwd_reset_enables_the_account_and_binds(ad):
    """A reset over LDAPS sets unicodePwd and enables the account; the user can bind."""
    assert ad["uac_after_reset"] == "512"
    assert ad["bind_after_reset"] is True and ad["bind_wrong"] is False


def test_a_users_own_change_needs_the_old_password(ad):
    """With the right old password the change is made as the user; with a wrong one, refused.

    (Samba, like AD, may keep accepting the previous password for a while after a change:
    bind_old_after_change is its grace period, not the connector's, and is not asserted.)
    """
    assert ad["bind_after_change"] is True
    assert "old password is not correct" in ad["wrong_old_refused"]


def test_policy_and_cleartext_are_refused(ad):
    """AD's complexity policy refuses a weak password; the client refuses unicodePwd in clear."""
    assert "Constraint violation" in ad["weak_refused"] or "Unwilling" in ad["weak_refused"]
    assert "ldaps://" in ad["cleartext_refused"]
