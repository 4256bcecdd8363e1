"""Third Party Access (3PA): approved requests become directory accounts and group memberships.

ServiceNow holds the applications, access requests, profile changes and invitations (tables
``u_3pa_*`` in the update set); this package is the middleware that applies them::

    ServiceNow ──POST /api/v1/3pa/requests/<sys_id>──▶ web/tpa.py ──▶ store (queue '3pa', durable)
                                                                     │
    poller.py (APScheduler, in the worker) ── finds what the call missed ┘
                                                                     ▼
    worker.py claims ``3pa:<sys_id>`` ──▶ provision.py: read the request (records.py), decide
        (policy.py: pre-approval, pure), validate everything, then write, each step checked
        before it is written: directory.py (LDAP) user and groups, scim.py (SAP Cloud Identity
        Services) user and groups, and the result back onto the request (state, work note)
    ServiceNow ──POST /api/v1/3pa/password──▶ web/tpa.py ──▶ directory.py (Password Modify), in the
        call itself: a password never reaches the store, a job, a log line or ServiceNow
    catalog.py: one catalog item per application, its questions as variables (Table API)
    reconcile.py: approved access against actual membership; cli/tpa.py: ``connector 3pa …``

Attributes come from YAML mappings (mapping.py over the session mappings' sandboxed Jinja2),
``mappings/3pa/openldap.yaml`` or ``mappings/3pa/active_directory.yaml``.
"""

QUEUE = "3pa"  # the store's job queue for 3PA work (jobs.queue)


def request_key(sys_id: str) -> str:
    """Return the job key of an access request."""
    return f"3pa:{sys_id}"


def profile_key(sys_id: str) -> str:
    """Return the job key of a profile change."""
    return f"3pa:profile:{sys_id}"
