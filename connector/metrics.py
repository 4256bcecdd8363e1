"""Counters and summaries exposed in the Prometheus text format."""

from __future__ import annotations

import threading
from collections import defaultdict

HELP = {
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
    "connector_import_batch_seconds": "Time to import one group of sessions.",
    "connector_event_to_import_seconds": "Time from queueing a session to its last write.",
}


class Metrics:
    """A tiny thread-safe registry of counters and summaries."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counters: dict[str, float] = defaultdict(float)
        self._sums: dict[str, tuple[int, float]] = {}

    def inc(self, name: str, value: float = 1.0) -> None:
        """Add to a counter."""
        with self._lock:
            self._counters[name] += value

    def observe(self, name: str, value: float) -> None:
        """Record one observation of a summary."""
        with self._lock:
            count, total = self._sums.get(name, (0, 0.0))
            self._sums[name] = (count + 1, total + value)

    def value(self, name: str) -> float:
        """Read a counter."""
        with self._lock:
            return self._counters.get(name, 0.0)

    def render(
        self, gauges: dict[str, tuple[str, dict[tuple[tuple[str, str], ...], float]]]
    ) -> str:
        """Render counters, summaries and the given labelled gauges as Prometheus text."""
        lines: list[str] = []
        with self._lock:
            counters = dict(self._counters)
            sums = dict(self._sums)
        for name in sorted(set(counters) | {n for n in HELP if n.endswith("_total")}):
            lines += [f"# HELP {name} {HELP.get(name, name)}", f"# TYPE {name} counter"]
            lines.append(f"{name} {counters.get(name, 0.0):g}")
        for name, (count, total) in sorted(sums.items()):
            lines += [f"# HELP {name} {HELP.get(name, name)}", f"# TYPE {name} summary"]
            lines += [f"{name}_count {count}", f"{name}_sum {total:.6f}"]
        for name, (help_text, samples) in sorted(gauges.items()):
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
            for labels, value in sorted(samples.items()):
                label_text = ",".join(f'{k}="{_escape(v)}"' for k, v in labels)
                lines.append(
                    f"{name}{{{label_text}}} {value:g}" if label_text else f"{name} {value:g}"
                )
        return "\n".join(lines) + "\n"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
