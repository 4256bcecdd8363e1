"""Counters and summaries through prometheus-client, counted across every process of a box.

The webhook runs in several gunicorn workers and the importer in a worker process of its own;
``/metrics`` must show their sum on every scrape. prometheus-client's multiprocess mode does that:
each process writes its values to files in one directory (``use_directory``), and a scrape adds
them up. Without a directory (tests, the demo) values live in the process, as usual.

Queue gauges (jobs per state, the oldest pending session) are read from the store at scrape time,
so every process reports the same. What happens to sessions is labelled with the appliance they
belong to (``appliance``: its configured id; empty for the one unnamed appliance).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Summary, generate_latest, multiprocess
from prometheus_client import values as prometheus_values
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

COUNTERS = {
    "connector_events_received_total": "Outbound events accepted by the webhook.",
    "connector_events_duplicate_total": "Outbound events absorbed as redeliveries.",
    "connector_events_rejected_total": "Outbound events refused (auth, network or validation).",
    "connector_sessions_imported_total": "Sessions written to ServiceNow.",
    "connector_sessions_skipped_total": "Sessions without a ticket, not written.",
    "connector_sessions_waiting_total": "Import attempts that found the session still running.",
    "connector_sessions_dead_total": "Sessions moved to the dead letters.",
    "connector_sessions_unmatched_total": "Sessions kept off their ticket (no proof they belong).",
    "connector_events_pruned_total": "Stored outbound events deleted after the retention period.",
    "connector_import_retries_total": "Import attempts that failed and were rescheduled.",
    "connector_claims_lost_total": "Sessions a pass stopped writing because its claim lapsed.",
    "connector_poller_runs_total": "Missed-session poller runs.",
    "connector_poller_queued_total": "Sessions the poller found unimported and queued.",
    # Third Party Access (connector/tpa)
    "connector_3pa_requests_provisioned_total": "3PA requests applied: user and groups in place.",
    "connector_3pa_requests_preapproved_total": "3PA requests approved by the domain rules.",
    "connector_3pa_requests_awaiting_approval_total": "3PA requests handed to their approvers.",
    "connector_3pa_requests_rejected_total": "3PA requests refused by the rules.",
    "connector_3pa_requests_failed_total": "3PA requests that cannot be applied (error on it).",
    "connector_3pa_access_removed_total": "3PA accesses removed or expired.",
    "connector_3pa_profile_changes_total": "3PA profile changes applied to the directory.",
    "connector_3pa_password_changes_total": "3PA password changes applied to the directory.",
    "connector_3pa_password_failures_total": "3PA password changes the directory refused.",
    "connector_3pa_retries_total": "3PA jobs that failed and were rescheduled.",
    "connector_3pa_dead_total": "3PA jobs moved to the dead letters.",
    "connector_3pa_claims_lost_total": "3PA jobs a worker stopped because its claim lapsed.",
    "connector_3pa_poller_queued_total": "3PA requests the poller found and queued.",
    "connector_3pa_catalog_changes_total": "Catalog items and variables the sync wrote.",
}
# Counted per appliance (labelled ``appliance``); the others count the whole connector.
PER_APPLIANCE = frozenset(
    {
        "connector_events_received_total",
        "connector_events_duplicate_total",
        "connector_sessions_imported_total",
        "connector_sessions_skipped_total",
        "connector_sessions_waiting_total",
        "connector_sessions_dead_total",
        "connector_sessions_unmatched_total",
        "connector_import_retries_total",
        "connector_claims_lost_total",
        "connector_poller_runs_total",
        "connector_poller_queued_total",
        "connector_import_batch_seconds",
        "connector_event_to_import_seconds",
    }
)
SUMMARIES = {
    "connector_import_batch_seconds": "Time to import one group of sessions.",
    "connector_event_to_import_seconds": "Time from queueing a session to its last write.",
    "connector_3pa_approval_to_membership_seconds": "Time from approval to group membership.",
}

# Gauges computed at scrape time: name → (help, {labels: value}).
Gauges = dict[str, tuple[str, dict[tuple[tuple[str, str], ...], float]]]


def _labels(name: str) -> tuple[str, ...]:
    return ("appliance",) if name in PER_APPLIANCE else ()


def use_directory(path: str | os.PathLike[str], *, wipe: bool = False) -> Path:
    """Count in multiprocess mode under ``path`` (before any metric of this process exists).

    ``wipe`` empties it first: right for ``connector run``, which starts every process of the
    box; a process started on its own keeps what the others wrote.
    """
    folder = Path(path)
    if wipe and folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    os.environ[MULTIPROC_ENV] = str(folder)
    # prometheus-client picks its value storage when it is imported; pick again now that the
    # directory is known (get_value_class is how the library itself decides).
    prometheus_values.ValueClass = prometheus_values.get_value_class()
    return folder


def multiprocess_directory() -> str | None:
    """Return the multiprocess directory in use, if any."""
    return os.environ.get(MULTIPROC_ENV) or None


class _GaugeCollector(Collector):
    """Yield the scrape-time gauges."""

    def __init__(self, gauges: Gauges) -> None:
        self.gauges = gauges

    def collect(self) -> Iterator[Metric]:
        """Yield one gauge family per name."""
        for name, (help_text, samples) in sorted(self.gauges.items()):
            labels = sorted({k for key in samples for k, _ in key})
            family = GaugeMetricFamily(name, help_text, labels=labels)
            for key, value in sorted(samples.items()):
                family.add_metric([v for _, v in key], value)
            yield family


class Metrics:
    """The connector's counters and summaries, kept by prometheus-client."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._counters = {
            name: Counter(name.removesuffix("_total"), text, _labels(name), registry=self.registry)
            for name, text in COUNTERS.items()
        }
        self._summaries = {
            name: Summary(name, text, _labels(name), registry=self.registry)
            for name, text in SUMMARIES.items()
        }

    def inc(self, name: str, value: float = 1.0, *, appliance: str = "") -> None:
        """Add to a counter (of ``appliance``, when it is counted per appliance)."""
        counter = self._counters[name]
        (counter.labels(appliance=appliance) if name in PER_APPLIANCE else counter).inc(value)

    def observe(self, name: str, value: float, *, appliance: str = "") -> None:
        """Record one observation of a summary."""
        summary = self._summaries[name]
        (summary.labels(appliance=appliance) if name in PER_APPLIANCE else summary).observe(value)

    def value(self, name: str, *, appliance: str | None = None) -> float:
        """Read a counter as this process counted it (summed over appliances unless one given)."""
        total = 0.0
        for metric in self.registry.collect():
            for sample in metric.samples:
                if sample.name != name:
                    continue
                if appliance is None or sample.labels.get("appliance") == appliance:
                    total += sample.value
        return total

    def render(self, gauges: Gauges) -> bytes:
        """Render every process's counters and summaries plus the given gauges, as text."""
        directory = multiprocess_directory()
        if directory is None:
            registry = self.registry
            extra = CollectorRegistry()
            extra.register(_GaugeCollector(gauges))
            return generate_latest(registry) + generate_latest(extra)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=directory)
        registry.register(_GaugeCollector(gauges))
        return generate_latest(registry)
