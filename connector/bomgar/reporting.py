"""The Reporting API (``/api/reporting``): SupportSession, the listing, exit surveys.

There is no pagination: sessions are selected by ``lsids`` (chunked) or by a time window, and a
window's SupportSession report is streamed so memory stays flat however many sessions it holds.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence

from connector.bomgar import reports
from connector.bomgar.models import SessionSummary, SupportSession, Survey
from connector.bomgar.transport import RawReader, Transport
from connector.errors import DataError, RemoteError

log = logging.getLogger("connector.bomgar.client")

LSIDS_PER_REQUEST = 100


class ReportingApi(Transport):
    """Reports: session records by id or window, the listing, exit surveys."""

    def support_sessions(self, lsids: Sequence[str]) -> list[SupportSession]:
        """Return the SupportSession records of the named sessions (chunked, lsids=a,b,c)."""
        ids = [self._check_lsid(lsid) for lsid in dict.fromkeys(lsids)]
        sessions: list[SupportSession] = []
        for start in range(0, len(ids), LSIDS_PER_REQUEST):
            chunk = ids[start : start + LSIDS_PER_REQUEST]
            sessions.extend(
                self._report(
                    "SupportSession",
                    lambda body: reports.parse_support_sessions(
                        body, max_bytes=self.max_report_bytes
                    ),
                    {"lsids": ",".join(chunk)},
                )
            )
        return sessions

    def support_session(self, lsid: str) -> SupportSession | None:
        """Return one session's record, or None when the report does not hold it."""
        for session in self.support_sessions([lsid]):
            if session.lsid == lsid:
                return session
        return None

    @staticmethod
    def _window(since: int, until: int | None) -> tuple[int, int]:
        if isinstance(since, bool) or not isinstance(since, int) or since < 0:
            raise DataError(f"report window: expected epoch seconds for since, got {since!r}")
        if until is None:
            return since, 0  # duration=0 means "up to now"
        if isinstance(until, bool) or not isinstance(until, int) or until <= since:
            raise DataError(f"report window: expected until after since ({since}), got {until!r}")
        return since, until - since

    def iter_support_sessions_ended(
        self, since: int, until: int | None = None
    ) -> Iterator[SupportSession]:
        """Stream the sessions that ended in [since, until) (until None = up to now)."""
        start, duration = self._window(since, until)
        params = {"generate_report": "SupportSession", "end_time": start, "duration": duration}
        attempt = 0
        while True:
            attempt += 1
            yielded = 0
            try:
                resp, body = self._request(
                    "GET", self.reporting_path, params=params, read_body=False
                )
                try:
                    self._raise_for_status(resp, body)
                    if body is not None:
                        # A JSON or already-read body on a 2xx: parse it whole.
                        sessions: Iterator[SupportSession] = iter(
                            reports.parse_support_sessions(body, max_bytes=self.max_report_bytes)
                        )
                    else:
                        resp.raw.decode_content = True
                        sessions = reports.iter_support_sessions(
                            RawReader(resp.raw), self.max_report_bytes
                        )
                    for session in sessions:
                        yielded += 1
                        yield session
                finally:
                    resp.close()
                return
            except RemoteError as exc:
                # Once sessions went out, a retry would repeat them; let the caller resume.
                if yielded or exc.permanent or attempt >= self.retry.attempts:
                    raise
                wait = self.retry.delay(attempt, exc)
                log.warning("retrying bomgar SupportSession window after %s", exc)
                self.retry.sleep(wait)

    def session_listing(
        self, since: int, until: int | None = None, *, by: str = "start"
    ) -> list[SessionSummary]:
        """Return SupportSessionListing entries for a window by start (or end) time."""
        if by not in ("start", "end"):
            raise DataError(f"session_listing: expected by='start' or 'end', got {by!r}")
        start, duration = self._window(since, until)
        return self._report(
            "SupportSessionListing",
            lambda body: reports.parse_session_listing(body, max_bytes=self.max_report_bytes),
            {f"{by}_time": start, "duration": duration},
        )

    def exit_surveys(self, kind: str, lsids: Sequence[str]) -> list[Survey]:
        """Return the customer or representative exit surveys of the named sessions."""
        kind = reports.survey_kind(kind)
        ids = [self._check_lsid(lsid) for lsid in dict.fromkeys(lsids)]
        name = "SupportCustExitSurvey" if kind == "customer" else "SupportRepExitSurvey"
        surveys: list[Survey] = []
        for start in range(0, len(ids), LSIDS_PER_REQUEST):
            chunk = ids[start : start + LSIDS_PER_REQUEST]
            surveys.extend(
                self._report(
                    name,
                    lambda body: reports.parse_exit_surveys(
                        body, kind, max_bytes=self.max_report_bytes
                    ),
                    {"lsids": ",".join(chunk), "report_type": "rep"},
                )
            )
        return surveys
