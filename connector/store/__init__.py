"""SQLite inbox, job queue, ledger and watermark; the only package that speaks SQL.

Every outbound event is committed (WAL, synchronous=FULL) before the webhook answers 200.
Each session has one row in ``jobs``; events only move that row, so duplicates collapse.
A job is claimed with a conditional UPDATE inside ``BEGIN IMMEDIATE`` so two workers never
hold the same session. Every claim has its own owner token (``host:pid:claim``), so two threads
of one process never mistake each other's claims, and a killed worker's sessions are released as
soon as its process is seen gone instead of waiting for the lease to run out. A claim's lease is
renewed while its pass lives; a lapsed lease is taken over only after ``settle`` seconds more,
because a write its holder started may still be running on the instance.

Job states::

    pending ──claim──▶ running ──▶ done
       ▲                  │  └───▶ waiting   (still running; end event or poller re-queues)
       └──retryable error─┘  ├───▶ dead      (permanent error; `connector dead-letters --retry`)
       ▲                     └───▶ unmatched (no proof it belongs to its ticket; never written)
       └──── `connector unmatched --attach LSID TICKET` (records the admin's ticket) ─┘

Schema versions: 1, the first; 2 adds ``jobs.ticket`` (the ticket an administrator attached an
unmatched session to) and an index on ``events.received_at`` for pruning old events.

``generation`` counts triggers: an event arriving while a job runs bumps it, and the finishing
worker sees the change and re-queues instead of marking the job done, so no trigger is lost.

Rooms: ``database`` (the file, connections, transactions), ``schema`` (tables and migrations),
``inbox`` (events), ``jobs`` (queueing, claims, settling), ``views`` (ledger, listings, counts,
meta), ``models`` (what they hand out). ``Store`` is all of them on one file.
"""

from __future__ import annotations

from connector.store.inbox import Inbox
from connector.store.models import TRIGGERS, Job, JobRow, claim_token, owner_id
from connector.store.schema import SCHEMA_VERSION
from connector.store.views import Views

__all__ = [
    "SCHEMA_VERSION",
    "TRIGGERS",
    "Job",
    "JobRow",
    "Store",
    "claim_token",
    "owner_id",
]


class Store(Inbox, Views):
    """The connector's durable state in one SQLite file."""
