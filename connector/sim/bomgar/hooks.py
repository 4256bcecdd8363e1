"""Hooks around every appliance request: inject faults before it, and after it answers."""

from __future__ import annotations

import random
import time

from flask import Flask, Response, g, request

from connector.sim.bomgar.web import state
from connector.sim.faults import Decision, drop_connection


def install_hooks(app: Flask) -> None:
    """Apply faults before appliance requests and malformed-XML faults after them."""
    rng = random.Random()

    @app.before_request
    def _faults() -> Response | None:
        if request.path.startswith("/_sim/"):
            return None
        st = state()
        decision = st.faults.decide()
        if decision.after:
            g.after_fault = decision  # applied to the answer once the request has taken effect
            return None
        if decision.action != "pass":
            st.stats.fault(decision.action, "before")
        return _fault_answer(decision)

    @app.after_request
    def _malformed(response: Response) -> Response:
        st = state()
        fault = g.pop("after_fault", None)
        if fault is not None:
            st.stats.fault(fault.action, "after")
            if fault.action == "timeout":
                time.sleep(fault.hold_seconds)
            else:
                return _fault_answer(fault) or response
        if (
            st.malformed_rate > 0
            and not request.path.startswith("/_sim/")
            and response.mimetype == "text/xml"
            and rng.random() < st.malformed_rate
        ):
            body = response.get_data()
            # Cut mid-document: an unclosed root, as a truncated or corrupted reply would be.
            st.stats.fault("malformed", "after")
            response.set_data(body[: max(1, len(body) // 2)] + b"<")
        return response


def _fault_answer(decision: Decision) -> Response | None:
    """Render an injected drop or error as the appliance's web server would (an HTML page)."""
    if decision.action == "drop":
        drop_connection(request)
        return Response("", status=500)
    if decision.action == "error":
        return Response(
            f"<html><body><h1>{decision.status} Error</h1></body></html>",
            status=decision.status,
            mimetype="text/html",
        )
    return None
