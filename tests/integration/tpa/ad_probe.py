"""Run inside a private network namespace: start Samba's AD DC, try the AD profile, print JSON.

Started by test_active_directory.py through ``unshare --net``, so Samba's fixed ports (389, 636,
88, 445, ...) exist only in that namespace and never meet another run's or the machine's.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from connector.tpa.directory import Directory, DirectoryRejected, user_dn  # noqa: E402
from connector.tpa.mapping import load_mapping  # noqa: E402

BASE = "CN=Users,DC=tpa,DC=test"
ADMIN = f"CN=Administrator,{BASE}"


def wait_port(port: int, timeout: float = 45.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"Samba did not listen on {port}")


def probe(password: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    d = Directory(
        "ldaps://127.0.0.1:636",
        ADMIN,
        password,
        users_base=BASE,
        groups_base=BASE,
        profile="active_directory",
        verify_tls=False,
    )
    m = load_mapping(profile="active_directory")
    request = {
        "sys_id": "b" * 32,
        "email": "Pat.O'Neil+x@partner.example.com",
        "first_name": "Pat",
        "last_name": "O'Neil",
        "company": "Partner, Inc.",
        "phone": "",
        "answers": {},
    }
    plan = m.render_user(request, {"display_name": "Partner Portal"})
    dn = user_dn(m.rdn_attribute, plan.dn_value, BASE)
    d.add(dn, plan.attributes)
    user = d.find_user(m.identity_attribute, plan.identity, m.user_object_class)
    out["found"] = user is not None and user.dn.lower() == dn.lower()
    out["uac_created"] = user.first("userAccountControl")
    out["upn"] = user.first("userPrincipalName")
    out["sam"] = user.first("sAMAccountName")
    out["wildcard_finds"] = d.find_user(m.identity_attribute, "*", m.user_object_class) is not None
    d.add(
        f"CN=partner portal (users),{BASE}",
        {
            "objectClass": ["top", "group"],
            "cn": ["partner portal (users)"],
            "sAMAccountName": ["partner-portal-users"],
        },
    )
    group = d.find_group("partner portal (users)", m.group_object_class)
    d.add_member(group, user.dn)
    d.add_member(group, user.dn)  # a retry after a lost answer
    out["member"] = d.is_member(group, user.dn)
    d.remove_member(group, user.dn)
    d.remove_member(group, user.dn)
    out["member_after_removal"] = d.is_member(group, user.dn)
    try:
        d.set_password(user.dn, "short")
        out["weak_refused"] = ""
    except DirectoryRejected as exc:
        out["weak_refused"] = str(exc)
    d.set_password(user.dn, "Reset-Passw0rd-1!")
    after = d.find_user(m.identity_attribute, plan.identity, m.user_object_class)
    out["uac_after_reset"] = after.first("userAccountControl")
    out["bind_after_reset"] = d.check_password(user.dn, "Reset-Passw0rd-1!")
    out["bind_wrong"] = d.check_password(user.dn, "Wrong-Passw0rd-1!")
    d.set_password(user.dn, "Own-Passw0rd-2!", old="Reset-Passw0rd-1!")
    out["bind_after_change"] = d.check_password(user.dn, "Own-Passw0rd-2!")
    out["bind_old_after_change"] = d.check_password(user.dn, "Reset-Passw0rd-1!")
    try:
        d.set_password(user.dn, "Other-Passw0rd-4!", old="Not-The-Passw0rd-9!")
        out["wrong_old_refused"] = ""
    except DirectoryRejected as exc:
        out["wrong_old_refused"] = str(exc)
    plain = Directory(
        "ldap://127.0.0.1:389",
        ADMIN,
        password,
        users_base=BASE,
        groups_base=BASE,
        profile="active_directory",
    )
    try:
        plain.set_password(user.dn, "Plain-Passw0rd-3!")
        out["cleartext_refused"] = ""
    except DirectoryRejected as exc:
        out["cleartext_refused"] = str(exc)
    return out


def main() -> int:
    targetdir, password = sys.argv[1], sys.argv[2]
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    log = open(Path(targetdir) / "samba.log", "ab")  # noqa: SIM115
    samba = subprocess.Popen(
        ["samba", "-s", f"{targetdir}/etc/smb.conf", "-i", "-M", "single"],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    started = time.monotonic()
    try:
        wait_port(636)
        result = {"start_seconds": round(time.monotonic() - started, 1), **probe(password)}
    finally:
        samba.terminate()
        try:
            samba.wait(15)
        except subprocess.TimeoutExpired:
            samba.kill()
            samba.wait(5)
        log.close()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
