"""The Third Party Access settings (connector/tpa; docs/3pa.md): rows of the SETTINGS table."""

from __future__ import annotations

from connector.config.setting import Setting

TPA_SETTINGS: tuple[Setting, ...] = (
    Setting(
        "tpa.enabled",
        "bool",
        False,
        "Run 3PA: the /api/v1/3pa endpoints, and in the worker the provisioning threads, the"
        " request poller and the catalog sync.",
    ),
    Setting(
        "tpa.ldap.url",
        "str",
        "",
        "Directory URL: ldap://host:389 (with tpa.ldap.start_tls) or ldaps://host:636.",
    ),
    Setting("tpa.ldap.bind_dn", "str", "", "The connector's service account in the directory."),
    Setting("tpa.ldap.bind_password", "secret", "", "Password of tpa.ldap.bind_dn."),
    Setting("tpa.ldap.users_base", "str", "", "DN under which 3PA users are created and found."),
    Setting("tpa.ldap.groups_base", "str", "", "DN under which application groups are found."),
    Setting(
        "tpa.ldap.profile",
        "choice",
        "openldap",
        "Directory flavour: openldap (inetOrgPerson, Password Modify) or active_directory"
        " (user objects, unicodePwd over TLS).",
        choices=("openldap", "active_directory"),
    ),
    Setting("tpa.ldap.start_tls", "bool", False, "Upgrade ldap:// connections with StartTLS."),
    Setting(
        "tpa.ldap.verify_tls", "tls", True, "true, false, or the path of a CA bundle file to trust."
    ),
    Setting(
        "tpa.ldap.timeout_seconds", "float", 10.0, "Network and operation timeout.", minimum=0.5
    ),
    Setting(
        "tpa.mappings",
        "paths",
        [],
        "The 3PA mapping file; empty uses mappings/3pa/<tpa.ldap.profile>.yaml.",
    ),
    Setting(
        "tpa.scim.url",
        "str",
        "",
        "SCIM 2.0 base URL of SAP Cloud Identity Services (https://<tenant>.accounts.ondemand.com"
        "/scim); empty provisions no SAP users.",
    ),
    Setting("tpa.scim.token", "secret", "", "Bearer token for tpa.scim.url."),
    Setting(
        "tpa.scim.verify_tls", "tls", True, "true, false, or the path of a CA bundle file to trust."
    ),
    Setting("tpa.scim.timeout_seconds", "float", 30.0, "Read timeout per SCIM request.", minimum=1),
    Setting(
        "tpa.worker.threads", "int", 2, "Provisioning threads in the worker process.", minimum=1
    ),
    Setting(
        "tpa.worker.batch_size", "int", 10, "Requests claimed together by one thread.", minimum=1
    ),
    Setting(
        "tpa.poller.interval_seconds",
        "float",
        60.0,
        "How often the worker looks in ServiceNow for requests the real-time call missed (and"
        " access that expired).",
        minimum=1,
    ),
    Setting(
        "tpa.catalog.sync_interval_seconds",
        "float",
        3600.0,
        "How often the worker brings the catalog items in line with the applications; 0 only"
        " on `connector 3pa sync-catalog`.",
        minimum=0,
    ),
    Setting(
        "tpa.catalog.category",
        "str",
        "",
        "sys_id of the sc_category the applications' catalog items go into (empty: none).",
    ),
    Setting(
        "tpa.api.wait_seconds",
        "float",
        10.0,
        "How long POST /api/v1/3pa/requests/<sys_id> waits for the request to be applied before"
        " answering 202 (it is applied all the same).",
        minimum=0,
    ),
    Setting("tpa.password.min_length", "int", 12, "Shortest new password accepted.", minimum=8),
    Setting("tpa.invitation_days", "int", 14, "Days an invitation stays valid.", minimum=1),
)
