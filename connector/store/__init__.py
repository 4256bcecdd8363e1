"""The inbox, job queue, ledger and watermark; the only package that speaks SQL.

One interface, two backends: SQLite (a file; the embedded default) and PostgreSQL (shared by
several connector nodes). Every outbound event is committed (SQLite: WAL, synchronous=FULL;
PostgreSQL: a committed transaction) before the webhook answers 200. A session is appliance +
lsid, and has one row in ``jobs``; events only move that row, so duplicates collapse. A claim
takes ready jobs of one appliance in one transaction (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL:
``FOR UPDATE SKIP LOCKED``) so two workers never hold the same session. Every claim has its own
owner token (``node:pid:claim``), so two threads of one process never mistake each other's
claims. A claim's lease is renewed while its pass lives and lapses on every node when it dies;
a lapsed lease is taken over only after ``settle`` seconds more, because a write its holder
started may still be running on the instance. A killed worker's sessions on the same node are
released as soon as its process is seen gone (a shortcut; other nodes wait for the lease).

Job states::

    pending ──claim──▶ running ──▶ done
       ▲                  │  └───▶ waiting   (still running; end event or poller re-queues)
       └──retryable error─┘  ├───▶ dead      (permanent error; `connector dead-letters --retry`)
       ▲                     └───▶ unmatched (no proof it belongs to its ticket; never written)
       └──── `connector unmatched --attach LSID TICKET` (records the admin's ticket) ─┘

Schema versions (``schema``): 1, the first; 2 adds ``jobs.ticket`` and an index for pruning;
3 keys events, jobs and the ledger by appliance + lsid and adds leased ``locks``; 4 adds
``jobs.queue`` (one job machinery, several queues: 'sessions' and 3PA's '3pa').

``generation`` counts triggers: an event arriving while a job runs bumps it, and the finishing
worker sees the change and re-queues instead of marking the job done, so no trigger is lost.

Rooms: ``database`` (locations, transactions, migrating), ``sqlite`` and ``postgres`` (the
engines), ``schema`` (tables and migrations per backend), ``inbox`` (events), ``jobs`` (queueing,
claims, settling), ``views`` (ledger, listings, counts, meta), ``locks`` (leased rows),
``copying`` (moving an installation between stores), ``models`` (what they hand out). ``Store``
is all of them on one database.
"""

from __future__ import annotations

from connector.store.database import Location, parse_location
from connector.store.inbox import Inbox
from connector.store.locks import Locks
from connector.store.models import (
    SESSIONS,
    TRIGGERS,
    Job,
    JobRow,
    claim_token,
    node_name,
    owner_id,
)
from connector.store.schema import SCHEMA_VERSION
from connector.store.views import LAST_POLL, WATERMARK, Views, appliance_key

__all__ = [
    "LAST_POLL",
    "SCHEMA_VERSION",
    "SESSIONS",
    "TRIGGERS",
    "WATERMARK",
    "Job",
    "JobRow",
    "Location",
    "Store",
    "appliance_key",
    "claim_token",
    "node_name",
    "owner_id",
    "parse_location",
]


class Store(Inbox, Views, Locks):
    """The connector's durable state in one database (a SQLite file or PostgreSQL)."""
